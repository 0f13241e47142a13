"""``dag.test()`` runs each mode in-process against the sandbox: the quick debug path for a
developer, no scheduler involved (Airflow's documented way to run a DAG in a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support import wordpress_checks as wc
from wpsandbox import build
from wpsandbox import state as sandbox_state

ROOT = Path(__file__).resolve().parents[2]
TT3 = Path("/usr/share/wordpress/wp-content/themes/twentytwentythree")
pytestmark = pytest.mark.sandbox

SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[3]]
run = dag.test(run_conf=json.loads(sys.argv[2]))
print("RUN_STATE", run.state)
for ti in run.get_task_instances():
    print("TI", ti.task_id, ti.map_index if ti.map_index >= 0 else "", ti.state)
"""


def _dag_test(sandbox, tmp_path: Path, dag_id: str, conf: dict) -> dict[str, str]:
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
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "dags"), json.dumps(conf), dag_id],
                         env=env, capture_output=True, text=True, timeout=600)
    assert "RUN_STATE success" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    assert list((tmp_path / "artifacts").rglob("verification.html"))
    return {" ".join(line.split()[1:-1]): line.split()[-1] for line in out.stdout.splitlines()
            if line.startswith("TI ")}


def test_dag_test_migrates_the_sandbox(sandbox, tmp_path: Path) -> None:
    build.reset_target(sandbox)
    states = _dag_test(sandbox, tmp_path, "wp_migration_full_access",
                       sandbox_state.mode_a_conf(sandbox, str(uuid.uuid4())))
    assert states["verify"] == "success" and states["import_database"] == "success"


def test_dag_test_rebuilds_the_sandbox_in_the_selected_theme(sandbox, tmp_path: Path) -> None:
    """Mode B in-process, with ``select_theme``: the named style variation is applied."""
    build.reset_target(sandbox)
    conf = sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4()))
    conf.update(theme_preference="select_theme", selected_theme="twentytwentythree/Pilgrimage")
    try:
        states = _dag_test(sandbox, tmp_path, "wp_migration_scrape_rebuild", conf)
        assert states["verify"] == "success" and states["import_content"] == "success"
        variation = json.loads((TT3 / "styles" / "pilgrimage.json").read_text())
        palette = {e["slug"]: e["color"].lower() for e in variation["settings"]["color"]["palette"]}
        stored = wc.rows(wc.db(sandbox, "target"), "SELECT post_content FROM wp_posts WHERE "
                                                   "post_name='wp-global-styles-twentytwentythree'")
        assert len(stored) == 1 and palette["base"] in stored[0][0].decode().lower()
    finally:
        build.reset_target(sandbox)


def test_dag_test_rebuilds_a_site_that_is_not_wordpress_when_allowed(sandbox, tmp_path: Path) -> None:
    """allow_non_wordpress: the sandbox's hand-written static site is crawled and rebuilt
    from its HTML alone (without the flag it is NOT_WORDPRESS, see the e2e tests)."""
    build.reset_target(sandbox)
    conf = sandbox_state.mode_b_conf(sandbox, str(uuid.uuid4()))
    conf.update(source_url=sandbox.static.url, allow_non_wordpress=True)
    try:
        states = _dag_test(sandbox, tmp_path, "wp_migration_scrape_rebuild", conf)
        assert states["verify"] == "success"
        pages = wc.rows(wc.db(sandbox, "target"), "SELECT post_title, post_content FROM wp_posts "
                                                  "WHERE post_type='page' AND post_status='publish'")
        titles = {t.decode(): c.decode() for t, c in pages}
        assert {"Plain Static Site", "About"} <= set(titles)
        assert "Hand-written HTML." in titles["About"]
    finally:
        build.reset_target(sandbox)
