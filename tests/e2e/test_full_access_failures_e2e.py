"""Mode A failures through the REST API: bad input fails fast with the seed's error
codes, and an import killed mid-way leaves the target intact and resumes cleanly."""

from __future__ import annotations

import copy
import subprocess
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpsandbox import build
from wpsandbox import state as sandbox_state
from wpsandbox.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_full_access"


def _trigger(rest, conf: dict) -> str:
    run_id = str(uuid.uuid4())
    conf = copy.deepcopy(conf) | {"migration_id": run_id}
    response = rest.trigger(DAG_ID, run_id, conf)
    assert response.status_code == 200, response.text
    return run_id


BAD_INPUTS = {
    "unreachable": (lambda c, sb: c.update(source_url=f"http://127.0.0.1:{free_port()}"),
                    "SOURCE_UNREACHABLE"),
    "not_wordpress": (lambda c, sb: c.update(source_url=sb.static.url), "NOT_WORDPRESS"),
    "wrong_sftp_key": (lambda c, sb: c["source_access"].update(sftp_conn_id="wpm_bad_sftp"),
                       "INVALID_CREDENTIALS"),
    "wrong_db_password": (lambda c, sb: c["source_access"].update(db_conn_id="wpm_bad_db"),
                          "INVALID_CREDENTIALS"),
    # Not in the allow-list (127.0.0.0/8 is, for the sandbox): the cloud metadata address.
    "metadata_address": (lambda c, sb: c.update(source_url="http://169.254.169.254/latest/"),
                         "SOURCE_REFUSED"),
    "private_address": (lambda c, sb: c.update(source_url="http://10.20.30.40/"), "SOURCE_REFUSED"),
}


@pytest.fixture(scope="module")
def bad_runs(sandbox, rest) -> dict[str, str]:
    """Trigger every bad-input run at once; they fail in validate_source."""
    runs = {}
    for name, (mutate, _) in BAD_INPUTS.items():
        conf = sandbox_state.mode_a_conf(sandbox)
        mutate(conf, sandbox)
        runs[name] = _trigger(rest, conf)
    for run_id in runs.values():
        rest.wait(DAG_ID, run_id, timeout=300)
    return runs


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_fast_with_its_code(case: str, bad_runs, rest) -> None:
    run_id = bad_runs[case]
    assert rest.run(DAG_ID, run_id)["state"] == "failed"
    error = rest.xcom(DAG_ID, run_id, "validate_source", "error")
    assert error["code"] == BAD_INPUTS[case][1], error
    assert error["permanent"] is True
    tis = {ti["task_id"]: ti for ti in rest.task_instances(DAG_ID, run_id)}
    assert tis["validate_source"]["state"] == "failed"
    assert tis["validate_source"]["try_number"] == 1  # no retries for a permanent error
    assert tis["export_database"]["state"] == "upstream_failed"
    assert tis["final_state"]["state"] == "failed"
    assert tis["notify"]["state"] == "success"


def test_no_secret_reaches_logs_or_xcom(bad_runs, rest, sandbox) -> None:
    run_id = bad_runs["wrong_db_password"]
    log = rest.log(DAG_ID, run_id, "validate_source", 1)
    error = str(rest.xcom(DAG_ID, run_id, "validate_source", "error"))
    for secret in (sandbox.db.reader_password, "definitely-wrong"):
        assert secret not in log and secret not in error


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("target"),
        lambda c: c["source_access"].pop("db_conn_id"),
        lambda c: c.update(source_url="file:///etc/passwd"),
        lambda c: c["source_access"].update(password="hunter2"),
    ],
    ids=["missing_target", "missing_db_conn", "not_http", "password_in_conf"],
)
def test_conf_failing_the_schema_is_refused_with_400(change, sandbox, rest) -> None:
    conf = sandbox_state.mode_a_conf(sandbox)
    change(conf)
    response = rest.trigger(DAG_ID, conf["migration_id"], conf)
    assert response.status_code == 400, response.text


def _kill_import_connection(sandbox, deadline: float) -> bool:
    """KILL the target DB connection that is loading staging tables, when there is one
    (only INSERTs: the import also drops leftover staging tables when it starts)."""
    query = ("SELECT id FROM information_schema.processlist WHERE info LIKE 'INSERT%_wpm_new%'"
             f" AND db = '{sandbox.db.target_db}' AND user = '{sandbox.db.writer_user}'")
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={sandbox.db.socket}", "-uroot", "-N", "-B", "-e", query],
            capture_output=True, text=True, check=True).stdout.split()
        if out:
            for pid in out:
                subprocess.run(["mariadb", "--no-defaults", f"--socket={sandbox.db.socket}", "-uroot",
                                "-e", f"KILL CONNECTION {pid}"], capture_output=True, check=False)
            return True
        time.sleep(0.05)
    return False


def test_import_killed_midway_keeps_target_and_resumes_on_clear(sandbox, rest) -> None:
    build.reset_target(sandbox)
    tgt = wc.db(sandbox, "target")
    before = wc.posts(tgt, sandbox.target.table_prefix)
    run_id = _trigger(rest, sandbox_state.mode_a_conf(sandbox))

    # Kill every attempt (first try + 2 retries) so the task ends failed, as an operator sees it.
    kills = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        state = rest.task_states(DAG_ID, run_id).get("import_database")
        if state == "failed":
            break
        if state == "running" and _kill_import_connection(sandbox, time.monotonic() + 30):
            kills += 1
            with httpx.Client(timeout=30) as client:  # the target still serves its own content
                home = client.get(sandbox.target.url + "/")
                assert home.status_code == 200 and sandbox.target.title in home.text
        time.sleep(0.2)
    assert kills >= 3
    tries = {ti["task_id"]: ti["try_number"] for ti in rest.task_instances(DAG_ID, run_id)}
    assert tries["import_database"] == 3  # the first try and the seed's 2 retries
    assert wc.posts(wc.db(sandbox, "target"), sandbox.target.table_prefix) == before
    assert rest.wait(DAG_ID, run_id, timeout=300)["state"] == "failed"

    rest.clear(DAG_ID, run_id, ["import_database"], downstream=True)
    rest.wait(DAG_ID, run_id, timeout=60, poll=0.5, until=lambda r: r["state"] != "failed")
    run = rest.wait(DAG_ID, run_id, timeout=900)
    assert run["state"] == "success", rest.task_states(DAG_ID, run_id)

    src, tgt = wc.db(sandbox, "source"), wc.db(sandbox, "target")
    for table in ("posts", "postmeta", "comments", "terms", "term_relationships"):
        s = wc.migrated_rows(src, sandbox.source.table_prefix, table)
        t = wc.migrated_rows(tgt, sandbox.target.table_prefix, table)
        assert s == t, table  # nothing duplicated by the retries
    leftovers = wc.rows(tgt, "SELECT table_name FROM information_schema.tables WHERE table_schema ="
                             " DATABASE() AND table_name LIKE '\\_wpm\\_%%'")
    assert leftovers == []


def test_off_peak_run_waits_for_the_window_and_can_be_cancelled(sandbox, rest) -> None:
    """schedule: off_peak holds the run in wait_for_window (rescheduled, no worker slot);
    the portal cancels it there and nothing reaches the target."""
    build.reset_target(sandbox)
    before = wc.posts(wc.db(sandbox, "target"), sandbox.target.table_prefix)
    conf = sandbox_state.mode_a_conf(sandbox)
    conf["schedule"] = "off_peak"
    run_id = _trigger(rest, conf)
    rest.wait(DAG_ID, run_id, timeout=120, poll=1,
              until=lambda r: rest.task_states(DAG_ID, run_id).get("wait_for_window") == "up_for_reschedule")
    window_start = rest.xcom(DAG_ID, run_id, "validate_source", "window_start")
    assert window_start > datetime.now(UTC).isoformat()
    states = rest.task_states(DAG_ID, run_id)
    assert states.get("provision_target") is None and states.get("export_database") is None

    rest.cancel(DAG_ID, run_id)
    assert rest.wait(DAG_ID, run_id, timeout=60)["state"] == "failed"
    states = rest.task_states(DAG_ID, run_id)
    assert states.get("export_database") not in ("success", "running")
    assert states.get("import_database") not in ("success", "running")
    assert wc.posts(wc.db(sandbox, "target"), sandbox.target.table_prefix) == before
