"""Benchmark: one Mode A migration of a big site on the production topology, against the bare
copy by the standard tools in the same run, and the wall time that implies for 10 GB and 50 GB.

A sandbox of its own (``var/sandbox-scale``) gets ``--rows`` bulk postmeta rows and
``--files-mb`` of incompressible uploads (files of ``--file-kb``), and a topology of its own
(``var/topology-scale``: PostgreSQL, Redis, moto's server for S3 and Secrets Manager, two
Celery workers; moto stands in for AWS, which cannot run here). One Mode A run goes through
the REST API, as the portal triggers it; each task's time, bytes and peak RSS come from the
REST API, its XComs and its log.

The baseline is what a person with shell access would do, with no URL rewrite and no
verification: ``mariadb-dump --single-transaction | mariadb`` into a scratch database on the
same server, then ``scp -r`` of wp-content over the same sshd. Ratio = baseline / ours (above
1: we are faster).

The estimate scales each stage of the run's critical path by its own bytes (database stages
by the database's size, file stages by the files', verify by both), from this run's rates;
per-task start-up (seconds) is counted once, at the size measured. ``--db-share`` says which
part of a site is its database (default 0.1).

    PYTHONPATH=include:sandbox .venv/bin/python bench/topology_scale.py [--rows 2000000] [--files-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "sandbox")]
os.environ.setdefault("WPMIGRATE_TOPOLOGY_HOME", str(ROOT / "var" / "topology-scale"))

from wpsandbox import build, topology  # noqa: E402
from wpsandbox import state as sandbox_state  # noqa: E402
from wpsandbox.portal_client import AirflowRest  # noqa: E402

MODE_A = "wp_migration_full_access"
HOME = ROOT / "var" / "sandbox-scale"
REPORT = ROOT / "var" / "reports" / "topology-scale.json"
PEAK_RSS = re.compile(r"peak RSS: ([0-9.]+) MB")
MB = 1024 * 1024


def add_uploads(wp_content: Path, total_mb: int, file_kb: int) -> tuple[int, int]:
    """Incompressible files under uploads/scale/ (kept between runs of the same size)."""
    folder = wp_content / "uploads" / "scale"
    count = max(1, total_mb * 1024 // file_kb)
    stamp = folder / ".size"
    if not (stamp.exists() and stamp.read_text() == f"{count}x{file_kb}"):
        shutil.rmtree(folder, ignore_errors=True)
        for i in range(count):
            path = folder / f"{i // 200:03d}" / f"photo-{i:06d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(file_kb * 1024))
        stamp.write_text(f"{count}x{file_kb}")
    return count, count * file_kb * 1024


def baseline(state: sandbox_state.SandboxState) -> dict[str, float]:
    """The bare copy: dump piped into a scratch database, then scp -r of wp-content."""
    sock = state.db.socket
    root = ["--no-defaults", f"--socket={sock}", "-uroot"]
    subprocess.run(["mariadb", *root, "-e", "DROP DATABASE IF EXISTS bench_copy; CREATE DATABASE bench_copy "
                    "CHARACTER SET utf8mb4"], check=True)
    started = time.monotonic()
    dump = subprocess.Popen(["mariadb-dump", *root, "--single-transaction", "--default-character-set=utf8mb4",
                             state.db.source_db], stdout=subprocess.PIPE)
    subprocess.run(["mariadb", *root, "--default-character-set=utf8mb4", "bench_copy"], stdin=dump.stdout,
                   check=True)
    assert dump.wait() == 0
    db_seconds = time.monotonic() - started
    subprocess.run(["mariadb", *root, "-e", "DROP DATABASE bench_copy"], check=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
        started = time.monotonic()
        subprocess.run(["scp", "-q", "-r", "-P", str(state.sftp.port), "-i", state.sftp.key_file,
                        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                        f"{state.sftp.user}@{state.sftp.host}:{state.source.wp_content}", tmp], check=True)
        files_seconds = time.monotonic() - started
    return {"db_seconds": round(db_seconds, 1), "files_seconds": round(files_seconds, 1),
            "total_seconds": round(db_seconds + files_seconds, 1)}


def _seconds(ti: dict[str, Any]) -> float:
    return (datetime.fromisoformat(ti["end_date"]) - datetime.fromisoformat(ti["start_date"])).total_seconds()


def migrate(state: sandbox_state.SandboxState, topo: topology.Topology) -> dict[str, Any]:
    rest = AirflowRest(topo.url, topo.username, topo.password)
    rest.wait_for_dag(MODE_A)
    conf = sandbox_state.mode_a_conf(state, str(uuid.uuid4()))
    run_id = conf["migration_id"]
    started = time.time()
    response = rest.trigger(MODE_A, run_id, conf)
    response.raise_for_status()
    run = rest.wait(MODE_A, run_id, timeout=4 * 3600, poll=5)
    wall = time.time() - started
    tasks = {}
    for ti in rest.task_instances(MODE_A, run_id):
        if ti["state"] != "success":
            continue
        peaks = PEAK_RSS.findall(rest.log(MODE_A, run_id, ti["task_id"], ti["try_number"]))
        tasks[ti["task_id"]] = {"seconds": round(_seconds(ti), 1), "hostname": ti["hostname"],
                                "peak_rss_mb": float(peaks[-1]) if peaks else None}
    report = rest.xcom(MODE_A, run_id, "verify", "report") if run["state"] == "success" else None
    return {"state": run["state"], "wall_seconds": round(wall, 1), "tasks": tasks,
            "verified": bool(report and report.get("ok")),
            "db_bytes": rest.xcom(MODE_A, run_id, "export_database")["bytes"],
            "files_bytes": rest.xcom(MODE_A, run_id, "export_files")["bytes"]}


def critical_path(t: dict[str, float], db: float = 1.0, files: float = 1.0, both: float = 1.0) -> float:
    """The DAG's longest chain, each stage scaled by its data: import_database follows the
    database export while the files export runs beside both; then import_files and verify."""
    return (max((t["export_database"] + t["import_database"]) * db, t["export_files"] * files)
            + t["import_files"] * files + t["verify"] * both)


def estimate(ours: dict[str, Any], total_bytes: float, db_share: float) -> dict[str, float]:
    """Wall time of a site of ``total_bytes`` from this run: stages scaled by their data, the
    rest (validate, provision, notify, cleanup, scheduling) as measured."""
    t = {k: v["seconds"] for k, v in ours["tasks"].items()}
    fixed = ours["wall_seconds"] - critical_path(t)
    scaled = critical_path(t, db=total_bytes * db_share / ours["db_bytes"],
                           files=total_bytes * (1 - db_share) / ours["files_bytes"],
                           both=total_bytes / (ours["db_bytes"] + ours["files_bytes"]))
    return {"seconds": round(fixed + scaled), "hours": round((fixed + scaled) / 3600, 2)}


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its reaped children (a worker's finished tasks, sshd's
    finished sessions), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_by_component(state: sandbox_state.SandboxState, topo: topology.Topology) -> dict[str, float]:
    pids = {name: [pid] for name, pid in topo.pids.items()}
    pids["mariadb (source and target)"] = [state.db.pid]
    pids["sshd (source)"] = [state.sftp.pid]
    pids["php (source and target)"] = [state.source.pid, state.target.pid]
    pids["postgresql"] = [int((Path(topo.home) / "pg" / "data" / "postmaster.pid").read_text().split()[0])]
    # A worker's task processes are its children's children: count the whole tree that lives
    # now, plus what the leaders have reaped.
    return {name: sum(cpu_seconds(p) for p in [*roots, *build.descendants(roots)])
            for name, roots in pids.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="bulk postmeta rows on the source")
    ap.add_argument("--files-mb", type=int, default=1024, help="incompressible uploads to add (MiB)")
    ap.add_argument("--file-kb", type=int, default=256, help="size of each added file (KiB)")
    ap.add_argument("--db-share", type=float, default=0.1, help="the database's part of a site (estimate)")
    ap.add_argument("--keep", action="store_true", help="leave the sandbox and topology running")
    args = ap.parse_args()

    state = build.up(postmeta_rows=args.rows, home=HOME)
    files, files_bytes = add_uploads(Path(state.source.wp_content), args.files_mb, args.file_kb)
    print(f"source: {args.rows} postmeta rows, {files} added files ({files_bytes / MB:.0f} MiB)", flush=True)
    try:
        bare = baseline(state)
        print(f"baseline: {json.dumps(bare)}", flush=True)
        conns = {k: json.loads(v) for k, v in sandbox_state.connections(state).items()}
        topo = topology.up(conns, {"WPMIGRATE_ALLOWED_SOURCE_NETWORKS": "127.0.0.0/8"})
        time.sleep(10)  # let the components settle after start-up
        before = cpu_by_component(state, topo)
        ours = migrate(state, topo)
        after = cpu_by_component(state, topo)
    finally:
        if not args.keep:
            topology.down()
    total = ours["db_bytes"] + ours["files_bytes"]
    rates = {name: round((ours["db_bytes"] if "database" in name else ours["files_bytes"])
                         / MB / ours["tasks"][name]["seconds"], 1)
             for name in ("export_database", "import_database", "export_files", "import_files")}
    result = {
        "measured": {**ours, "total_mib": round(total / MB), "rates_mib_s": rates, "baseline": bare,
                     "ratio_baseline_over_ours": round(bare["total_seconds"] / ours["wall_seconds"], 2)},
        "cpu_seconds": {name: round(after[name] - before[name], 1) for name in after},
        "machine_cpus": os.cpu_count(),
        "estimate": {f"{gb}GB": estimate(ours, gb * 1024**3, args.db_share) for gb in (10, 50)},
        "db_share": args.db_share,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not args.keep:
        build.down(HOME)


if __name__ == "__main__":
    main()
