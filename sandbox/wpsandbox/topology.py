"""The production topology of ``docker-compose.yaml``, without containers, on 127.0.0.1.

- PostgreSQL (Debian's server, a private data dir and port) as the metadata database.
- Redis (Debian's) as the Celery broker.
- moto's server standing in for AWS: S3 holds the artifacts, Secrets Manager the
  connections (the amazon provider's ``SecretsManagerBackend``, the compose file's prefixes).
- Airflow as separate processes: api-server, scheduler, dag-processor, triggerer and two
  Celery workers. Each worker has its own working directory, ``TMPDIR`` and hostname, as
  if on another machine. All share one JWT secret and the execution API URL.

``up()`` starts it all under ``var/topology`` and returns a ``Topology``; ``down()`` stops
every process and leaves nothing running. The tests (``tests/topology``) and
``python -m wpsandbox topology up|down`` use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wpsandbox.local_airflow import USER, settings
from wpsandbox.services import free_ports, start_group, stop_group, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BUCKET = "wpmigrate-artifacts"
# The prefixes docker-compose.yaml gives the secrets backend.
CONNECTIONS_PREFIX = "wpmigrate/connections"
VARIABLES_PREFIX = "wpmigrate/variables"
ARTIFACTS_CONN_ID = "wpm_artifacts_s3"
WORKERS = ("worker-1", "worker-2")
WORKER_CONCURRENCY = 4  # task slots per worker (the compose file's worker runs as many)
SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
# How each worker was started (cwd, command, log, environment), for restart_worker.
_LAUNCH: dict[str, tuple[Path, list[str], Path, dict[str, str]]] = {}


@dataclass
class Topology:
    home: str
    url: str  # the api-server
    username: str
    password: str
    aws_endpoint: str
    pg_port: int
    redis_port: int
    artifacts_root: str
    pids: dict[str, int] = field(default_factory=dict)
    workers: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {cwd, tmp}


def home_dir() -> Path:
    return Path(os.environ.get("WPMIGRATE_TOPOLOGY_HOME", ROOT / "var" / "topology"))


def _state_file() -> Path:
    return home_dir() / "topology.json"


def load() -> Topology | None:
    try:
        return Topology(**json.loads(_state_file().read_text()))
    except (OSError, ValueError, TypeError):
        return None


def aws_env(endpoint: str) -> dict[str, str]:
    """What every AWS client (boto3, s3fs) of this topology reads: moto's endpoint and its
    dummy credentials (moto accepts any)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "moto", "AWS_SECRET_ACCESS_KEY": "moto",
            "AWS_DEFAULT_REGION": "us-east-1"}


# ---------------------------------------------------------------- services
def _postgres(home: Path, port: int) -> None:
    data, sock = home / "pg" / "data", home / "pg" / "run"
    sock.mkdir(parents=True, exist_ok=True)
    # The server refuses to run as root: the data dir belongs to Debian's postgres user.
    subprocess.run(["chown", "-R", "postgres:postgres", str(home / "pg")], check=True)
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if not (data / "PG_VERSION").exists():
        subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-A", "trust", "-U", "airflow", "-D", str(data)],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(home / "pg" / "server.log"),
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    exists = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "-d", "postgres",
                             "-tAc", "SELECT 1 FROM pg_database WHERE datname='airflow'"],
                            check=True, capture_output=True, text=True).stdout.strip()
    if not exists:
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "-d", "postgres",
                        "-c", "CREATE DATABASE airflow"], check=True, stdout=subprocess.DEVNULL)


def _stop_postgres(home: Path) -> None:
    data = home / "pg" / "data"
    if (data / "postmaster.pid").exists():
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _redis(home: Path, port: int) -> int:
    return start_group(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(home)], home / "logs" / "redis.log")


def _moto(home: Path, port: int) -> int:
    return start_group([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                       home / "logs" / "moto.log")


def put_connections(endpoint: str, connections: dict[str, dict[str, Any]]) -> None:
    """Store connections in (moto's) Secrets Manager where the backend looks for them."""
    import boto3

    client = boto3.client("secretsmanager", **_boto_args(endpoint))
    for conn_id, conn in connections.items():
        name, value = f"{CONNECTIONS_PREFIX}/{conn_id}", json.dumps(conn)
        try:
            client.create_secret(Name=name, SecretString=value)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)


def _boto_args(endpoint: str) -> dict[str, str]:
    return {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "moto",
            "aws_secret_access_key": "moto"}


# ---------------------------------------------------------------- airflow
def airflow_env(topo: Topology, jwt_secret: str, extra: dict[str, str]) -> dict[str, str]:
    """The compose file's ``x-airflow-common`` environment, for processes on this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WPMIGRATE_"))}
    pg = f"airflow@127.0.0.1:{topo.pg_port}/airflow"
    api_port = topo.url.rsplit(":", 1)[1]
    env.update({
        "AIRFLOW_HOME": str(Path(topo.home) / "airflow"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{topo.redis_port}/0",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{topo.url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": api_port,
        "AIRFLOW__API__BASE_URL": topo.url,
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(Path(topo.home) / "passwords.json"),
        "AIRFLOW__SECRETS__BACKEND": SECRETS_BACKEND,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_prefix": CONNECTIONS_PREFIX,
                                                        "variables_prefix": VARIABLES_PREFIX}),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
        # A lost worker's tasks are failed (and retried elsewhere) after 30 s, not 5 minutes.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins"), str(ROOT / "sandbox")]),
        "WPMIGRATE_ARTIFACTS_ROOT": topo.artifacts_root,
        # One politeness limit per source host for every worker and run (db 1: not the broker's).
        "WPMIGRATE_RATE_LIMIT_REDIS_URL": f"redis://127.0.0.1:{topo.redis_port}/1",
        **aws_env(topo.aws_endpoint),
    })
    env.update(extra)
    return env


def _airflow(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def healthy(topo: Topology) -> bool:
    try:
        body = httpx.get(f"{topo.url}/api/v2/monitor/health", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return False
    return all((body.get(c) or {}).get("status") == "healthy"
               for c in ("metadatabase", "scheduler", "triggerer", "dag_processor"))


def up(connections: dict[str, dict[str, Any]], extra_env: dict[str, str] | None = None,
       timeout: float = 240) -> Topology:
    """Start everything (after stopping what an earlier ``up`` left); ``connections`` go to
    Secrets Manager, ``extra_env`` (wpmigrate settings, no secret) to every Airflow process."""
    down()
    home = home_dir()
    shutil.rmtree(home, ignore_errors=True)
    (home / "logs").mkdir(parents=True)
    pg_port, redis_port, moto_port, api_port = free_ports(4)
    endpoint = f"http://127.0.0.1:{moto_port}"
    topo = Topology(home=str(home), url=f"http://127.0.0.1:{api_port}", username=USER,
                    password=secrets.token_urlsafe(16), aws_endpoint=endpoint, pg_port=pg_port,
                    redis_port=redis_port, artifacts_root=f"s3://{ARTIFACTS_CONN_ID}@{BUCKET}/migrations")
    _save(topo)  # from here on, down() finds what to stop
    _postgres(home, pg_port)
    topo.pids["redis"] = _redis(home, redis_port)
    topo.pids["moto"] = _moto(home, moto_port)
    _save(topo)
    wait_for_port(redis_port)
    wait_for_port(moto_port)
    import boto3

    boto3.client("s3", **_boto_args(endpoint)).create_bucket(Bucket=BUCKET)
    # The artifact store's connection comes from Secrets Manager too; s3fs reads the
    # endpoint from it (and from AWS_ENDPOINT_URL).
    put_connections(endpoint, {**connections, ARTIFACTS_CONN_ID: {
        "conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}}})

    pw_file = home / "passwords.json"
    pw_file.write_text(json.dumps({USER: topo.password}))
    pw_file.chmod(0o600)
    jwt_secret = secrets.token_urlsafe(32)
    env = airflow_env(topo, jwt_secret, extra_env or {})
    _airflow("db", "migrate", env=env)
    for pool in settings()["pools"]:
        _airflow("pools", "set", pool["pool_name"], str(pool["pool_slot"]), pool["pool_description"], env=env)
    used = {pg_port, redis_port, moto_port, api_port}
    for name in AIRFLOW_PROCESSES:
        (log_port,) = free_ports(1, avoid=used)
        used.add(log_port)
        cmd = ["api-server"] if name == "api-server" else [name]
        topo.pids[name] = start_group([str(Path(sys.executable).parent / "airflow"), *cmd],
                                      home / "logs" / f"{name}.log",
                                      env={**env, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_port)})
    for name in WORKERS:
        cwd, tmp = home / name / "work", home / name / "tmp"
        cwd.mkdir(parents=True)
        tmp.mkdir(parents=True)
        (log_port,) = free_ports(1, avoid=used)
        used.add(log_port)
        worker_env = {**env, "TMPDIR": str(tmp), "WPMIGRATE_WORKER_HOSTNAME": name,
                      "AIRFLOW__CORE__HOSTNAME_CALLABLE": "wpsandbox.worker_identity.hostname",
                      "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)}
        _LAUNCH[name] = (cwd, [str(Path(sys.executable).parent / "airflow"), "celery", "worker",
                               "--celery-hostname", f"{name}@127.0.0.1"],
                         home / "logs" / f"{name}.log", worker_env)
        topo.pids[name] = _start_in(*_LAUNCH[name])
        topo.workers[name] = {"cwd": str(cwd), "tmp": str(tmp)}
    _save(topo)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(topo) and _workers_ready(topo, env):
            return topo
        dead = [n for n, pid in topo.pids.items() if not _alive(pid)]
        if dead:
            raise RuntimeError(f"topology process(es) {dead} exited; see {home / 'logs'}")
        time.sleep(2)
    raise TimeoutError(f"topology not healthy after {timeout}s; see {home / 'logs'}")


def _start_in(cwd: Path, cmd: list[str], log: Path, env: dict[str, str]) -> int:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    return proc.pid


def _workers_ready(topo: Topology, env: dict[str, str]) -> bool:
    """Both Celery workers answer a ping through the broker."""
    found = subprocess.run([str(Path(sys.executable).parent / "celery"), "--broker",
                            f"redis://127.0.0.1:{topo.redis_port}/0", "inspect", "ping", "--json", "-t", "3"],
                           capture_output=True, text=True, env=env, check=False)
    try:
        answered = json.loads(found.stdout or "{}")
    except ValueError:
        return False
    return all(f"{name}@127.0.0.1" in answered for name in WORKERS)


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_worker(topo: Topology, name: str) -> None:
    """SIGKILL one worker and the tasks it runs, at once: a machine lost mid-task."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(topo.pids[name], signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(topo.pids[name], 0)


def restart_worker(topo: Topology, name: str, timeout: float = 60) -> None:
    """Start a worker again as ``up`` started it (same folders, hostname and settings);
    only in the process that ran ``up`` (the launch settings hold the JWT secret and stay
    in memory, never on disk)."""
    topo.pids[name] = _start_in(*_LAUNCH[name])
    _save(topo)
    deadline = time.monotonic() + timeout
    while not _workers_ready(topo, _LAUNCH[name][3]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not come back; see {Path(topo.home) / 'logs'}")
        time.sleep(1)


def _save(topo: Topology) -> None:
    _state_file().parent.mkdir(parents=True, exist_ok=True)
    _state_file().write_text(json.dumps(asdict(topo)))
    _state_file().chmod(0o600)


def down() -> None:
    topo = load()
    if topo is None:
        return
    for name in (*WORKERS, *reversed(AIRFLOW_PROCESSES), "moto", "redis"):
        stop_group(topo.pids.get(name), timeout=20)
    _stop_postgres(Path(topo.home))
    _state_file().unlink(missing_ok=True)
