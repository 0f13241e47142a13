"""The deployment files hold together: the compose file has every Airflow 3 component
sharing one JWT secret and execution API URL, and the pools the DAGs use exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

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
