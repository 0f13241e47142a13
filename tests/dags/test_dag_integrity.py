"""The DAG files import cleanly and have the public shape the portal relies on."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}


def test_full_access_shape(dagbag: DagBag) -> None:
    dag = dagbag.dags["wp_migration_full_access"]
    assert dag is not None
    down = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert "wait_for_window" in down["validate_source"]
    assert down["wait_for_window"] == ["final_state", "provision_target"]
    assert "final_state" not in down["validate_source"]  # a setup: ALL_SUCCESS followers only
    assert {"export_database", "export_files"} <= set(down["provision_target"])
    assert "import_database" in down["export_database"]
    assert "import_files" in down["import_database"]
    assert "verify" in down["import_files"]
    assert "notify" in down["verify"]
    assert dag.get_task("cleanup").is_teardown
    assert dag.get_task("cleanup").on_failure_fail_dagrun  # a cancelled run must end failed
    assert dag.get_task("validate_source").is_setup
    assert dag.get_task("final_state").trigger_rule == "one_failed"
    assert dag.get_task("validate_source").retries == 0
    assert dag.get_task("export_database").retries == 2
    assert dag.get_task("export_database").pool == "wpmigrate_source_io"


def _conf() -> dict:
    return {
        "migration_id": "6f1c1a86-4a57-4c1e-9a43-3f3b6f0b0c11",
        "tenant_id": "t1",
        "source_url": "https://old.example.com",
        "source_access": {"sftp_conn_id": "s", "db_conn_id": "d", "wp_root": "/var/www/html"},
        "target": {"provisioner": "existing", "url": "https://new.example.com", "db_conn_id": "t",
                   "wp_content_uri": "file:///srv/wp-content"},
    }


def _validate(dag, conf: dict) -> dict:
    params = copy.deepcopy(dag.params)
    for key, value in conf.items():
        params[key] = value
    return params.validate()


def test_params_accept_a_valid_conf(dagbag: DagBag) -> None:
    values = _validate(dagbag.dags["wp_migration_full_access"], _conf())
    assert values["schedule"] == "now" and values["dry_run"] is False


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda c: c.pop("source_access"), "missing source_access"),
        (lambda c: c.update(source_url="ftp://old.example.com"), "not http(s)"),
        (lambda c: c.update(migration_id="not-a-uuid"), "bad uuid"),
        (lambda c: c["source_access"].update(password="hunter2"), "passwords never go in conf"),
        (lambda c: c.update(schedule="tomorrow"), "bad schedule"),
    ],
)
def test_params_refuse_bad_conf(dagbag: DagBag, change, why: str) -> None:
    conf = _conf()
    change(conf)
    with pytest.raises(ParamValidationError):
        _validate(dagbag.dags["wp_migration_full_access"], conf)
