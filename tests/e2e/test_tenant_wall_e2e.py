"""Hostile confs through the REST API meet the tenant wall: a ``wp_admin`` conf naming the
platform's companion key, a conf naming connections of another tenant (or the target's as a
source), and a conf whose ``target.url`` is not its connection's site each fail
``validate_source`` with ``INVALID_CONF`` in one try. Nothing was uploaded to the source,
nothing written to the target, and no request reached the collector that stood in for the
place the conf pointed at."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import wordpress_checks as wc
from tests.support.admin_source import UNCHANGED, snapshot, source_changes, warm_up
from tests.support.local_http import RecordingServer, recording_server
from wpmigrate.full_access.companion.package import PLUGIN_DIR
from wpsandbox import state as sandbox_state

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
MODE_A, MODE_B = "wp_migration_full_access", "wp_migration_scrape_rebuild"

Change = Callable[[dict[str, Any], RecordingServer], None]


def _access(**access: str) -> Change:
    def change(conf: dict[str, Any], _: RecordingServer) -> None:
        conf["source_access"] = {"route": "wp_admin", **access}
    return change


def _target_url(conf: dict[str, Any], collector: RecordingServer) -> None:
    conf["target"]["url"] = collector.origin


# case: (dag, conf builder, change, the field the error names)
CASES: dict[str, tuple[str, str, Change, str]] = {
    "companion_key_as_manual_secret": (
        MODE_A, "admin", _access(companion_conn_id=sandbox_state.COMPANION_KEY_CONN_ID),
        "source_access.companion_conn_id"),
    "companion_key_as_login": (
        MODE_A, "admin", _access(wp_conn_id=sandbox_state.COMPANION_KEY_CONN_ID), "source_access.wp_conn_id"),
    "another_tenants_connections": (
        MODE_A, "sftp_db", lambda c, _: c.update(tenant_id="another-tenant"), "source_access.sftp_conn_id"),
    "the_target_as_source_database": (
        MODE_A, "sftp_db", lambda c, _: c["source_access"].update(db_conn_id=sandbox_state.TARGET_DB_CONN_ID),
        "source_access.db_conn_id"),
    "target_url_elsewhere_mode_a": (MODE_A, "sftp_db", _target_url, "target.db_conn_id"),
    "target_url_elsewhere_mode_b": (MODE_B, "mode_b", _target_url, "target.wp_conn_id"),
}


def _conf(sb: sandbox_state.SandboxState, kind: str, run_id: str) -> dict[str, Any]:
    if kind == "admin":
        return sandbox_state.mode_a_admin_conf(sb, run_id)
    if kind == "mode_b":
        return sandbox_state.mode_b_conf(sb, run_id)
    return sandbox_state.mode_a_conf(sb, run_id)


def _target_state(sb: sandbox_state.SandboxState) -> dict[str, Any]:
    conn = wc.db(sb, "target")
    try:
        tables = [t.decode() if isinstance(t, bytes) else t for (t,) in wc.rows(conn, "SHOW TABLES")]
        return {t: wc.rows(conn, f"CHECKSUM TABLE `{t}` EXTENDED")[0][1] for t in tables}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def walled_runs(admin_source, rest) -> Iterator[dict[str, Any]]:
    sb = admin_source
    rest.wait_for_dag(MODE_B)
    warm_up(sb)
    source_before, target_before = snapshot(sb), _target_state(sb)
    runs: dict[str, str] = {}
    with recording_server() as collector:
        for case, (dag_id, kind, change, _) in CASES.items():
            run_id = str(uuid.uuid4())
            conf = _conf(sb, kind, run_id)
            change(conf, collector)
            response = rest.trigger(dag_id, run_id, conf)
            assert response.status_code == 200, (case, response.text)  # past the schema: the wall stops it
            runs[case] = run_id
        for case, run_id in runs.items():
            rest.wait(CASES[case][0], run_id, timeout=300)
        seen = list(collector.seen)
    yield {"runs": runs, "collector": seen, "source": source_changes(source_before, snapshot(sb)),
           "target_before": target_before, "target_after": _target_state(sb)}


@pytest.mark.parametrize("case", list(CASES))
def test_the_wall_refuses_before_anything_is_contacted(case: str, walled_runs, rest) -> None:
    dag_id, _, _, field = CASES[case]
    run_id = walled_runs["runs"][case]
    assert rest.run(dag_id, run_id)["state"] == "failed"
    error = rest.xcom(dag_id, run_id, "validate_source", "error")
    assert error["code"] == "INVALID_CONF" and error["permanent"] is True, error
    assert error["details"]["field"] == field and error["message"].startswith(field), error
    tis = {ti["task_id"]: ti for ti in rest.task_instances(dag_id, run_id)}
    assert tis["validate_source"]["try_number"] == 1  # permanent: no retry
    assert tis["validate_source"]["state"] == "failed"
    assert tis["provision_target"]["state"] == "upstream_failed"


def test_nothing_reached_the_collector_the_source_or_the_target(walled_runs, admin_source) -> None:
    assert walled_runs["collector"] == []
    assert walled_runs["source"] == UNCHANGED
    assert admin_source.admin_source is not None
    assert not (Path(admin_source.admin_source.wp_content) / "plugins" / PLUGIN_DIR).exists()
    assert walled_runs["target_after"] == walled_runs["target_before"]


def test_no_secret_in_the_refusals(walled_runs, rest, admin_source) -> None:
    secrets = [p for p in (sandbox_state.companion_key(admin_source),
                           admin_source.platform.app_password, admin_source.db.writer_password,
                           admin_source.db.reader_password) if p]
    for case, run_id in walled_runs["runs"].items():
        dag_id = CASES[case][0]
        shown = rest.log(dag_id, run_id, "validate_source", 1) + str(
            rest.xcom(dag_id, run_id, "validate_source", "error"))
        assert [s for s in secrets if s in shown] == [], case
