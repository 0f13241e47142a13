"""The ``wp_admin`` route's bad input through the REST API: each login that cannot install the
companion plugin fails ``validate_source`` at once with ``INVALID_CREDENTIALS`` (permanent,
no retry), says why, names the manual install, and leaves the source as it was. Then the
manual install itself: the plugin installed by hand, its secret in a connection, and a run
that proceeds without any login."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.admin_source import UNCHANGED, snapshot, source_changes, warm_up
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME, PLUGIN_DIR, build_zip
from wpmigrate.full_access.companion.wp_admin import WpAdminSession
from wpsandbox import build, source_switches
from wpsandbox import state as sandbox_state

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_full_access"


def _no_switch(docroot: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


# case: (login connection, source switch, details.reason)
CASES: dict[str, tuple[str, Callable[[str], AbstractContextManager[Any]], str]] = {
    "wrong_password": ("wpm_bad_admin", _no_switch, "wrong_login"),
    "not_an_administrator": (sandbox_state.SOURCE_EDITOR_CONN_ID, _no_switch, "not_administrator"),
    "second_factor": (sandbox_state.SOURCE_ADMIN_CONN_ID, source_switches.second_factor, "second_factor"),
    "disallow_file_mods": (sandbox_state.SOURCE_ADMIN_CONN_ID, source_switches.disallow_file_mods,
                           "file_mods_disallowed"),
}


@pytest.fixture(scope="module")
def refused_runs(admin_source, rest) -> Iterator[dict[str, Any]]:
    sb = admin_source
    assert sb.admin_source is not None
    warm_up(sb)
    before = snapshot(sb)
    runs = {}
    for case, (conn_id, switch, _) in CASES.items():
        with switch(sb.admin_source.docroot):
            run_id = str(uuid.uuid4())
            conf = sandbox_state.mode_a_admin_conf(sb, run_id, admin_conn_id=conn_id)
            response = rest.trigger(DAG_ID, run_id, conf)
            assert response.status_code == 200, response.text
            runs[case] = run_id
            rest.wait(DAG_ID, run_id, timeout=300)
    yield {"runs": runs, "before": before, "after": snapshot(sb)}


@pytest.mark.parametrize("case", list(CASES))
def test_login_that_cannot_install_fails_fast(case: str, refused_runs, rest) -> None:
    run_id = refused_runs["runs"][case]
    assert rest.run(DAG_ID, run_id)["state"] == "failed"
    error = rest.xcom(DAG_ID, run_id, "validate_source", "error")
    assert error["code"] == "INVALID_CREDENTIALS" and error["permanent"] is True, error
    assert error["details"]["reason"] == CASES[case][2], error
    assert "by hand" in error["user_message"], error  # the manual install, the way out
    tis = {ti["task_id"]: ti for ti in rest.task_instances(DAG_ID, run_id)}
    assert tis["validate_source"]["try_number"] == 1  # no retries for a permanent error
    assert tis["export_database"]["state"] == "upstream_failed"
    assert tis["final_state"]["state"] == "failed"


def test_refused_logins_leave_the_source_as_it_was(refused_runs, admin_source) -> None:
    assert admin_source.admin_source is not None
    assert not (Path(admin_source.admin_source.wp_content) / "plugins" / PLUGIN_DIR).exists()
    assert source_changes(refused_runs["before"], refused_runs["after"]) == UNCHANGED


def test_no_password_in_refusals(refused_runs, rest, admin_source) -> None:
    assert admin_source.admin_source is not None
    secrets = [admin_source.admin_source.admin_password, admin_source.admin_source.editor_password,
               "not-the-admin-password"]
    for run_id in refused_runs["runs"].values():
        log = rest.log(DAG_ID, run_id, "validate_source", 1)
        error = str(rest.xcom(DAG_ID, run_id, "validate_source", "error"))
        assert log and [s for s in secrets if s in log or s in error] == []


@pytest.fixture(scope="module")
def manual_run(admin_source, rest, refused_runs) -> Iterator[dict[str, Any]]:
    """The customer installs the shipped plugin by hand (here: through wp-admin, with the zip
    the portal built and the secret it stored in a connection); the run gets no login."""
    sb = admin_source
    admin = sb.admin_source
    assert admin is not None
    build.reset_target(sb)
    secret = sandbox_state.manual_companion_secret(sb)
    run_id = str(uuid.uuid4())
    with httpx.Client(timeout=60) as http:
        wp = WpAdminSession(http, admin.url)
        wp.login(admin.admin_user, admin.admin_password)
        wp.upload_plugin(build_zip(secret, idle_seconds=3600, migration_id=run_id))
        wp.activate(PLUGIN_BASENAME)
        wp.logout()
    try:
        conf = sandbox_state.mode_a_admin_conf(sb, run_id)
        conf["source_access"] = {"route": "wp_admin",
                                 "companion_conn_id": sandbox_state.MANUAL_COMPANION_CONN_ID}
        response = rest.trigger(DAG_ID, run_id, conf)
        assert response.status_code == 200, response.text
        run = rest.wait(DAG_ID, run_id, timeout=1500)
        installed_after = (Path(admin.wp_content) / "plugins" / PLUGIN_DIR).is_dir()
    finally:
        with httpx.Client(timeout=60) as http:  # the operator removes it, as the report says
            wp = WpAdminSession(http, admin.url)
            wp.login(admin.admin_user, admin.admin_password)
            wp.delete(PLUGIN_BASENAME)
            wp.logout()
    yield {"run": run, "run_id": run_id, "installed_after": installed_after}


def test_manual_install_migrates_without_a_login(manual_run, rest) -> None:
    run_id = manual_run["run_id"]
    assert manual_run["run"]["state"] == "success", rest.task_states(DAG_ID, run_id)
    assert rest.xcom(DAG_ID, run_id, "verify", "report")["ok"] is True
    released = rest.xcom(DAG_ID, run_id, "release_source")
    assert released["companion"] == "manual" and released["removed"] is False
    assert "by hand" in released["action_needed"]
    # Nothing logged in: the plugin the customer installed is still there for them to remove.
    assert manual_run["installed_after"] is True
    exported = rest.xcom(DAG_ID, run_id, "export_database")
    assert exported["rows"] > 50_000


def test_off_peak_run_takes_the_plugin_off_while_it_waits(admin_source, rest, manual_run) -> None:
    """A run waiting for its window has validated the login and the plugin (installed, preflight
    read) but leaves nothing on the source meanwhile; cancelled there, it ends with nothing
    written anywhere."""
    sb = admin_source
    assert sb.admin_source is not None
    plugin_dir = Path(sb.admin_source.wp_content) / "plugins" / PLUGIN_DIR
    run_id = str(uuid.uuid4())
    conf = sandbox_state.mode_a_admin_conf(sb, run_id)
    conf["schedule"] = "off_peak"
    assert rest.trigger(DAG_ID, run_id, conf).status_code == 200
    rest.wait(DAG_ID, run_id, timeout=180, poll=1,
              until=lambda r: rest.task_states(DAG_ID, run_id).get("wait_for_window") == "up_for_reschedule")
    assert rest.xcom(DAG_ID, run_id, "validate_source")["table_prefix"] == sb.admin_source.table_prefix
    assert not plugin_dir.exists()
    rest.cancel(DAG_ID, run_id)
    assert rest.wait(DAG_ID, run_id, timeout=120)["state"] == "failed"
    assert rest.task_states(DAG_ID, run_id).get("export_database") not in ("success", "running")
    assert not plugin_dir.exists()
