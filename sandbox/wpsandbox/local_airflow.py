"""The embedded default Airflow: ``airflow standalone`` (LocalExecutor, SQLite,
SimpleAuthManager) with this project's dags, plugins and include on its path, on free
ports, under ``var/airflow``. Used by ``scripts/demo`` and the end-to-end tests."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from wpsandbox.services import free_ports, start_group, stop_group

ROOT = Path(__file__).resolve().parents[2]
USER = "admin"


@dataclass
class AirflowState:
    home: str
    url: str
    port: int
    pid: int
    username: str
    password: str
    fingerprint: str = ""


def home_dir() -> Path:
    return Path(os.environ.get("WPMIGRATE_AIRFLOW_HOME", ROOT / "var" / "airflow"))


def state_file() -> Path:
    return home_dir() / "local-airflow.json"


def airflow_env(home: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    worker_log_port, trigger_log_port = free_ports(2, avoid={port})
    env.update({
        "AIRFLOW_HOME": str(home),
        # standalone starts its components as `airflow ...` from PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        # Without this, tasks may talk to another Airflow on the default port.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins"),
                                       env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "WPMIGRATE_ARTIFACTS_ROOT": env.get("WPMIGRATE_ARTIFACTS_ROOT",
                                            (ROOT / "var" / "artifacts").as_uri()),
    })
    env.update(extra or {})
    return env


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _fingerprint(extra_env: dict[str, str]) -> str:
    """Changes when connections or the project's code change: LocalExecutor workers keep
    modules they imported, so a running Airflow would go on with stale code."""
    digest = hashlib.sha256(json.dumps(extra_env, sort_keys=True).encode())
    for folder in ("dags", "plugins", "include"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(f"{path}:{path.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


def load() -> AirflowState | None:
    try:
        return AirflowState(**json.loads(state_file().read_text()))
    except (OSError, ValueError, TypeError):
        return None


def healthy(state: AirflowState) -> bool:
    try:
        r = httpx.get(f"{state.url}/api/v2/monitor/health", timeout=3)
        body = r.json()
    except (httpx.HTTPError, ValueError):
        return False
    return r.status_code == 200 and all(
        (body.get(c) or {}).get("status") == "healthy" for c in ("metadatabase", "scheduler"))


def up(extra_env: dict[str, str] | None = None, timeout: float = 180) -> AirflowState:
    """Start (or reuse) the local Airflow; ``extra_env`` carries connections
    (``AIRFLOW_CONN_*``) and wpmigrate settings to the scheduler and its tasks."""
    fingerprint = _fingerprint(extra_env or {})
    current = load()
    # Connections are environment variables of the scheduler: new ones need a restart.
    if current and current.fingerprint == fingerprint and healthy(current):
        return current
    down()
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    password = secrets.token_urlsafe(16)
    pw_file = home / "passwords.json"
    pw_file.write_text(json.dumps({USER: password}))
    pw_file.chmod(0o600)
    env = airflow_env(home, port, extra_env)
    subprocess.run([_bin("airflow"), "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for pool in settings()["pools"]:
        subprocess.run([_bin("airflow"), "pools", "set", pool["pool_name"], str(pool["pool_slot"]),
                        pool["pool_description"]], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = start_group([_bin("airflow"), "standalone"], home / "standalone.log", env=env)
    state = AirflowState(home=str(home), url=f"http://127.0.0.1:{port}", port=port, pid=pid,
                         username=USER, password=password, fingerprint=fingerprint)
    state_file().write_text(json.dumps(asdict(state)))
    state_file().chmod(0o600)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(state):
            return state
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            raise RuntimeError(f"local Airflow exited; see {home / 'standalone.log'}") from None
        time.sleep(1)
    raise TimeoutError(f"local Airflow not healthy after {timeout}s; see {home / 'standalone.log'}")


def down() -> None:
    state = load()
    if state:
        stop_group(state.pid, timeout=20)
        state_file().unlink(missing_ok=True)


def settings() -> dict:
    """Pools, variables and connections of ``airflow_settings.yaml`` (Astro format)."""
    import yaml

    return yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "up":
        s = up()
        print(f"Airflow {s.url} (user {s.username}, password in {home_dir() / 'passwords.json'})")
    elif command == "down":
        down()
    else:
        s = load()
        print(json.dumps({"running": bool(s and healthy(s)), "url": s.url if s else None}))
