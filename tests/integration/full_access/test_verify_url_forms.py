"""Issue 10 items 11-13 against a real MariaDB: the old-origin scan finds every spelling of an
old origin (its own variant list, not the rewriter's), the rewriter leaves none of them, and
what survives on purpose is listed as expected with the reason, never passed silently.

Host names here are names (upper-case hosts and IDN hosts cannot be seeded into the
sandbox source, whose host is an IP): a scratch database with a source and a target table
pair, filled with the issue's inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.verify.verifier import verify_full_access
from wpmigrate.rewrite.url_rewrite import UrlRewriter

pytestmark = pytest.mark.sandbox

OLD = ["http://old-host.example", "https://bücher.example"]
NEW = "https://new.example"
SP, TP = "s_", "t_"

# meta_key -> value on the source; every one holds an old origin in a form of issue 10.
FORMS: dict[str, bytes] = {
    "plain": b"<a href='http://old-host.example/about/'>About</a>",
    "json": b'{"u":"http:\\/\\/old-host.example\\/x"}',
    "json_twice": b'{"inner":"{\\"u\\":\\"http:\\\\\\/\\\\\\/old-host.example\\\\\\/x\\"}"}',
    "u002F": b'{"url":"http:\\u002F\\u002Fold-host.example\\u002Fcontact\\u002F"}',
    "u002f": b'{"url":"http:\\u002f\\u002fold-host.example\\u002f"}',
    "u002F_relative": b'{"img":"\\u002F\\u002Fold-host.example\\u002Fa.png"}',
    "urlencoded": b"share=http%3A%2F%2Fold-host.example%2Fa+b%2F",
    "rawurlencoded": b"raw=http%3A%2F%2Fold-host.example%2Fa%20b~%2F",
    "lower_hex": b"lower=http%3a%2f%2fold-host.example%2f",
    "upper_host": b"<a href='HTTP://OLD-HOST.EXAMPLE/about/'>ABOUT</a>",
    "mixed_case_host": b"see Http://Old-Host.Example/x",
    "upper_host_json": b'{"u":"HTTPS:\\/\\/WWW.OLD-HOST.EXAMPLE\\/"}',
    "upper_hex_upper_host": b"to=HTTP%3A%2F%2FOLD-HOST.EXAMPLE%2F",
    "idn_unicode": "<img src='https://bücher.example/a.png'>".encode(),
    "idn_punycode": b"<img src='https://xn--bcher-kva.example/a.png'>",
    "idn_upper_punycode": b"//XN--BCHER-KVA.EXAMPLE/b.png",
    "broken_serialized": b's:2:"http://old-host.example";',
    "serialized": b'a:1:{s:3:"url";s:28:"http://old-host.example/page";}',
}
KEY_ONLY = b'a:1:{s:30:"http://old-host.example/about/";s:5:"About";}'


def _root(sb: Any, database: str) -> Any:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user="root", password="", database=database,
                            unix_socket=sb.db.socket))


def _exec(conn: Any, sql: str, args: tuple | list = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        rows = list(cur.fetchall())
    conn.commit()
    return rows


@pytest.fixture
def scratch(sandbox: Any) -> Iterator[Any]:
    """A database with source (``s_``) and target (``t_``) postmeta and options tables."""
    name = f"wpm_forms_{uuid.uuid4().hex[:8]}"
    admin = _root(sandbox, sandbox.db.source_db)
    _exec(admin, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci")
    conn = _root(sandbox, name)
    try:
        for prefix in (SP, TP):
            _exec(conn, f"CREATE TABLE {prefix}postmeta (meta_id BIGINT UNSIGNED PRIMARY KEY, "
                        "post_id BIGINT UNSIGNED NOT NULL, meta_key VARCHAR(255), meta_value LONGTEXT)")
            _exec(conn, f"CREATE TABLE {prefix}options (option_id BIGINT UNSIGNED PRIMARY KEY, "
                        "option_name VARCHAR(191) UNIQUE, option_value LONGTEXT, autoload VARCHAR(20))")
        yield conn
    finally:
        conn.close()
        _exec(admin, f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _fill(conn: Any, prefix: str, meta: dict[str, bytes], options: dict[str, bytes]) -> dict[str, int]:
    ids = {}
    for i, (key, value) in enumerate(meta.items(), start=1):
        _exec(conn, f"INSERT INTO {prefix}postmeta VALUES (%s, 1, %s, %s)", (i, key, value))
        ids[key] = i
    for i, (name, value) in enumerate(options.items(), start=1):
        _exec(conn, f"INSERT INTO {prefix}options VALUES (%s, %s, %s, 'no')", (i, name, value))
    return ids


def _verify(conn: Any, **kw: Any) -> dict[str, Any]:
    return verify_full_access(
        source_conn=conn, target_conn=conn, source_prefix=SP, target_prefix=TP, old_origins=OLD,
        target_url=NEW, files_manifest=None, target_wp_content=None, checks=["old_origins", "serialized"],
        max_problems=100, hits_per_column=100, **kw)


def test_scan_finds_every_form_left_on_the_target(scratch: Any) -> None:
    """Nothing rewritten: every form is a loss, found by the scan, and the report fails."""
    _fill(scratch, SP, FORMS, {"url_keys": KEY_ONLY})
    ids = _fill(scratch, TP, FORMS, {"url_keys": KEY_ONLY})
    report = _verify(scratch)
    section = report["sections"]["old_origins"]
    assert report["ok"] is False and section["status"] == "fail"
    found = {p["pk"]["meta_id"] for p in section["problems"] if p["table"] == TP + "postmeta"}
    missed = sorted(key for key, meta_id in ids.items() if str(meta_id) not in found)
    assert missed == []
    assert section["rows_with_old_origin"] == len(FORMS) + 1
    # The key-only option is listed as expected, with the reason; not as a loss.
    assert section["rows_expected"] == 1
    (expected,) = section["warnings"]
    assert expected["table"] == TP + "options" and expected["expected"] is True
    assert "array keys" in expected["reason"]
    assert not any(p["table"] == TP + "options" for p in section["problems"])
    # The broken value is broken on the source too: expected, not a loss.
    serialized = report["sections"]["serialized"]
    assert serialized["problem_count"] == 0
    assert [w["pk"] for w in serialized["warnings"]] == [{"meta_id": ids["broken_serialized"]}]
    assert "already broken on the source" in serialized["warnings"][0]["reason"]


def test_rewritten_target_has_no_old_origin_left(scratch: Any) -> None:
    """Through the rewriter as the import runs it: the scan finds nothing but the key-only
    row (keys are not rewritten by default), which the report names as expected."""
    rw = UrlRewriter.for_migration(OLD, NEW)
    _fill(scratch, SP, FORMS, {"url_keys": KEY_ONLY})
    rewritten = {key: rw.rewrite(value, where=f"postmeta:{key}") for key, value in FORMS.items()}
    assert all(rewritten[key] != FORMS[key] for key in FORMS), [k for k in FORMS if rewritten[k] == FORMS[k]]
    ids = _fill(scratch, TP, rewritten, {"url_keys": rw.rewrite(KEY_ONLY, where="options:url_keys")})
    assert (rw.stats.unparseable, rw.stats.unparseable_rewritten, rw.stats.serialized_keys) == (1, 1, 1)
    report = _verify(scratch)
    section = report["sections"]["old_origins"]
    assert section["problem_count"] == 0, section["problems"]
    assert section["rows_with_old_origin"] == section["rows_expected"] == 1
    assert section["status"] == "warn" and report["ok"] is True  # never "pass" with an old URL left
    serialized = report["sections"]["serialized"]
    assert serialized["problem_count"] == 0
    assert [w["pk"] for w in serialized["warnings"]] == [{"meta_id": ids["broken_serialized"]}]

    # With keys rewritten (options.rewrite_serialized_keys), nothing is left at all.
    keys = UrlRewriter.for_migration(OLD, NEW, rewrite_keys=True)
    _exec(scratch, f"UPDATE {TP}options SET option_value = %s WHERE option_name = 'url_keys'",
          (keys.rewrite(KEY_ONLY),))
    section = _verify(scratch)["sections"]["old_origins"]
    assert section["status"] == "pass" and section["rows_with_old_origin"] == 0


def test_broken_on_the_target_only_is_a_loss(scratch: Any) -> None:
    _fill(scratch, SP, {"x": b'a:1:{i:0;s:4:"good";}'}, {})
    _fill(scratch, TP, {"x": b'a:1:{i:0;s:9:"good";}'}, {})
    serialized = _verify(scratch)["sections"]["serialized"]
    assert serialized["status"] == "fail" and serialized["problem_count"] == 1


# Old URLs spelled with HTML references or percent-encoding, planted on the target (the
# source holds the plain form). Each must be found: the report can never pass with one.
ESCAPED: dict[str, bytes] = {
    "hex_slash": b"<a href='https:&#x2F;&#x2F;old-host.example/p'>",
    "decimal_slash": b"<a href='http:&#47;&#47;old-host.example/p'>",
    "named_slash": b"u=https:&sol;&sol;old-host.example&sol;",
    "relative_decimal_slash": b"<img src='&#47;&#47;old-host.example/i.png'>",
    "decimal_host_letter": b"<a href='https://&#111;ld-host.example/'>",
    "decimal_dot": b"<a href='//old-host&#46;example/'>",
    "percent_host_letter": b"go=https://%6Fld-host.example/x",
    "hex_dot_upper": b"<a href='https://OLD-HOST&#X2E;EXAMPLE/'>",
    "in_serialized": b'a:1:{s:3:"url";s:34:"https://old-host&#x2e;example/page";}',
}


def test_scan_finds_escaped_spellings_left_on_the_target(scratch: Any) -> None:
    _fill(scratch, SP, {key: b"http://old-host.example/p" for key in ESCAPED}, {})
    ids = _fill(scratch, TP, ESCAPED, {})
    report = _verify(scratch)
    section = report["sections"]["old_origins"]
    assert report["ok"] is False and section["status"] == "fail"
    found = {p["pk"]["meta_id"]: p for p in section["problems"] if p["table"] == TP + "postmeta"}
    missed = sorted(key for key, meta_id in ids.items() if str(meta_id) not in found)
    assert missed == []
    assert section["rows_with_old_origin"] == len(ESCAPED) and section["rows_expected"] == 0
    assert found[str(ids["decimal_dot"])]["variant"].startswith("an escaped spelling")
    assert found[str(ids["hex_slash"])]["variant"] == "https:&#x2f;&#x2f;old-host.example"


def test_rewriter_rewrites_slash_references_and_reports_escaped_hosts(scratch: Any) -> None:
    """Through the rewriter: slash references are rewritten (nothing left to find), escaped
    host characters are left, counted, and found by the scan."""
    rw = UrlRewriter.for_migration(OLD, NEW)
    _fill(scratch, SP, {key: b"http://old-host.example/p" for key in ESCAPED}, {})
    rewritten = {key: rw.rewrite(value, where=f"postmeta:{key}") for key, value in ESCAPED.items()}
    ids = _fill(scratch, TP, rewritten, {})
    left = {"decimal_host_letter", "decimal_dot", "percent_host_letter", "hex_dot_upper", "in_serialized"}
    assert {key for key in ESCAPED if rewritten[key] == ESCAPED[key]} == left
    assert rw.stats.escaped_urls == len(left)
    section = _verify(scratch)["sections"]["old_origins"]
    found = {p["pk"]["meta_id"] for p in section["problems"]}
    assert found == {str(ids[key]) for key in left} and section["status"] == "fail"
