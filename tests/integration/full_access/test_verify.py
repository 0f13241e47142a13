"""Verification of a Mode A migration.

The report's HTML escaping runs anywhere (the pure parts of the checks are unit-tested
in tests/unit/full_access/verify/). The ``sandbox`` tests verify the real source WordPress against itself and
against a copy (different table prefix) that is then damaged on purpose: each kind of
damage must be reported. The source is only ever read (read-only DB user).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wpmigrate.core.report_html import render_report_html
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.stats import site_stats
from wpmigrate.full_access.verify.verifier import verify_full_access

OLD_ORIGIN = "https://old-site.example"

# ---------------------------------------------------------------- report HTML


def _fake_report(ok: bool = False) -> dict[str, Any]:
    evil = "<script>alert('x')</script>"
    return {
        "ok": ok, "generated_at": "2026-01-01T00:00:00+00:00", "duration_s": 1.0,
        "source": {"database": "src", "prefix": "wp_"},
        "target": {"database": "tgt", "prefix": "wp_", "url": "http://t/\"><img src=x onerror=1>"},
        "old_origins": [evil],
        "losses": [{"section": "http", "title": evil, "reason": "title differs"}], "losses_total": 1,
        "sections": {
            "http": {"title": "HTTP " + evil, "status": "fail", "ok": False, "checked": 1, "problem_count": 1,
                     "problems": [{"title": evil, "url": "javascript:alert(1)", "nested": {"k": evil}}],
                     "warnings": [], "warning_count": 0, "notes": [evil]},
            "row_counts": {"title": "Rows", "status": "pass", "ok": True, "checked": 2, "problem_count": 0,
                           "problems": [], "warnings": [], "notes": [],
                           "tables": [{"table": evil, "source": 1, "target": 1, "status": "equal"}]},
        },
    }


def test_report_html_escapes_untrusted_values() -> None:
    page = render_report_html(_fake_report())
    assert "<script" not in page.lower()
    assert "onerror=1>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert "FAILED" in page and "Content-Security-Policy" in page
    assert render_report_html(_fake_report(ok=True)).count("PASSED") >= 1


# ---------------------------------------------------------------- against the sandbox

def _root(sb: Any, database: str) -> Any:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user="root", password="", database=database,
                            unix_socket=sb.db.socket))


def _reader(sb: Any) -> Any:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user=sb.db.reader_user,
                            password=sb.db.reader_password, database=sb.db.source_db))


def _exec(conn: Any, sql: str, args: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        rows = list(cur.fetchall())
    conn.commit()
    return rows


def _manifest(root: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(p for p in (root / "uploads").rglob("*") if p.is_file()):
        out.append({"path": path.relative_to(root).as_posix(), "size": path.stat().st_size,
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return out


@pytest.mark.sandbox
def test_source_verified_against_itself(sandbox: Any) -> None:
    wp_content = Path(sandbox.source.wp_content)
    manifest = _manifest(wp_content)
    assert manifest
    report = verify_full_access(
        source_conn=_reader(sandbox), target_conn=_reader(sandbox),
        source_prefix=sandbox.source.table_prefix, target_prefix=sandbox.source.table_prefix,
        old_origins=[OLD_ORIGIN], target_url=sandbox.source.url,
        files_manifest=iter(manifest), target_wp_content=wp_content,
    )
    assert report["ok"], report["losses"]
    assert report["losses"] == [] and report["losses_total"] == 0
    json.dumps(report)  # JSON-able as is (XCom, artifact)
    # The seed's deliberately broken serialized values (issue 10) are broken on the source
    # too: listed as expected, so that section warns; everything else passes.
    assert report["summary"] == {name: "warn" if name == "serialized" else "pass"
                                 for name in report["summary"]}
    sections = report["sections"]
    broken = sandbox.facts["url_forms"]["broken_serialized"]
    expected = {w.get("option_name") or w.get("meta_key") for w in sections["serialized"]["warnings"]}
    assert expected == {*broken["options"], *broken["postmeta"]}
    assert all(w["expected"] and "already broken on the source" in w["reason"]
               for w in sections["serialized"]["warnings"])
    assert sections["files"]["checked"] == len(manifest)
    assert sections["http"]["checked"] >= 5  # every published post and page of the seed
    if sandbox.source_rest_enabled:
        assert sections["http"]["resolved_via_rest"] == sections["http"]["checked"]
    assert sections["serialized"]["oracle"].startswith("php unserialize")
    assert sections["serialized"]["checked"] > 100
    assert any("guid" in note for note in sections["old_origins"]["notes"])
    page = render_report_html(report)
    assert "PASSED" in page


@pytest.mark.sandbox
def test_http_check_detects_posts_missing_on_another_site(sandbox: Any) -> None:
    # The platform's fresh target has none of the source's posts.
    report = verify_full_access(
        source_conn=_reader(sandbox), target_conn=_reader(sandbox),
        source_prefix=sandbox.source.table_prefix, target_prefix=sandbox.source.table_prefix,
        old_origins=[], target_url=sandbox.target.url, files_manifest=None, target_wp_content=None,
        checks=["http"],
    )
    http = report["sections"]["http"]
    assert not report["ok"]
    assert report["summary"] == {"http": "fail"}
    failed = {p["id"]: p["reason"] for p in http["problems"]}
    facts = sandbox.facts
    for seeded in (facts["posts"]["showcase"], facts["posts"]["cafe"], facts["pages"]["about"]):
        assert failed[seeded] in ("HTTP 404", "title differs")
    # Both sites start with WordPress's default "Hello world!" (ID 1): that one matches.
    assert 1 not in failed


COPY_PREFIX = "wpcopy_"


@pytest.fixture(scope="module")
def damaged(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A copy of the source DB under another prefix and a copy of its uploads, verified
    once pristine and once after deliberate damage."""
    sp = sandbox.source.table_prefix
    copy_db = f"wpm_verify_{uuid.uuid4().hex[:8]}"
    admin = _root(sandbox, sandbox.db.source_db)
    _exec(admin, f"CREATE DATABASE `{copy_db}` CHARACTER SET utf8mb4")
    try:
        tables = [r[0].decode() for r in _exec(admin, "SHOW TABLES") if r[0].decode().startswith(sp)]
        for table in tables:
            new = COPY_PREFIX + table[len(sp):]
            _exec(admin, f"CREATE TABLE `{copy_db}`.`{new}` LIKE `{table}`")
            _exec(admin, f"INSERT INTO `{copy_db}`.`{new}` SELECT * FROM `{table}`")
        copy = _root(sandbox, copy_db)
        # What the importer's prefix mapping does.
        _exec(copy, f"UPDATE {COPY_PREFIX}usermeta SET meta_key = CONCAT(%s, SUBSTRING(meta_key, %s)) "
                    "WHERE LEFT(meta_key, %s) = %s", (COPY_PREFIX, len(sp) + 1, len(sp), sp))
        _exec(copy, f"UPDATE {COPY_PREFIX}options SET option_name = %s WHERE option_name = %s",
              (COPY_PREFIX + "user_roles", sp + "user_roles"))
        wp_content = tmp_path_factory.mktemp("target-wp-content")
        shutil.copytree(Path(sandbox.source.wp_content) / "uploads", wp_content / "uploads")
        manifest = _manifest(wp_content)

        def run(**kw: Any) -> dict[str, Any]:
            return verify_full_access(
                source_conn=_reader(sandbox), target_conn=_root(sandbox, copy_db),
                source_prefix=sp, target_prefix=COPY_PREFIX, old_origins=[OLD_ORIGIN],
                target_url=sandbox.source.url, files_manifest=iter(manifest), target_wp_content=wp_content,
                **kw,
            )

        pristine = run()

        # --- the damage
        facts = sandbox.facts
        lost_post = facts["posts"]["showcase"]
        _exec(copy, f"DELETE FROM {COPY_PREFIX}posts WHERE ID = %s", (lost_post,))
        _exec(copy, f"DELETE FROM {COPY_PREFIX}users WHERE user_login = 'subscriber_sam'")
        (value,) = _exec(copy, f"SELECT option_value FROM {COPY_PREFIX}options "
                               "WHERE option_name = 'sandbox_plugin_settings'")[0]
        m = re.search(rb"s:(\d+):", value)
        assert m
        broken = value[: m.start()] + b"s:%d:" % (int(m.group(1)) + 1) + value[m.end():]
        _exec(copy, f"UPDATE {COPY_PREFIX}options SET option_value = %s "
                    "WHERE option_name = 'sandbox_plugin_settings'", (broken,))
        _exec(copy, f"INSERT INTO {COPY_PREFIX}postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)",
              (facts["posts"]["cafe"], "_leftover_json",
               '{"img":"https:\\/\\/old-site.example\\/wp-content\\/uploads\\/a.jpg"}'))
        removed = manifest[0]["path"]
        (wp_content / removed).unlink()
        altered = manifest[-1]["path"]
        data = bytearray((wp_content / altered).read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, different bytes
        (wp_content / altered).write_bytes(bytes(data))

        t0_report = run()
        yield {"pristine": pristine, "report": t0_report, "lost_post": lost_post, "removed": removed,
               "altered": altered, "copy_db": copy_db}
    finally:
        _exec(admin, f"DROP DATABASE IF EXISTS `{copy_db}`")


@pytest.mark.sandbox
def test_pristine_copy_with_other_prefix_verifies(damaged: dict[str, Any]) -> None:
    report = damaged["pristine"]
    assert report["ok"], report["losses"]
    assert report["target"]["prefix"] == COPY_PREFIX


@pytest.mark.sandbox
def test_damage_fails_the_report(damaged: dict[str, Any]) -> None:
    report = damaged["report"]
    assert report["ok"] is False
    assert {loss["section"] for loss in report["losses"]} >= {
        "row_counts", "posts", "users", "files", "old_origins", "serialized",
    }
    page = render_report_html(report)
    assert "FAILED" in page and "sandbox_plugin_settings" in page


@pytest.mark.sandbox
def test_deleted_post_is_detected(damaged: dict[str, Any]) -> None:
    sections = damaged["report"]["sections"]
    rows = {p["table"]: p for p in sections["row_counts"]["problems"]}
    assert rows["posts"]["missing_rows"] == 1
    by_key = {p["type/status"]: p for p in sections["posts"]["problems"]}
    assert by_key["post/publish"]["missing"] == 1


@pytest.mark.sandbox
def test_deleted_user_is_detected(damaged: dict[str, Any]) -> None:
    problems = damaged["report"]["sections"]["users"]["problems"]
    assert any(p.get("login") == "subscriber_sam" for p in problems)


@pytest.mark.sandbox
def test_corrupt_serialized_length_is_detected(damaged: dict[str, Any]) -> None:
    section = damaged["report"]["sections"]["serialized"]
    assert section["problem_count"] == 1
    assert section["problems"][0]["option_name"] == "sandbox_plugin_settings"
    assert section["problems"][0]["table"] == COPY_PREFIX + "options"


@pytest.mark.sandbox
def test_old_url_in_postmeta_is_detected(damaged: dict[str, Any]) -> None:
    section = damaged["report"]["sections"]["old_origins"]
    assert section["rows_with_old_origin"] == 1
    hit = section["problems"][0]
    assert hit["table"] == COPY_PREFIX + "postmeta" and hit["column"] == "meta_value"
    assert hit["variant"] == "https:\\/\\/old-site.example"
    assert "meta_id" in hit["pk"]


@pytest.mark.sandbox
def test_removed_and_altered_files_are_detected(damaged: dict[str, Any]) -> None:
    problems = {p["path"]: p["reason"] for p in damaged["report"]["sections"]["files"]["problems"]}
    assert problems == {damaged["removed"]: "missing on target", damaged["altered"]: "sha256 differs"}


@pytest.mark.sandbox
def test_site_stats_of_the_source(sandbox: Any) -> None:
    conn = _reader(sandbox)
    stats = site_stats(conn, sandbox.source.table_prefix, sandbox.source.wp_content)
    assert set(stats) == {
        "pagesCount", "postsCount", "mediaCount", "usersCount", "pluginsCount", "totalSizeMb",
    }
    assert stats["usersCount"] == len(sandbox.facts["users"])
    assert stats["mediaCount"] == len(sandbox.facts["media"])
    rest = httpx.get(sandbox.source.url + "/", params={"rest_route": "/wp/v2/pages", "per_page": 100})
    if rest.status_code == 200:
        assert stats["pagesCount"] == int(rest.headers["x-wp-total"])
    assert stats["pluginsCount"] >= 1
    assert stats["totalSizeMb"] > 1


@pytest.mark.sandbox
def test_serialized_fallback_without_php(sandbox: Any, damaged: dict[str, Any]) -> None:
    report = verify_full_access(
        source_conn=_reader(sandbox), target_conn=_root(sandbox, damaged["copy_db"]),
        source_prefix=sandbox.source.table_prefix, target_prefix=COPY_PREFIX, old_origins=[],
        target_url=None, files_manifest=None, target_wp_content=None,
        checks=["serialized"], php_binary=None,
    )
    section = report["sections"]["serialized"]
    assert section["oracle"].startswith("python strict parser")
    assert any("python strict parser" in note for note in section["notes"])
    # The Python parser must agree with PHP on every value of the real site: one failure.
    assert [p["option_name"] for p in section["problems"]] == ["sandbox_plugin_settings"]
    assert section["checked"] == damaged["report"]["sections"]["serialized"]["checked"]
