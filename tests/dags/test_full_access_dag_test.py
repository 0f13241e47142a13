"""``dag.test()`` runs Mode A in-process against the sandbox: the quick debug path for a
developer, no scheduler involved (Airflow's documented way to run a DAG in a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from wpsandbox import build
from wpsandbox import state as sandbox_state

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sandbox

SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags["wp_migration_full_access"]
run = dag.test(run_conf=json.loads(sys.argv[2]))
print("RUN_STATE", run.state)
for ti in run.get_task_instances():
    print("TI", ti.task_id, ti.state)
"""


def test_dag_test_migrates_the_sandbox(sandbox, tmp_path: Path) -> None:
    build.reset_target(sandbox)
    env = dict(os.environ)
    env.update(sandbox_state.airflow_connections(sandbox))
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "WPMIGRATE_ALLOWED_SOURCE_NETWORKS": "127.0.0.0/8",
        "WPMIGRATE_ARTIFACTS_ROOT": (tmp_path / "artifacts").as_uri(),
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("include", "plugins", "sandbox")),
    })
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    conf = sandbox_state.mode_a_conf(sandbox, str(uuid.uuid4()))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "dags"), json.dumps(conf)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert "RUN_STATE success" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    states = dict(line.split()[1:3] for line in out.stdout.splitlines() if line.startswith("TI "))
    assert states["verify"] == "success" and states["import_database"] == "success"
    assert list((tmp_path / "artifacts").rglob("verification.html"))
