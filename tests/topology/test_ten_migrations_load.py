"""Ten migrations at once on the production topology: ten Mode A runs, each into its own
platform target, plus two Mode B runs of one source host (the classic source), all triggered
together through the REST API and run by the two Celery workers. moto's server stands in
for AWS (S3, Secrets Manager); everything else is the real thing on 127.0.0.1.

Besides what it asserts, the module writes what it measured (wall time, each task's peak
RSS, the scheduler's delay from trigger to first task, the pools' busiest moment) to
``var/reports/topology-load.json``, for the README's scale section."""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import topology_checks as tc
from tests.support import wordpress_checks as wc
from wpsandbox import build, topology
from wpsandbox import state as sandbox_state
from wpsandbox.state import PlatformTarget

pytestmark = [pytest.mark.topology, pytest.mark.e2e, pytest.mark.sandbox]

MODE_A, MODE_B = "wp_migration_full_access", "wp_migration_scrape_rebuild"
MODE_A_RUNS, MODE_B_RUNS = 10, 2
# The seed's migration workers (000 §2: 1024 MB).
WORKER_MEMORY_MB = 1024
# Tasks whose body runs in dag_support.reported (and so logs its peak RSS).
UNMEASURED = {"wait_for_window", "notify", "cleanup", "final_state"}
PEAK_RSS = re.compile(r"peak RSS: ([0-9.]+) MB")
REPORT = Path(__file__).resolve().parents[2] / "var" / "reports" / "topology-load.json"


def _when(stamp: str | None) -> float:
    return datetime.fromisoformat(stamp).timestamp() if stamp else float("nan")


def _busiest(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (an end before a start at the same instant)."""
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    open_now = most = 0
    for _, step in events:
        open_now += step
        most = max(most, open_now)
    return most


@pytest.fixture(scope="module")
def load(sandbox, topo, topo_rest) -> dict[str, Any]:
    targets = tc.fresh_targets(sandbox, topo, MODE_A_RUNS + MODE_B_RUNS)
    build.up_classic_source(sandbox)
    build.set_classic_source_rest(True, sandbox)
    assert sandbox.classic_source is not None
    runs: list[tuple[str, dict[str, Any], PlatformTarget]] = [
        (MODE_A, sandbox_state.mode_a_conf(sandbox, str(uuid.uuid4()), target=t), t)
        for t in targets[:MODE_A_RUNS]
    ]
    runs += [
        (
            MODE_B,
            sandbox_state.mode_b_conf(
                sandbox, str(uuid.uuid4()), target=t, source_url=sandbox.classic_source.url
            ),
            t,
        )
        for t in targets[MODE_A_RUNS:]
    ]
    topo_rest.wait_for_dag(MODE_A)
    topo_rest.wait_for_dag(MODE_B)
    started = time.time()
    for dag_id, conf, _ in runs:
        response = topo_rest.trigger(dag_id, conf["migration_id"], conf)
        assert response.status_code == 200, response.text
    done = {
        conf["migration_id"]: topo_rest.wait(dag_id, conf["migration_id"], timeout=2400, poll=5)
        for dag_id, conf, _ in runs
    }
    ended = time.time()
    tis = {
        conf["migration_id"]: topo_rest.task_instances(dag_id, conf["migration_id"])
        for dag_id, conf, _ in runs
    }
    return {"runs": runs, "done": done, "tis": tis, "started": started, "ended": ended}


def test_every_run_succeeds_and_verifies(load, topo_rest, sandbox) -> None:
    failed = {
        run_id: {(t["task_id"], t["map_index"]): t["state"] for t in load["tis"][run_id]}
        for run_id, run in load["done"].items()
        if run["state"] != "success"
    }
    assert not failed
    source = wc.posts(wc.db(sandbox, "source"), sandbox.source.table_prefix)
    published = {
        r[0]
        for r in wc.rows(
            wc.db(sandbox, "classic"),
            f"SELECT post_name FROM {sandbox.classic_source.table_prefix}posts "
            "WHERE post_status='publish' AND post_type IN ('page','post') AND post_password=''",
        )
    }
    assert source and published
    for dag_id, conf, target in load["runs"]:
        assert topo_rest.xcom(dag_id, conf["migration_id"], "verify", "report")["ok"] is True
        conn = wc.db_named(sandbox, target.db_name)
        if dag_id == MODE_A:
            # Each target holds the source, once: ten imports at once did not cross.
            migrated = wc.posts(conn, target.table_prefix)
            assert not {i for i, post in source.items() if migrated.get(i) != post}, target.url
            assert wc.migrated_rows(conn, target.table_prefix, "postmeta") == wc.migrated_rows(
                wc.db(sandbox, "source"), sandbox.source.table_prefix, "postmeta"
            )
        else:
            rebuilt = {
                r[0]
                for r in wc.rows(
                    conn,
                    f"SELECT post_name FROM {target.table_prefix}posts "
                    "WHERE post_status='publish' AND post_type IN ('page','post')",
                )
            }
            assert published <= rebuilt, target.url


def test_the_runs_ran_at_once_on_both_workers(load) -> None:
    spans = [(_when(r["start_date"]), _when(r["end_date"])) for r in load["done"].values()]
    assert _busiest(spans) >= MODE_A_RUNS
    hosts = {t["hostname"] for tis in load["tis"].values() for t in tis if t["state"] == "success"}
    assert hosts == set(topology.WORKERS)


def test_pools_bound_what_reaches_sources_and_targets(load, topo_rest) -> None:
    """Twenty exports and twenty imports wanted to run; the pools let four of each at a time
    (an interval per task instance, from its start to its end)."""
    slots = {p["name"]: p["slots"] for p in topo_rest.http.get("/api/v2/pools").json()["pools"]}
    for pool in ("wpmigrate_source_io", "wpmigrate_target_io"):
        spans = [
            (_when(t["start_date"]), _when(t["end_date"]))
            for tis in load["tis"].values()
            for t in tis
            if t["pool"] == pool and t["start_date"] and t["end_date"]
        ]
        assert len(spans) >= 2 * MODE_A_RUNS, pool
        # Saturated (the bound was reached) and never exceeded.
        assert _busiest(spans) == slots[pool], (pool, _busiest(spans), slots[pool])


def _passwords(sandbox) -> list[str]:
    """Every connection's password (the extra targets' writers and application passwords too)."""
    found = tc.connection_passwords(sandbox)
    assert len(found) >= 2 * (MODE_A_RUNS + MODE_B_RUNS)
    return found


def test_xcom_names_only_s3_artifacts_and_no_secret(load, topo_rest, sandbox) -> None:
    passwords = _passwords(sandbox)
    for dag_id, conf, target in load["runs"]:
        entries = topo_rest.xcom_entries(dag_id, conf["migration_id"])
        values = tc.xcom_strings(entries, target.wp_content, target.docroot)
        uris = [s for s in values if "://" in s and not s.startswith("http")]
        assert uris and not [u for u in uris if not u.startswith("s3://")], conf["migration_id"]
        dumped = json.dumps([e["value"] for e in entries])
        assert not [p[:4] for p in passwords if p in dumped], conf["migration_id"]


def test_workers_keep_no_file_after_the_runs(load, topo) -> None:
    assert tc.files_left(topo) == {name: [] for name in topology.WORKERS}


def test_two_mode_b_runs_share_the_source_politeness_limit(load, sandbox) -> None:
    times = tc.our_requests(sandbox.classic_source.request_log, load["started"], load["ended"])
    assert len(times) >= 40  # both runs read the source (about 30 requests each)
    busiest = tc.busiest_second(times)
    assert busiest <= 10, f"{busiest} requests within one second"


def test_each_task_fits_a_worker_and_the_figures_are_recorded(load, topo_rest, sandbox) -> None:
    peaks: dict[str, list[float]] = {}
    texts: list[str] = []
    for dag_id, conf, _ in load["runs"]:
        for ti in load["tis"][conf["migration_id"]]:
            if ti["state"] != "success" or ti["task_id"] in UNMEASURED:
                continue
            text = topo_rest.log(
                dag_id, conf["migration_id"], ti["task_id"], ti["try_number"], ti["map_index"]
            )
            texts.append(text)
            found = PEAK_RSS.findall(text)
            assert found, (dag_id, ti["task_id"], ti["map_index"])
            peaks.setdefault(f"{dag_id}.{ti['task_id']}", []).append(float(found[-1]))
    assert len(peaks) >= 12
    too_big = {task: max(mb) for task, mb in peaks.items() if max(mb) >= WORKER_MEMORY_MB}
    assert not too_big
    # No connection's password reached a task log.
    for password in _passwords(sandbox):
        assert not [t[:80] for t in texts if password in t]

    delays = {
        conf["migration_id"]: min(
            _when(t["start_date"]) for t in load["tis"][conf["migration_id"]] if t["start_date"]
        )
        - _when(load["done"][conf["migration_id"]]["queued_at"])
        for _, conf, _ in load["runs"]
    }
    durations = {run_id: _when(r["end_date"]) - _when(r["start_date"]) for run_id, r in load["done"].items()}
    figures = {
        "runs": {"mode_a": MODE_A_RUNS, "mode_b": MODE_B_RUNS},
        "workers": len(topology.WORKERS),
        "worker_concurrency": topology.WORKER_CONCURRENCY,
        "wall_seconds": round(load["ended"] - load["started"], 1),
        "run_seconds": {"min": round(min(durations.values()), 1), "max": round(max(durations.values()), 1)},
        "trigger_to_first_task_seconds": {
            "median": round(statistics.median(delays.values()), 2),
            "max": round(max(delays.values()), 2),
        },
        "peak_rss_mb": {
            task: {"max": max(mb), "median": statistics.median(mb), "tasks": len(mb)}
            for task, mb in sorted(peaks.items())
        },
        "worker_memory_mb": WORKER_MEMORY_MB,
        "source_postmeta_rows": sandbox.facts.get("postmeta_count"),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))  # shown with -s
