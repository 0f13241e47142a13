"""The DAG files import cleanly and have the public shape the portal relies on."""

from __future__ import annotations

import copy
import itertools
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
    # The wp_admin route's plugin comes off the source once both exports are done; verify
    # reports it.
    assert "release_source" in down["export_database"] and "release_source" in down["export_files"]
    assert "verify" in down["release_source"] and "import_database" not in down["release_source"]
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
        # issue 10 items 9 and 10: refused when the portal triggers the run (400), before any task
        (lambda c: c.update(schedule="2026-13-45T99:99Z"), "impossible date"),
        (lambda c: c.update(schedule="2026-02-29T10:00Z"), "no 29 February in 2026"),
        (lambda c: c.update(migration_id=c["migration_id"] + "\n"), "trailing newline"),
        (lambda c: c.update(source_url=c["source_url"] + "\n"), "trailing newline"),
        (lambda c: c.update(tenant_id=".."), "tenant id naming the parent directory"),
        (lambda c: c.update(tenant_id="."), "tenant id naming the directory itself"),
        (lambda c: c.update(notify={"webhook_url": "https://portal.example.com/", "extra": 1}),
         "unknown nested field"),
    ],
)
def test_params_refuse_bad_conf(dagbag: DagBag, change, why: str) -> None:
    conf = _conf()
    change(conf)
    with pytest.raises(ParamValidationError):
        _validate(dagbag.dags["wp_migration_full_access"], conf)


def _ssh_route(conf: dict) -> dict:
    conf["source_access"] = {"route": "ssh", "sftp_conn_id": "src_ssh", "wp_root": "/srv/www"}
    return conf


def test_params_accept_the_ssh_route_without_a_database_connection(dagbag: DagBag) -> None:
    values = _validate(dagbag.dags["wp_migration_full_access"], _ssh_route(_conf()))
    assert values["source_access"]["route"] == "ssh" and "db_conn_id" not in values["source_access"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda c: c["source_access"].pop("db_conn_id"), "sftp_db (the default) needs db_conn_id"),
        (lambda c: c["source_access"].update(route="sftp_db", db_conn_id=None) or c["source_access"].pop(
            "db_conn_id"), "sftp_db named explicitly needs db_conn_id"),
        (lambda c: _ssh_route(c)["source_access"].update(route="telnet"), "unknown route"),
        (lambda c: _ssh_route(c)["source_access"].pop("sftp_conn_id"), "ssh needs the SSH login"),
        (lambda c: _ssh_route(c)["source_access"].update(db_password="x"), "no secrets in conf"),
    ],
)
def test_params_refuse_bad_routes(dagbag: DagBag, change, why: str) -> None:
    conf = _conf()
    change(conf)
    with pytest.raises(ParamValidationError):
        _validate(dagbag.dags["wp_migration_full_access"], conf)


def _wp_admin_route(conf: dict, **access: str) -> dict:
    conf["source_access"] = {"route": "wp_admin", **access}
    return conf


@pytest.mark.parametrize("access", [{"wp_conn_id": "src_admin"}, {"companion_conn_id": "src_companion"},
                                    {"wp_conn_id": "src_admin", "sftp_conn_id": "src_sftp"}])
def test_params_accept_the_wp_admin_route(dagbag: DagBag, access: dict) -> None:
    values = _validate(dagbag.dags["wp_migration_full_access"], _wp_admin_route(_conf(), **access))
    assert values["source_access"] == {"route": "wp_admin", **access}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda c: _wp_admin_route(c), "wp_admin needs a login or a manual install's secret"),
        (lambda c: _wp_admin_route(c, sftp_conn_id="s", wp_root="/srv"), "SFTP alone: not wp_admin"),
        (lambda c: _ssh_route(c)["source_access"].update(wp_conn_id="a"), "wp_conn_id only with wp_admin"),
        (lambda c: c["source_access"].update(companion_conn_id="a"), "companion only with wp_admin"),
        (lambda c: _wp_admin_route(c, wp_conn_id="a", password="x"), "no secrets in conf"),
    ],
)
def test_params_refuse_bad_wp_admin_confs(dagbag: DagBag, change, why: str) -> None:
    conf = _conf()
    change(conf)
    with pytest.raises(ParamValidationError):
        _validate(dagbag.dags["wp_migration_full_access"], conf)


def test_scrape_rebuild_shape(dagbag: DagBag) -> None:
    dag = dagbag.dags["wp_migration_scrape_rebuild"]
    down = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    chain = ["validate_source", "wait_for_window", "provision_target", "discover", "scrape_comments",
             "scrape_content", "download_media", "import_content", "verify", "notify"]
    for before, after in itertools.pairwise(chain):
        assert after in down[before], (before, after)
    # Comments: read from the source before the scrape (never beside it), imported with the content.
    assert dag.get_task("scrape_comments").pool == "wpmigrate_source_io"
    assert {"import_content", "verify"} <= set(down["scrape_comments"])
    assert "match_theme" in down["download_media"] and "build_site" in down["match_theme"]
    assert "import_content" in down["build_site"]
    # Mapped over batches, with readable labels in the UI.
    for task_id in ("scrape_content", "download_media"):
        task = dag.get_task(task_id)
        assert task.map_index_template == "{{ batch_label }}"
        assert task.pool == "wpmigrate_source_io"
        assert task.max_active_tis_per_dagrun == 1  # the per-host rate limit is per process
    assert dag.get_task("cleanup").is_teardown and dag.get_task("cleanup").on_failure_fail_dagrun
    assert dag.get_task("final_state").trigger_rule == "one_failed"
    from wpmigrate.core.progress import SCRAPE_REBUILD_WEIGHTS

    assert set(SCRAPE_REBUILD_WEIGHTS) <= set(down)  # the portal's progress bar names real tasks


def _mode_b_conf() -> dict:
    return {
        "migration_id": "6f1c1a86-4a57-4c1e-9a43-3f3b6f0b0c12",
        "tenant_id": "t1",
        "source_url": "https://old.example.com",
        "target": {"provisioner": "existing", "url": "https://new.example.com", "wp_conn_id": "wp"},
    }


def test_mode_b_params_fill_the_seed_defaults(dagbag: DagBag) -> None:
    values = _validate(dagbag.dags["wp_migration_scrape_rebuild"], _mode_b_conf())
    assert values["theme_preference"] == "auto_match" and values["schedule"] == "now"
    conf = _mode_b_conf() | {"content_scope": {"max_depth": 10, "include_media": False}}
    assert _validate(dagbag.dags["wp_migration_scrape_rebuild"], conf)["content_scope"]["max_depth"] == 10
    # Additive in v1: comments are an option of the scope (on when absent).
    conf = _mode_b_conf() | {"content_scope": {"include_comments": False}}
    scope = _validate(dagbag.dags["wp_migration_scrape_rebuild"], conf)["content_scope"]
    assert scope["include_comments"] is False


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda c: c.pop("target"), "missing target"),
        (lambda c: c.update(content_scope={"max_depth": 11}), "max_depth above 10"),
        (lambda c: c.update(content_scope={"max_depth": 0}), "max_depth below 1"),
        (lambda c: c.update(content_scope={"include_users": True}), "unknown scope field"),
        (lambda c: c.update(content_scope={"include_comments": "yes"}), "include_comments not a boolean"),
        (lambda c: c.update(theme_preference="random"), "unknown theme preference"),
        (lambda c: c["target"].update(password="hunter2"), "passwords never go in conf"),
    ],
)
def test_mode_b_params_refuse_bad_conf(dagbag: DagBag, change, why: str) -> None:
    conf = _mode_b_conf()
    change(conf)
    with pytest.raises(ParamValidationError):
        _validate(dagbag.dags["wp_migration_scrape_rebuild"], conf)


def test_mode_b_select_theme_needs_a_theme() -> None:
    from wpmigrate.core.conf import SCRAPE_REBUILD, validate_conf
    from wpmigrate.core.errors import MigrationError

    with pytest.raises(MigrationError, match="selected_theme"):
        validate_conf(SCRAPE_REBUILD, _mode_b_conf() | {"theme_preference": "select_theme"})
    ok = validate_conf(SCRAPE_REBUILD, _mode_b_conf() | {"theme_preference": "select_theme",
                                                         "selected_theme": "twentytwentythree/Pilgrimage"})
    assert ok["selected_theme"] == "twentytwentythree/Pilgrimage"
