"""Both DAGs on the production topology, through the REST API: CeleryExecutor with two
workers (each its own working dir, TMPDIR and hostname), PostgreSQL, Redis, artifacts on S3
and credentials from Secrets Manager. moto's server stands in for AWS (S3, Secrets
Manager), which cannot run here; everything else is the real thing on 127.0.0.1."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import topology_checks as tc
from tests.support import wordpress_checks as wc
from wpsandbox import build, topology
from wpsandbox import state as sandbox_state

pytestmark = [pytest.mark.topology, pytest.mark.e2e, pytest.mark.sandbox]

MODE_A, MODE_B = "wp_migration_full_access", "wp_migration_scrape_rebuild"


def _migrate(sandbox, rest, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    rest.wait_for_dag(dag_id)
    build.reset_target(sandbox)
    started = time.time()
    response = rest.trigger(dag_id, conf["migration_id"], conf)
    assert response.status_code == 200, response.text
    run = rest.wait(dag_id, conf["migration_id"], timeout=1200)
    return {"run": run, "run_id": conf["migration_id"], "seconds": time.time() - started}


@pytest.fixture(scope="module")
def mode_a(sandbox, topo, topo_rest) -> dict[str, Any]:
    return _migrate(sandbox, topo_rest, MODE_A, sandbox_state.mode_a_conf(sandbox, str(uuid.uuid4())))


def test_mode_a_runs_on_both_workers_and_verifies(mode_a, topo_rest, sandbox) -> None:
    tis = topo_rest.task_instances(MODE_A, mode_a["run_id"])
    assert mode_a["run"]["state"] == "success", {t["task_id"]: t["state"] for t in tis}
    # No task reads a path another worker wrote: they spread over both and still succeed.
    assert {t["hostname"] for t in tis if t["state"] == "success"} == set(topology.WORKERS)
    assert topo_rest.xcom(MODE_A, mode_a["run_id"], "verify", "report")["ok"] is True
    source = wc.posts(wc.db(sandbox, "source"), sandbox.source.table_prefix)
    target = wc.posts(wc.db(sandbox, "target"), sandbox.target.table_prefix)
    assert source and not {i for i, post in source.items() if target.get(i) != post}


def test_artifacts_are_on_s3_and_xcom_names_no_local_file(mode_a, topo, topo_rest, sandbox) -> None:
    entries = topo_rest.xcom_entries(MODE_A, mode_a["run_id"])
    values = tc.xcom_strings(entries, sandbox.target.wp_content, sandbox.target.docroot)
    uris = [s for s in values if "://" in s and not s.startswith("http")]
    assert uris and not [u for u in uris if not u.startswith("s3://")]
    # (Paths on the source host, read over SFTP, are fine: every worker reaches them alike.)
    sites = (sandbox.source.docroot, sandbox.source.wp_content,
             sandbox.target.docroot, sandbox.target.wp_content)
    assert not tc.worker_local_paths(values, topo.home, sites)
    s3 = boto3.client("s3", **topology._boto_args(topo.aws_endpoint))
    listed = s3.list_objects_v2(Bucket=topology.BUCKET, Prefix=f"migrations/sandbox/{mode_a['run_id']}/")
    assert listed.get("KeyCount", 0) > 10


def test_workers_keep_no_file_between_tasks(mode_a, topo) -> None:
    assert tc.files_left(topo) == {name: [] for name in topology.WORKERS}


def test_no_secret_in_xcom_logs_or_worker_folders(mode_a, topo, topo_rest, sandbox) -> None:
    secrets = tc.connection_passwords(sandbox)
    assert secrets
    texts = [json.dumps(e["value"]) for e in topo_rest.xcom_entries(MODE_A, mode_a["run_id"])]
    for ti in topo_rest.task_instances(MODE_A, mode_a["run_id"]):
        if ti["try_number"]:
            texts.append(topo_rest.log(MODE_A, mode_a["run_id"], ti["task_id"], ti["try_number"]))
    for folder in (Path(topo.home) / "airflow" / "logs", *(Path(p) for w in topo.workers.values()
                                                            for p in w.values())):
        texts += [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]
    assert len(texts) > 10
    for secret in secrets:
        assert not [t[:80] for t in texts if secret in t]
    # Credentials reach the workers from Secrets Manager only.
    for name in topology.WORKERS:
        environ = Path(f"/proc/{topo.pids[name]}/environ").read_bytes()
        assert b"AIRFLOW_CONN_" not in environ and not any(s.encode() in environ for s in secrets)


def test_mode_b_rebuilds_the_source_on_the_topology(sandbox, topo, topo_rest) -> None:
    done = _migrate(sandbox, topo_rest, MODE_B, sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4())))
    tis = topo_rest.task_instances(MODE_B, done["run_id"])
    assert done["run"]["state"] == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    assert {t["hostname"] for t in tis if t["state"] == "success"} == set(topology.WORKERS)
    report = topo_rest.xcom(MODE_B, done["run_id"], "verify", "report")
    assert report["ok"] is True and report["json_uri"].startswith("s3://")
    published = wc.rows(wc.db(sandbox, "source"), f"SELECT post_name FROM {sandbox.source.table_prefix}posts "
                        "WHERE post_status='publish' AND post_type IN ('page','post') AND post_password=''")
    rebuilt = wc.rows(wc.db(sandbox, "target"), f"SELECT post_name FROM {sandbox.target.table_prefix}posts "
                      "WHERE post_status='publish' AND post_type IN ('page','post')")
    assert {r[0] for r in published} <= {r[0] for r in rebuilt}


def test_a_worker_killed_mid_import_loses_nothing(sandbox, topo, topo_rest) -> None:
    """The machine running the import dies (SIGKILL, task and all). The scheduler fails the
    orphaned try once its heartbeat stops; the retry runs on the surviving worker, against
    a target that already holds part of the import, and the result is the source, once."""
    conf = sandbox_state.mode_a_conf(sandbox, str(uuid.uuid4()))
    topo_rest.wait_for_dag(MODE_A)
    build.reset_target(sandbox)
    assert topo_rest.trigger(MODE_A, conf["migration_id"], conf).status_code == 200
    killed = None
    deadline = time.monotonic() + 600
    while killed is None and time.monotonic() < deadline:
        running = [t for t in topo_rest.task_instances(MODE_A, conf["migration_id"])
                   if t["task_id"] == "import_database" and t["state"] == "running" and t["hostname"]]
        if running:
            time.sleep(0.5)  # into the import, past its start
            killed = running[0]["hostname"]
            topology.kill_worker(topo, killed)
        time.sleep(0.1)
    assert killed, "import_database never seen running"
    try:
        run = topo_rest.wait(MODE_A, conf["migration_id"], timeout=900)
        tis = {t["task_id"]: t for t in topo_rest.task_instances(MODE_A, conf["migration_id"])}
        assert run["state"] == "success", {k: t["state"] for k, t in tis.items()}
        importer = tis["import_database"]
        assert importer["try_number"] >= 2 and importer["hostname"] != killed
        assert topo_rest.xcom(MODE_A, conf["migration_id"], "verify", "report")["ok"] is True
        source = wc.posts(wc.db(sandbox, "source"), sandbox.source.table_prefix)
        target = wc.posts(wc.db(sandbox, "target"), sandbox.target.table_prefix)
        assert not {i for i, post in source.items() if target.get(i) != post}
        for table in ("postmeta", "options", "comments", "term_relationships"):
            s = wc.migrated_rows(wc.db(sandbox, "source"), sandbox.source.table_prefix, table)
            t = wc.migrated_rows(wc.db(sandbox, "target"), sandbox.target.table_prefix, table)
            assert t >= s if table == "options" else t == s, (table, s, t)
    finally:
        topology.restart_worker(topo, killed)


def test_an_operator_clears_a_failed_import_and_it_completes_once(sandbox, topo, topo_rest) -> None:
    """The target refuses the import's writes (its migration user may only read), so
    import_database fails and the run fails. The operator restores the grant and clears the
    failed task through the REST API: it runs again on whichever worker is free, the run
    completes, and the target holds the source once."""
    (target,) = tc.fresh_targets(sandbox, topo, 1)
    root = wc.db_named(sandbox, target.db_name)
    grantee = f"'{target.writer_user}'@'%'"
    fresh = wc.posts(root, target.table_prefix)
    grant = root.cursor().execute  # no parameters: the host is a literal '%'
    grant(f"REVOKE ALL PRIVILEGES ON {target.db_name}.* FROM {grantee}")
    grant(f"GRANT SELECT ON {target.db_name}.* TO {grantee}")
    conf = sandbox_state.mode_a_conf(sandbox, str(uuid.uuid4()), target=target)
    run_id = conf["migration_id"]
    topo_rest.wait_for_dag(MODE_A)
    try:
        assert topo_rest.trigger(MODE_A, run_id, conf).status_code == 200
        failed = topo_rest.wait(MODE_A, run_id, timeout=900)
        states = topo_rest.task_states(MODE_A, run_id)
        assert failed["state"] == "failed", states
        assert states["import_database"] == "failed" and states["export_database"] == "success", states
        assert wc.posts(root, target.table_prefix) == fresh  # nothing half-written
    finally:
        grant(f"GRANT ALL PRIVILEGES ON {target.db_name}.* TO {grantee}")
    before = {t["task_id"]: t["try_number"] for t in topo_rest.task_instances(MODE_A, run_id)}
    topo_rest.clear(MODE_A, run_id, ["import_database"])
    run = topo_rest.wait(MODE_A, run_id, timeout=900,
                         until=lambda r: r["state"] in ("success", "failed") and r["end_date"] is not None
                         and r["end_date"] > failed["end_date"])
    tis = {t["task_id"]: t for t in topo_rest.task_instances(MODE_A, run_id)}
    assert run["state"] == "success", {k: t["state"] for k, t in tis.items()}
    assert tis["import_database"]["try_number"] > before["import_database"]
    assert tis["import_database"]["hostname"] in topology.WORKERS
    assert tis["export_database"]["try_number"] == before["export_database"]  # the export was kept
    assert topo_rest.xcom(MODE_A, run_id, "verify", "report")["ok"] is True
    source_db, target_db = wc.db(sandbox, "source"), wc.db_named(sandbox, target.db_name)
    source = wc.posts(source_db, sandbox.source.table_prefix)
    migrated = wc.posts(target_db, target.table_prefix)
    assert not {i for i, post in source.items() if migrated.get(i) != post}
    for table in ("postmeta", "comments", "term_relationships"):
        assert (wc.migrated_rows(target_db, target.table_prefix, table)
                == wc.migrated_rows(source_db, sandbox.source.table_prefix, table)), table


def test_two_runs_of_one_source_share_its_politeness_limit(sandbox, topo, topo_rest) -> None:
    """Two Mode B runs of the same source host at once, their tasks on both workers: the
    source's own request log shows no second with more than 10 requests from the two
    together (one limit per host in Redis, not one per process). Dry runs: no target writes."""
    confs = []
    for _ in range(2):
        conf = sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4()))
        conf["dry_run"] = True
        confs.append(conf)
    topo_rest.wait_for_dag(MODE_B)
    started = time.time()
    for conf in confs:
        assert topo_rest.trigger(MODE_B, conf["migration_id"], conf).status_code == 200
    runs = [topo_rest.wait(MODE_B, conf["migration_id"], timeout=1200) for conf in confs]
    ended = time.time()
    assert [r["state"] for r in runs] == ["success", "success"]
    assert max(r["start_date"] for r in runs) < min(r["end_date"] for r in runs)  # they overlapped
    hosts = {t["hostname"] for c in confs for t in topo_rest.task_instances(MODE_B, c["migration_id"])
             if t["state"] == "success"}
    assert hosts == set(topology.WORKERS)
    times = tc.our_requests(sandbox.source.request_log, started, ended)
    assert len(times) >= 40  # both runs read the source (about 30 requests each)
    busiest = tc.busiest_second(times)
    assert busiest <= 10, f"{busiest} requests within one second"
