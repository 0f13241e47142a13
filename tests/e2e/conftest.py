"""A real local Airflow (standalone: SQLite, LocalExecutor) started for the end-to-end
tests, with the sandbox's connections, and stopped afterwards."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wpsandbox import local_airflow
from wpsandbox import state as sandbox_state
from wpsandbox.portal_client import AirflowRest

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "wp_migration_full_access"


def _bad_connections(sb: sandbox_state.SandboxState, home: Path) -> dict[str, str]:
    """Connections with wrong credentials, for INVALID_CREDENTIALS tests."""
    home.mkdir(parents=True, exist_ok=True)
    stranger_key = home / "stranger_ed25519"
    if not stranger_key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger_key)], check=True)
    conns = json.loads(sandbox_state.connections(sb)[sandbox_state.SOURCE_SFTP_CONN_ID])
    conns["extra"]["key_file"] = str(stranger_key)
    db = json.loads(sandbox_state.connections(sb)[sandbox_state.SOURCE_DB_CONN_ID])
    db["password"] = "definitely-wrong"
    wp = json.loads(sandbox_state.connections(sb)[sandbox_state.TARGET_WP_CONN_ID])
    wp["password"] = "abcd efgh ijkl mnop qrst uvwx"  # an application password the target never issued
    bad = {"AIRFLOW_CONN_WPM_BAD_SFTP": json.dumps(conns), "AIRFLOW_CONN_WPM_BAD_DB": json.dumps(db),
           "AIRFLOW_CONN_WPM_BAD_WP": json.dumps(wp)}
    if sandbox_state.SOURCE_ADMIN_CONN_ID in sandbox_state.connections(sb):
        admin = json.loads(sandbox_state.connections(sb)[sandbox_state.SOURCE_ADMIN_CONN_ID])
        admin["password"] = "not-the-admin-password"
        bad["AIRFLOW_CONN_WPM_BAD_ADMIN"] = json.dumps(admin)
    return bad


def closed_window() -> str:
    """``HH:00-HH:00`` starting 3 hours from now (whole hours keep the Airflow env stable)."""
    start = (datetime.now(UTC) + timedelta(hours=3)).hour
    return f"{start:02d}:00-{(start + 1) % 24:02d}:00"


@pytest.fixture(scope="session")
def airflow(sandbox, admin_source) -> Iterator[local_airflow.AirflowState]:
    # admin_source: its connections (the wp_admin route's logins, the companion key) exist
    # only once it is up, and Airflow reads them from its environment at start.
    home = ROOT / "var" / "airflow-e2e"
    os.environ["WPMIGRATE_AIRFLOW_HOME"] = str(home)
    env = {
        **sandbox_state.airflow_connections(sandbox),
        **_bad_connections(sandbox, home),
        # The sandbox is on loopback; production settings refuse it.
        "WPMIGRATE_ALLOWED_SOURCE_NETWORKS": "127.0.0.0/8",
        # Same retry counts as production, 10x shorter delays.
        "WPMIGRATE_RETRY_DELAY_SCALE": "0.1",
        "WPMIGRATE_ARTIFACTS_ROOT": (ROOT / "var" / "artifacts-e2e").as_uri(),
        # An off-peak window that is surely closed during the test session.
        "WPMIGRATE_OFF_PEAK_WINDOW": closed_window(),
        "WPMIGRATE_OFF_PEAK_TZ": "UTC",
    }
    state = local_airflow.up(extra_env=env)
    yield state
    if not os.environ.get("WPMIGRATE_KEEP_AIRFLOW"):
        local_airflow.down()


@pytest.fixture(scope="session")
def rest(airflow) -> AirflowRest:
    client = AirflowRest(airflow.url, airflow.username, airflow.password)
    client.wait_for_dag(DAG_ID)
    return client
