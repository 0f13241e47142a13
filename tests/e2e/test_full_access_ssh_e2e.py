"""Mode A over the ``ssh`` route, end to end through Airflow's REST API: the conf names only
the SSH login and the WordPress root. The sandbox's ssh source keeps its database on a
MariaDB without TCP (unix socket only), so the run can reach it only through that login,
with the read-write credentials it parses from wp-config.php."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.full_access.db.connect import DbParams, connect
from wpsandbox import build
from wpsandbox import state as sandbox_state
from wpsandbox.query_log import LogEntry, users

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_full_access"
# What a read-only session may send: reads, session settings, transaction control.
READ_ONLY = re.compile(
    r"^\s*(/\*.*?\*/\s*)?(SELECT|SHOW|DESCRIBE|EXPLAIN|SET\s+(SESSION|NAMES|@@SESSION|autocommit|sql_mode"
    r"|time_zone|character_set|collation)|START\s+TRANSACTION|COMMIT|ROLLBACK|USE\s)", re.I | re.S)


def _source_db(sb: sandbox_state.SandboxState):
    assert sb.ssh_source is not None
    conn = connect(DbParams(host="localhost", port=0, user="root", password="",
                            database=sb.ssh_source.db_name, unix_socket=sb.ssh_source.db_socket))
    conn.autocommit(True)
    return conn


@pytest.fixture(scope="module")
def ssh_migrated(ssh_source, rest):
    sb = ssh_source
    build.reset_target(sb)
    build.reset_ssh_source_query_log(sb)
    run_id = str(uuid.uuid4())
    conf = sandbox_state.mode_a_ssh_conf(sb, run_id)
    response = rest.trigger(DAG_ID, run_id, conf)
    assert response.status_code == 200, response.text
    run = rest.wait(DAG_ID, run_id, timeout=1200)
    return {"run": run, "run_id": run_id, "conf": conf, "log": build.ssh_source_query_log(sb)}


def test_conf_names_no_database(ssh_migrated) -> None:
    access = ssh_migrated["conf"]["source_access"]
    assert access["route"] == "ssh" and "db_conn_id" not in access


def test_run_succeeds_and_verification_passes(ssh_migrated, rest) -> None:
    run_id = ssh_migrated["run_id"]
    states = rest.task_states(DAG_ID, run_id)
    assert ssh_migrated["run"]["state"] == "success", states
    assert states["final_state"] == "skipped" and states["cleanup"] == "success"
    report = rest.xcom(DAG_ID, run_id, "verify", "report")
    assert report["ok"] is True, report
    stats = rest.xcom(DAG_ID, run_id, "verify", "stats")
    assert stats["postsCount"] > 0 and stats["mediaCount"] > 0
    source = rest.xcom(DAG_ID, run_id, "validate_source")
    assert source["table_prefix"] == "wpssh_"


def test_every_row_is_on_the_target(ssh_migrated, ssh_source) -> None:
    sb = ssh_source
    src, tgt = _source_db(sb), wc.db(sb, "target")
    source_posts = wc.posts(src, "wpssh_")
    target_posts = wc.posts(tgt, sb.target.table_prefix)
    assert source_posts and {i: p for i, p in source_posts.items() if target_posts.get(i) != p} == {}
    for table in ("terms", "term_taxonomy", "term_relationships", "comments", "postmeta", "commentmeta",
                  "termmeta"):
        s, t = wc.migrated_rows(src, "wpssh_", table), wc.migrated_rows(tgt, sb.target.table_prefix, table)
        assert s == t, table
    source_logins = {r[0] for r in wc.rows(src, "SELECT user_login FROM wpssh_users")}
    target_logins = {r[0] for r in wc.rows(tgt, f"SELECT user_login FROM {sb.target.table_prefix}users")}
    assert source_logins <= target_logins and sb.platform.service_user.encode() in target_logins


def test_media_files_are_byte_identical(ssh_migrated, ssh_source) -> None:
    assert ssh_source.ssh_source is not None
    source = wc.sha256_tree(Path(ssh_source.ssh_source.wp_content) / "uploads")
    target = wc.sha256_tree(Path(ssh_source.target.wp_content) / "uploads")
    assert source and {k: v for k, v in source.items() if target.get(k) != v} == {}


def test_no_old_origin_and_serialized_values_valid(ssh_migrated, ssh_source) -> None:
    assert ssh_source.ssh_source is not None
    wc.assert_no_old_origin_and_serialized_valid(ssh_source, ssh_source.ssh_source.url,
                                                 _source_db(ssh_source))


def test_target_answers_and_platform_login_works(ssh_migrated, ssh_source) -> None:
    wc.assert_published_answer_and_platform_login_works(ssh_source, _source_db(ssh_source), "wpssh_")


def _migration_threads(log: list[LogEntry], db_user: str) -> dict[int, list[str]]:
    """The run's own sessions: logged in as wp-config's user, and read-only from their first
    statement on (WordPress's page loads use the same user but never say so)."""
    login = users(log)
    statements: dict[int, list[str]] = {}
    for entry in log:
        if entry.command in ("Query", "Execute") and login.get(entry.thread_id, "").startswith(f"{db_user}@"):
            statements.setdefault(entry.thread_id, []).append(entry.argument)
    return {t: s for t, s in statements.items() if _read_only_first(s)}


def _read_only_first(statements: list[str]) -> bool:
    """The session turned read-only before it sent anything but connection settings."""
    for statement in statements:
        if re.match(r"\s*SET\s+SESSION\s+TRANSACTION\s+READ\s+ONLY", statement, re.I):
            return True
        if not re.match(r"\s*SET\s+(NAMES|autocommit|@@SESSION|SESSION\s+(sql_mode|time_zone))", statement,
                        re.I):
            return False
    return False


def test_source_database_saw_nothing_but_reads(ssh_migrated, ssh_source) -> None:
    assert ssh_source.ssh_source is not None
    ours = _migration_threads(ssh_migrated["log"], ssh_source.ssh_source.db_user)
    # validate_source, export_database and verify each open at least one session.
    assert len(ours) >= 3, f"{len(ours)} read-only sessions of the migration in the query log"
    writes = [s for stmts in ours.values() for s in stmts if not READ_ONLY.match(s)]
    assert writes == []
    assert sum(len(s) for s in ours.values()) > 20  # the export's pages are in the log


def test_no_wp_config_value_in_logs_xcom_or_artifacts(ssh_migrated, ssh_source, rest) -> None:
    assert ssh_source.ssh_source is not None
    ssh = ssh_source.ssh_source
    secrets = [ssh.db_password, ssh.db_socket]
    assert all(len(s) >= 8 for s in secrets)
    run_id = ssh_migrated["run_id"]
    assert not [s for s in secrets if s in json.dumps(ssh_migrated["conf"])]
    for task_id in ("validate_source", "export_database", "export_files", "import_database", "verify",
                    "cleanup"):
        log = rest.log(DAG_ID, run_id, task_id, 1)
        assert log, task_id
        assert [s for s in secrets if s in log] == [], task_id
        assert [s for s in secrets if s in json.dumps(rest.xcom(DAG_ID, run_id, task_id))] == [], task_id
    report = rest.xcom(DAG_ID, run_id, "verify", "report")
    run_dir = Path(urlsplit(report["json_uri"]).path).parents[1]
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 20
    leaked = [p for p in files for s in secrets if s.encode() in p.read_bytes()]
    assert leaked == []


def test_a_wp_config_the_route_cannot_read_fails_fast_naming_the_way_out(ssh_source, rest, tmp_path) -> None:
    """A config that takes DB_NAME from the environment (Bedrock's way): validate_source fails
    at once with INVALID_CONF, permanent (one try), naming db_conn_id; nothing is written."""
    sb = ssh_source
    assert sb.ssh_source is not None
    text = (Path(sb.ssh_source.docroot) / "wp-config.php").read_text()
    name = f"define( 'DB_NAME', '{sb.ssh_source.db_name}' );"
    assert name in text
    root = tmp_path / "bedrock-like"
    root.mkdir()
    (root / "wp-config.php").write_text(text.replace(name, "define( 'DB_NAME', getenv('DB_NAME') );"))
    build.reset_target(sb)
    before = wc.posts(wc.db(sb, "target"), sb.target.table_prefix)
    run_id = str(uuid.uuid4())
    conf = sandbox_state.mode_a_ssh_conf(sb, run_id)
    conf["source_access"].update(wp_root=str(root), wp_content_dir=sb.ssh_source.wp_content)
    assert rest.trigger(DAG_ID, run_id, conf).status_code == 200
    assert rest.wait(DAG_ID, run_id, timeout=300)["state"] == "failed"
    error = rest.xcom(DAG_ID, run_id, "validate_source", "error")
    assert error["code"] == "INVALID_CONF" and error["permanent"] is True, error
    assert "db_conn_id" in error["message"] and "DB_NAME" in error["message"]
    tries = {ti["task_id"]: ti["try_number"] for ti in rest.task_instances(DAG_ID, run_id)}
    assert tries["validate_source"] == 1
    log = rest.log(DAG_ID, run_id, "validate_source", 1)
    assert sb.ssh_source.db_password not in log and sb.ssh_source.db_password not in json.dumps(error)
    assert wc.posts(wc.db(sb, "target"), sb.target.table_prefix) == before
