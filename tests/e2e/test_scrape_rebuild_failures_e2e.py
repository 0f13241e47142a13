"""Mode B bad input through the REST API: each fails fast in the right task with the
seed's error code, writes nothing to the target, and a conf failing the schema is 400."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.support import wordpress_checks as wc
from wpsandbox import build
from wpsandbox import state as sandbox_state
from wpsandbox.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_scrape_rebuild"


BAD_INPUTS = {
    "unreachable": (lambda c, sb: c.update(source_url=f"http://127.0.0.1:{free_port()}"),
                    "validate_source", "SOURCE_UNREACHABLE"),
    "not_wordpress": (lambda c, sb: c.update(source_url=sb.static.url), "validate_source", "NOT_WORDPRESS"),
    "private_address": (lambda c, sb: c.update(source_url="http://10.20.30.40/"), "validate_source",
                        "SOURCE_REFUSED"),
    # The target refuses the platform login: nothing can be written.
    "target_refuses": (lambda c, sb: c["target"].update(wp_conn_id="wpm_bad_wp"), "provision_target",
                       "PROVISION_FAILED"),
    "unknown_theme": (lambda c, sb: c.update(theme_preference="select_theme", selected_theme="nope/None"),
                      "match_theme", "INVALID_CONF"),
    # Issue 10 item 9: Airflow's Params check named fields only, so the REST API accepts an
    # unknown one; the first task refuses it before the source is contacted, and the run
    # writes nothing (it used to run as dry_run false).
    "unknown_field": (lambda c, sb: c.update(dryRun=True), "validate_source", "INVALID_CONF"),
}


@pytest.fixture(scope="module")
def bad_runs(sandbox, rest) -> dict[str, str]:
    rest.wait_for_dag(DAG_ID)
    build.reset_target(sandbox)
    runs = {"baseline": _content_rows(sandbox)}
    for name, (mutate, _, _) in BAD_INPUTS.items():
        conf = sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4()))
        mutate(conf, sandbox)
        response = rest.trigger(DAG_ID, conf["migration_id"], conf)
        assert response.status_code == 200, response.text
        runs[name] = conf["migration_id"]
    for name, run_id in runs.items():
        if name != "baseline":
            rest.wait(DAG_ID, run_id, timeout=600)
    return runs


def _content_rows(sb) -> list[tuple]:
    # wp_global_styles aside: reading a theme's styles through the REST API (match_theme)
    # makes WordPress create that theme's empty user-styles post, as the Site Editor does.
    return wc.rows(wc.db(sb, "target"),
                   f"SELECT ID, post_type, post_name, post_modified_gmt FROM {sb.target.table_prefix}posts "
                   "WHERE post_type <> 'wp_global_styles' ORDER BY ID")


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_with_its_code(case: str, bad_runs, rest) -> None:
    run_id = bad_runs[case]
    _, task_id, code = BAD_INPUTS[case]
    assert rest.run(DAG_ID, run_id)["state"] == "failed"
    error = rest.xcom(DAG_ID, run_id, task_id, "error")
    assert error["code"] == code, error
    assert error["permanent"] is True
    tis = {ti["task_id"]: ti for ti in rest.task_instances(DAG_ID, run_id) if ti["map_index"] < 0}
    assert tis[task_id]["state"] == "failed" and tis[task_id]["try_number"] == 1
    assert tis["final_state"]["state"] == "failed"
    assert tis["import_content"]["state"] == "upstream_failed"


def test_failed_runs_wrote_nothing_to_the_target(bad_runs, sandbox) -> None:
    assert _content_rows(sandbox) == bad_runs["baseline"]


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("target"),
        lambda c: c.update(content_scope={"max_depth": 11}),
        lambda c: c.update(theme_preference="whatever"),
        lambda c: c["target"].update(password="hunter2"),
        lambda c: c.update(schedule="2026-13-45T99:99Z"),
        lambda c: c.update(tenant_id=".."),
        lambda c: c.update(tenant_id="sandbox\n"),
    ],
    ids=["missing_target", "depth_over_10", "bad_theme_preference", "password_in_conf", "impossible_date",
         "dot_dot_tenant", "trailing_newline"],
)
def test_conf_failing_the_schema_is_refused_with_400(change, sandbox, rest) -> None:
    conf = sandbox_state.mode_b_conf(sandbox)
    change(conf)
    response = rest.trigger(DAG_ID, conf["migration_id"], conf)
    assert response.status_code == 400, response.text


def test_off_peak_run_waits_for_the_window_and_can_be_cancelled(sandbox, rest) -> None:
    """schedule: off_peak holds a Mode B run in wait_for_window before it reads the source
    beyond validation; cancelled there, it ends failed and nothing reaches the target."""
    rest.wait_for_dag(DAG_ID)
    build.reset_target(sandbox)
    before = _content_rows(sandbox)
    conf = sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4()))
    conf["schedule"] = "off_peak"
    run_id = conf["migration_id"]
    assert rest.trigger(DAG_ID, run_id, conf).status_code == 200
    rest.wait(DAG_ID, run_id, timeout=120, poll=1,
              until=lambda r: rest.task_states(DAG_ID, run_id).get("wait_for_window") == "up_for_reschedule")
    states = rest.task_states(DAG_ID, run_id)
    assert states.get("discover") is None and states.get("provision_target") is None
    rest.cancel(DAG_ID, run_id)
    assert rest.wait(DAG_ID, run_id, timeout=60)["state"] == "failed"
    assert _content_rows(sandbox) == before


def test_dry_run_discovers_and_reports_but_writes_nothing(sandbox, rest) -> None:
    rest.wait_for_dag(DAG_ID)
    build.reset_target(sandbox)
    before = _content_rows(sandbox)
    themes_before = _theme(sandbox)
    conf = sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4()))
    conf["dry_run"] = True
    run_id = conf["migration_id"]
    started = time.time()
    assert rest.trigger(DAG_ID, run_id, conf).status_code == 200
    assert rest.wait(DAG_ID, run_id, timeout=600)["state"] == "success"
    # Every request the run sent the target was a read (its own request log says so).
    sent = [json.loads(line) for line in Path(sandbox.target.request_log).read_text().splitlines()]
    sent = [e for e in sent if e["t"] >= started and e.get("auth")]
    assert sent and {e["method"] for e in sent} == {"GET"}, {(e["method"], e["uri"]) for e in sent}
    report = rest.xcom(DAG_ID, run_id, "verify", "report")
    assert report["ok"] is True
    assert rest.xcom(DAG_ID, run_id, "discover", "counts")["post"] > 0
    assert rest.xcom(DAG_ID, run_id, "verify", "stats")["postsCount"] > 0  # what would move
    assert _content_rows(sandbox) == before
    assert _theme(sandbox) == themes_before


def _theme(sb) -> list[tuple]:
    return wc.rows(wc.db(sb, "target"), "SELECT option_name, option_value FROM wp_options "
                                        "WHERE option_name IN ('stylesheet', 'template') ORDER BY 1")
