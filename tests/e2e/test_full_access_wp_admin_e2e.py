"""Mode A over the ``wp_admin`` route, end to end through Airflow's REST API: the conf names
only a WordPress administrator's login. The run installs the companion plugin through
wp-admin, exports the database and wp-content through it from a tight host (php -S with
max_execution_time 5 s and memory_limit 64M, a 52 MiB file, a 5.5 MB option), removes it,
imports and verifies against the export (the route has no database connection).

The source is compared before and after: every table and every file under wp-content is
identical, except for what WordPress itself writes when an administrator logs in and a
plugin is uploaded, activated and removed, listed exactly in ``_source_changes``."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import wordpress_checks as wc
from tests.support.admin_source import UNCHANGED, snapshot, source_changes, source_db, warm_up
from wpmigrate.full_access.companion.package import PLUGIN_DIR, derive_secret
from wpsandbox import build
from wpsandbox import state as sandbox_state

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_full_access"


@pytest.fixture(scope="module")
def admin_migrated(admin_source, rest) -> dict[str, Any]:
    sb = admin_source
    build.reset_target(sb)
    warm_up(sb)
    before = snapshot(sb)
    run_id = str(uuid.uuid4())
    conf = sandbox_state.mode_a_admin_conf(sb, run_id)
    response = rest.trigger(DAG_ID, run_id, conf)
    assert response.status_code == 200, response.text
    run = rest.wait(DAG_ID, run_id, timeout=1500)
    return {"run": run, "run_id": run_id, "conf": conf, "before": before, "after": snapshot(sb)}


def test_conf_names_only_the_admin_login(admin_migrated) -> None:
    access = admin_migrated["conf"]["source_access"]
    assert access == {"route": "wp_admin", "wp_conn_id": sandbox_state.SOURCE_ADMIN_CONN_ID}


def test_run_succeeds_and_verification_passes(admin_migrated, rest, admin_source) -> None:
    run_id = admin_migrated["run_id"]
    states = rest.task_states(DAG_ID, run_id)
    assert admin_migrated["run"]["state"] == "success", states
    assert states["final_state"] == "skipped" and states["cleanup"] == "success"
    report = rest.xcom(DAG_ID, run_id, "verify", "report")
    assert report["ok"] is True, report
    source = rest.xcom(DAG_ID, run_id, "validate_source")
    assert admin_source.admin_source is not None
    assert source["table_prefix"] == admin_source.admin_source.table_prefix
    assert source["wp_root"] == str(Path(admin_source.admin_source.docroot))
    released = rest.xcom(DAG_ID, run_id, "release_source")
    assert released == {"route": "wp_admin", "companion": "removed", "removed": True}
    full = json.loads(Path(urlsplit(report["json_uri"]).path).read_text())
    assert "export artifacts" in full["source"]["from"]
    assert full["source_release"]["removed"] is True
    summary = full["summary"]
    assert all(summary[s] in ("pass", "warn") for s in ("row_counts", "posts", "users", "files")), summary
    exported = rest.xcom(DAG_ID, run_id, "export_database")
    assert exported["rows"] > 50_000  # the bulk postmeta came through the plugin


def test_every_row_and_the_big_option_are_on_the_target(admin_migrated, admin_source) -> None:
    sb = admin_source
    admin = sb.admin_source
    assert admin is not None
    src, tgt = source_db(sb), wc.db(sb, "target")
    source_posts = wc.posts(src, admin.table_prefix)
    target_posts = wc.posts(tgt, sb.target.table_prefix)
    assert source_posts and {i: p for i, p in source_posts.items() if target_posts.get(i) != p} == {}
    for table in ("terms", "term_taxonomy", "term_relationships", "comments", "postmeta", "commentmeta"):
        s = wc.migrated_rows(src, admin.table_prefix, table)
        t = wc.migrated_rows(tgt, sb.target.table_prefix, table)
        assert s == t, table
    (big,) = wc.rows(tgt, f"SELECT option_value FROM {sb.target.table_prefix}options WHERE option_name = %s",
                     (admin.big_option,))[0]
    assert len(big) == admin.big_option_size and hashlib.sha256(big).hexdigest() == admin.big_option_sha256
    logins = {r[0] for r in wc.rows(tgt, f"SELECT user_login FROM {sb.target.table_prefix}users")}
    assert {r[0] for r in wc.rows(src, f"SELECT user_login FROM {admin.table_prefix}users")} <= logins
    active = wc.rows(tgt, f"SELECT option_value FROM {sb.target.table_prefix}options "
                          "WHERE option_name = 'active_plugins'")[0][0]
    assert PLUGIN_DIR.encode() not in active  # the exported option is as before the install


def test_files_are_byte_identical_with_the_big_file(admin_migrated, admin_source) -> None:
    admin = admin_source.admin_source
    assert admin is not None
    source = wc.sha256_tree(Path(admin.wp_content) / "uploads")
    target = wc.sha256_tree(Path(admin_source.target.wp_content) / "uploads")
    assert source and {k: v for k, v in source.items() if target.get(k) != v} == {}
    big = Path(admin_source.target.wp_content) / admin.big_file
    assert big.stat().st_size == admin.big_file_size
    assert target[admin.big_file.removeprefix("uploads/")] == admin.big_file_sha256
    assert not (Path(admin_source.target.wp_content) / "plugins" / PLUGIN_DIR).exists()


def test_no_old_origin_and_serialized_values_valid(admin_migrated, admin_source) -> None:
    assert admin_source.admin_source is not None
    wc.assert_no_old_origin_and_serialized_valid(admin_source, admin_source.admin_source.url,
                                                 source_db(admin_source))


def test_target_answers_and_platform_login_works(admin_migrated, admin_source) -> None:
    assert admin_source.admin_source is not None
    wc.assert_published_answer_and_platform_login_works(admin_source, source_db(admin_source),
                                                        admin_source.admin_source.table_prefix)


def test_source_is_left_as_it_was(admin_migrated, admin_source) -> None:
    admin = admin_source.admin_source
    assert admin is not None
    assert not (Path(admin.wp_content) / "plugins" / PLUGIN_DIR).exists()
    changes = source_changes(admin_migrated["before"], admin_migrated["after"])
    assert changes == UNCHANGED


def test_no_password_or_secret_in_logs_xcom_or_artifacts(admin_migrated, admin_source, rest) -> None:
    sb = admin_source
    assert sb.admin_source is not None
    run_id = admin_migrated["run_id"]
    key = sandbox_state.companion_key(sb)
    secrets = [sb.admin_source.admin_password, key, derive_secret(key, run_id),
               sb.admin_source.db_password]
    assert all(len(s) >= 8 for s in secrets)
    assert not [s for s in secrets if s in json.dumps(admin_migrated["conf"])]
    for task_id in ("validate_source", "export_database", "export_files", "release_source",
                    "import_database", "verify", "cleanup"):
        log = rest.log(DAG_ID, run_id, task_id, 1)
        assert log, task_id
        assert [s for s in secrets if s in log] == [], task_id
        assert [s for s in secrets if s in json.dumps(rest.xcom(DAG_ID, run_id, task_id))] == [], task_id
    report = rest.xcom(DAG_ID, run_id, "verify", "report")
    run_dir = Path(urlsplit(report["json_uri"]).path).parents[1]
    files = [p for p in run_dir.rglob("*") if p.is_file() and p.stat().st_size < 20 << 20]
    assert len(files) > 20
    leaked = [p for p in files for s in secrets if s.encode() in p.read_bytes()]
    assert leaked == []
