"""Benchmark: the Mode A source routes side by side, same seeded site, one run.

Runs the export side of Mode A (``export_database`` into a temp dir, then
``export_files`` of wp-content) once per route per round, each in a fresh child process
(so peak RSS is per route), alternating the order over ``--repeat`` rounds after one
unmeasured warm-up round. The domain library only, no Airflow: the SSH logins are
opened with paramiko as providers-ssh's SSHHook opens them for the DAG (key auth,
compression on, keepalive 30 s).

Routes, against the real sandbox (``wpsandbox.build.up`` / ``up_ssh_source``):
  sftp_db  the main source: its database over TCP as the read-only reader user,
           wp-content over SFTP.
  ssh      the ssh source (same seed, its MariaDB socket-only): wp-config.php read over
           SFTP and parsed, the database through ``SshTunnel`` (streamlocal to the socket)
           with wp-config's read-write user in a read-only session, wp-content over SFTP.
  wp_admin (not yet) the companion plugin's export: one more ``Route`` in ``ROUTES``.

Source requests: the delta of the server's global status counters (``Questions``,
``Com_select``, ``Connections``, ``Bytes_sent``), read by a root session over the
server's socket just before and after the child (the root session's own SHOW is
calibrated out); plus the SFTP requests the client sent, by type, and its SSH logins.

    PYTHONPATH=include:sandbox .venv/bin/python bench/routes.py [--repeat 3] [--rows N]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

import MySQLdb
import paramiko
from paramiko.sftp import CMD_NAMES

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "sandbox")]

from wpmigrate.full_access.db.connect import DbParams, connect  # noqa: E402
from wpmigrate.full_access.db.exporter import export_database  # noqa: E402
from wpmigrate.full_access.db.source_endpoint import destinations  # noqa: E402
from wpmigrate.full_access.db.ssh_tunnel import SshTunnel  # noqa: E402
from wpmigrate.full_access.files.exporter import export_files  # noqa: E402
from wpmigrate.full_access.wp_config import parse_db_host, parse_wp_config  # noqa: E402
from wpsandbox import build  # noqa: E402
from wpsandbox.state import SandboxState, load  # noqa: E402

STATUS = ("Questions", "Com_select", "Connections", "Bytes_sent")


# ---------------------------------------------------------------- in the child: what a route did

@dataclass
class Tally:
    """Client-side requests of one route run (one child process, many threads)."""

    requests: Counter[str] = field(default_factory=Counter)
    ssh_logins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.requests[kind] += n

    def login(self) -> None:
        with self._lock:
            self.ssh_logins += 1


TALLY = Tally()
COMPRESS = True  # providers-ssh's SSHHook default (its ``compress`` extra), so the DAG's too


class CountingSftp(paramiko.SFTPClient):
    """An SFTPClient that counts every request it sends. ``_async_request`` is the one
    method all of paramiko's requests go through (``_request``, prefetch, and the
    exporter's ``sftp_pipeline``); it is private, so not in the stubs."""

    def _async_request(self, fileobj: object, t: int, *args: object) -> int:
        TALLY.count(f"sftp {CMD_NAMES.get(t, t)}")
        return int(cast(Any, super())._async_request(fileobj, t, *args))


def ssh_client(state: SandboxState) -> paramiko.SSHClient:
    """A new SSH login to the sandbox's sshd (which serves both sources' files)."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # bench: the sandbox's throwaway host key
    client.connect(state.sftp.host, port=state.sftp.port, username=state.sftp.user,
                   key_filename=state.sftp.key_file, look_for_keys=False, allow_agent=False,
                   compress=COMPRESS)
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(30)
    TALLY.login()
    return client


def open_sftp(client: paramiko.SSHClient) -> paramiko.SFTPClient:
    transport = client.get_transport()
    assert transport is not None
    sftp = CountingSftp.from_transport(transport)
    assert sftp is not None
    return sftp


def sftp_factory(state: SandboxState, clients: list[paramiko.SSHClient]) -> Callable[[], paramiko.SFTPClient]:
    """What ``export_files`` wants: a new SFTP session on its own SSH connection per call."""
    def connect_sftp() -> paramiko.SFTPClient:
        client = ssh_client(state)
        clients.append(client)  # closed at the end; the export closes its sessions itself
        return open_sftp(client)
    return connect_sftp


class Figures(TypedDict):
    """What a route's ``run`` returns (the child adds RSS, CPU and the client's requests)."""

    db_open_s: float  # before the first SQL statement: logins, wp-config, tunnel (or plugin install)
    db_s: float  # database export, db_open_s included
    files_s: float  # wp-content export
    wall_s: float
    db_peak_rss_mb: float  # peak RSS once the database export is done
    db_tables: int
    db_rows: int
    db_bytes: int
    files: int
    files_bytes: int


@dataclass
class Export:
    """Where a route's export reads: its database session comes from ``database``."""

    database: Callable[[], contextlib.AbstractContextManager[MySQLdb.Connection]]
    table_prefix: Callable[[], str]
    wp_content: str


def run_export(state: SandboxState, out: Path, export: Export, clients: list[paramiko.SSHClient],
               ) -> Figures:
    """The export side of Mode A as the DAG's two tasks do it, one after the other."""
    t0 = time.perf_counter()
    with export.database() as conn:
        opened = time.perf_counter()  # logins, wp-config, tunnel: the route's fixed cost
        manifest = export_database(conn, out / "db", table_prefix=export.table_prefix())
    t1 = time.perf_counter()
    db_rss = _maxrss_mb()
    summary = export_files(sftp_factory(state, clients), export.wp_content, out / "files")
    t2 = time.perf_counter()
    totals = manifest["totals"]
    return Figures(db_open_s=opened - t0, db_s=t1 - t0, files_s=t2 - t1, wall_s=t2 - t0,
                   db_peak_rss_mb=db_rss, db_tables=totals["tables"], db_rows=totals["rows"],
                   db_bytes=totals["bytes"], files=summary["files"], files_bytes=summary["bytes"])


def run_sftp_db(state: SandboxState, out: Path) -> Figures:
    """Today's route: the database directly (TCP, the read-only reader user), files over SFTP.
    The table prefix is what validate_source found in wp-config (not re-read here)."""
    db = state.db
    params = DbParams(db.host, db.port, db.reader_user, db.reader_password, db.source_db, read_only=True)
    clients: list[paramiko.SSHClient] = []
    try:
        return run_export(state, out, Export(lambda: contextlib.closing(connect(params)),
                                             lambda: state.source.table_prefix, state.source.wp_content),
                          clients)
    finally:
        for client in clients:
            client.close()


def run_ssh(state: SandboxState, out: Path) -> Figures:
    """The SSH login alone, as ``source_access.source_database`` does it for the export task:
    wp-config.php read over one SFTP session and parsed, the database through a tunnel on a
    second SSH login, wp-config's user in a read-only session."""
    src = state.ssh_source
    assert src is not None
    clients: list[paramiko.SSHClient] = []
    prefix: list[str] = []

    @contextlib.contextmanager
    def database() -> Iterator[MySQLdb.Connection]:
        with contextlib.closing(ssh_client(state)) as login, open_sftp(login) as sftp, \
                sftp.open(f"{src.docroot}/wp-config.php", "rb") as fh:
            settings = parse_wp_config(bytes(fh.read(1 << 20)))
        prefix.append(settings.table_prefix)
        params = DbParams("localhost", 0, settings.db_user, settings.db_password, settings.db_name,
                          read_only=True)
        ssh = ssh_client(state)
        clients.append(ssh)
        # The sandbox's DB_HOST names the socket: one candidate (source_access tries each in turn).
        candidates = destinations(parse_db_host(settings.db_host))
        with SshTunnel(ssh, candidates[0]) as local, contextlib.closing(connect(local.apply(params))) as conn:
            yield conn

    try:
        return run_export(state, out, Export(database, lambda: prefix[0], src.wp_content), clients)
    finally:
        for client in clients:
            client.close()


# ---------------------------------------------------------------- the routes

@dataclass(frozen=True)
class Route:
    """A way to read the source. ``prepare`` (parent) brings up what it needs and returns the
    socket of the MariaDB its site lives on (for the root status session); ``run`` (child)
    exports into ``out`` and returns its figures (see ``run_export``)."""

    name: str
    prepare: Callable[[SandboxState], str]
    run: Callable[[SandboxState, Path], Figures]


def _prepare_ssh(state: SandboxState) -> str:
    ssh = build.up_ssh_source(state).ssh_source
    assert ssh is not None
    return ssh.db_socket


# wp_admin plugs in here as Route("wp_admin", prepare, run): prepare brings up the sandbox site
# the plugin is installed on and returns its MariaDB's socket (the SQL that PHP runs for every
# plugin request is then counted like the other routes' statements); run logs in, installs the
# plugin, exports through it (files over SFTP or the plugin), removes it, and counts each HTTP
# request with TALLY.count("http <METHOD>").
ROUTES: dict[str, Route] = {
    "sftp_db": Route("sftp_db", lambda state: state.db.socket, run_sftp_db),
    "ssh": Route("ssh", _prepare_ssh, run_ssh),
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(route: str, out: Path, compress: bool) -> None:
    """One route run; prints a JSON line."""
    global COMPRESS
    COMPRESS = compress
    baseline = _maxrss_mb()
    state = load()
    before = resource.getrusage(resource.RUSAGE_SELF)
    figures = ROUTES[route].run(state, out)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({**figures, "peak_rss_mb": _maxrss_mb(), "baseline_rss_mb": baseline,
                      "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
                      "requests": dict(TALLY.requests), "ssh_logins": TALLY.ssh_logins}))


# ---------------------------------------------------------------- in the parent

class ServerStatus:
    """Global status counters of one MariaDB, read as root over its socket. The session
    keeps out of the general log (sql_log_off), which tests of the ssh source read.

    Reads wait for the server to be idle (this session its only client): a client's QUIT
    (one more Question) can arrive after the client process has exited, later still through
    a tunnel, and PHP closes WordPress's connection only after the page was sent."""

    def __init__(self, socket: str) -> None:
        self.conn = MySQLdb.connect(unix_socket=socket, user="root",
                                    init_command="SET SESSION sql_log_off = 1")
        self.offset = dict.fromkeys(STATUS, 0)
        self.reads = 0
        self.idle()
        reads = [self._read() for _ in range(4)]
        # What one read itself adds (its own statement and result): the smallest step.
        self.offset = {k: min(b[k] - a[k] for a, b in itertools.pairwise(reads)) for k in STATUS}

    def _read(self) -> dict[str, int]:
        cur = self.conn.cursor()
        names = ", ".join(f"'{n}'" for n in (*STATUS, "Threads_connected"))
        cur.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")
        values = {str(name if isinstance(name, str) else name.decode()): int(v) for name, v in cur.fetchall()}
        cur.close()
        self.reads += 1
        return values

    def idle(self, timeout: float = 10.0) -> dict[str, int]:
        """The counters once this session is the server's only client (or at ``timeout``),
        with what this session's own reads added so far taken off."""
        deadline = time.monotonic() + timeout
        now = self._read()
        while now["Threads_connected"] > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
            now = self._read()
        return {k: now[k] - self.reads * self.offset[k] for k in STATUS}

    def close(self) -> None:
        self.conn.close()


def measure(route: str, status: ServerStatus, work: Path, compress: bool) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"{route}-", dir=work))
    try:
        before = status.idle()
        cmd = [sys.executable, __file__, "--child", route, "--out", str(out)]
        done = subprocess.run([*cmd, *([] if compress else ["--no-compress"])],
                              check=True, capture_output=True, text=True)
        after = status.idle()
        server = {k: after[k] - before[k] for k in STATUS}
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "server": server}


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "-"


def _requests(run: dict[str, Any], protocol: str) -> int:
    return sum(v for k, v in run["requests"].items() if k.startswith(protocol + " "))


# (heading, width, the figure from a route's runs): medians of times and RSS; counts and sizes
# from the first measured round (the rows below say when a count varied).
COLUMNS: list[tuple[str, int, Callable[[list[dict[str, Any]]], str]]] = [
    ("db rows", 8, lambda rs: f"{rs[0]['db_rows']:,}"),
    ("db MB", 6, lambda rs: f"{rs[0]['db_bytes'] / 2**20:.2f}"),
    ("files", 5, lambda rs: f"{rs[0]['files']}"),
    ("files MB", 8, lambda rs: f"{rs[0]['files_bytes'] / 2**20:.2f}"),
    ("wall s", 6, lambda rs: f"{statistics.median(r['wall_s'] for r in rs):.2f}"),
    ("min", 5, lambda rs: f"{min(r['wall_s'] for r in rs):.2f}"),
    ("max", 5, lambda rs: f"{max(r['wall_s'] for r in rs):.2f}"),
    ("db open", 7, lambda rs: f"{statistics.median(r['db_open_s'] for r in rs):.2f}"),
    ("db s", 5, lambda rs: f"{statistics.median(r['db_s'] for r in rs):.2f}"),
    ("files s", 7, lambda rs: f"{statistics.median(r['files_s'] for r in rs):.2f}"),
    ("cpu s", 5, lambda rs: f"{statistics.median(r['cpu_s'] for r in rs):.2f}"),
    ("RSS MB", 6, lambda rs: f"{statistics.median(r['peak_rss_mb'] for r in rs):.1f}"),
    ("db RSS", 6, lambda rs: f"{statistics.median(r['db_peak_rss_mb'] for r in rs):.1f}"),
    ("SQL", 5, lambda rs: f"{rs[0]['server']['Questions']:,}"),
    ("select", 6, lambda rs: f"{rs[0]['server']['Com_select']:,}"),
    ("conns", 5, lambda rs: f"{rs[0]['server']['Connections']}"),
    ("DB MB out", 9, lambda rs: f"{rs[0]['server']['Bytes_sent'] / 2**20:.2f}"),
    ("SFTP reqs", 9, lambda rs: f"{_requests(rs[0], 'sftp'):,}"),
    ("HTTP reqs", 9, lambda rs: f"{_requests(rs[0], 'http'):,}"),
    ("logins", 6, lambda rs: f"{rs[0]['ssh_logins']}"),
]


def report(runs: dict[str, list[dict[str, Any]]], baseline: str) -> None:
    print("\n" + f"{'route':<8} " + " ".join(f"{h:>{w}}" for h, w, _ in COLUMNS))
    for name, rs in runs.items():
        print(f"{name:<8} " + " ".join(f"{figure(rs):>{w}}" for _, w, figure in COLUMNS))
        counts = {"SQL": [r["server"]["Questions"] for r in rs],
                  **{p.upper(): [_requests(r, p) for r in rs] for p in ("sftp", "http")},
                  "db rows": [r["db_rows"] for r in rs], "db bytes": [r["db_bytes"] for r in rs],
                  "files": [r["files"] for r in rs], "files bytes": [r["files_bytes"] for r in rs]}
        for what, values in counts.items():
            if len(set(values)) > 1:
                print(f"{'':<8}   {what} varied between rounds: {values}")
    for name, rs in runs.items():
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(rs[0]["requests"].items()))
        print(f"{name:<8} client requests by type: {kinds}")

    def median(rs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rs)

    base = runs[baseline]
    print(f"\nratios against {baseline} (route / {baseline}; above 1: the route needs more)")
    for name, rs in runs.items():
        if name != baseline:
            print(f"{name:<8} wall {_ratio(median(rs, 'wall_s'), median(base, 'wall_s'))}  "
                  f"db {_ratio(median(rs, 'db_s'), median(base, 'db_s'))}  "
                  f"files {_ratio(median(rs, 'files_s'), median(base, 'files_s'))}  "
                  f"peak RSS {_ratio(median(rs, 'peak_rss_mb'), median(base, 'peak_rss_mb'))}  "
                  f"SQL statements {_ratio(rs[0]['server']['Questions'], base[0]['server']['Questions'])}  "
                  f"SFTP requests {_ratio(_requests(rs[0], 'sftp'), _requests(base[0], 'sftp'))}")
    print("wall/min/max: db + files export; db open: logins, wp-config and tunnel before the first "
          "statement; RSS MB: the child's peak, db RSS: its peak when the database was done; "
          "SQL/select/conns/DB MB out: the source server's global Questions, Com_select, Connections "
          "and Bytes_sent over the run (the root session's own reads calibrated out); "
          "rows and bytes: the export's manifest and files summary")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="measured rounds (the order alternates)")
    ap.add_argument("--rows", type=int, default=None,
                    help="bulk postmeta rows on both sources (rebuilds the sandbox if it has another size; "
                         "default: the sandbox as built, 50,000 for a fresh one)")
    ap.add_argument("--routes", default=",".join(ROUTES), help="comma-separated, first is the baseline")
    ap.add_argument("--no-compress", action="store_true",
                    help="SSH logins without zlib compression (the connection extra compress=false)")
    ap.add_argument("--child", choices=sorted(ROUTES))
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.out), compress=not args.no_compress)
        return

    names = args.routes.split(",")
    if args.repeat < 1 or not set(names) <= set(ROUTES):
        ap.error(f"--repeat must be at least 1 and --routes among {', '.join(ROUTES)}")
    was_up = bool(build.status().get("up"))
    state = build.up(postmeta_rows=args.rows)
    work = Path(tempfile.mkdtemp(prefix="wpm-bench-routes-"))
    statuses: dict[str, ServerStatus] = {}
    try:
        for name in names:
            statuses[name] = ServerStatus(ROUTES[name].prepare(state))
        print(f"cores={os.cpu_count()} paramiko={paramiko.__version__} "
              f"postmeta rows={state.facts.get('postmeta_count')} rounds={args.repeat} (+1 warm-up) "
              f"ssh compression={'off' if args.no_compress else 'on'}")
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for rnd in range(args.repeat + 1):
            order = names if rnd % 2 == 0 else names[::-1]
            for name in order:
                result = measure(name, statuses[name], work, compress=not args.no_compress)
                label = f"round {rnd}{' (warm-up)' if rnd == 0 else ''}"
                print(f"{label} {name:<8} wall {result['wall_s']:6.2f}s "
                      f"peak RSS {result['peak_rss_mb']:6.1f}MB", flush=True)
                if rnd:
                    runs[name].append(result)
        report(runs, names[0])
    finally:
        for status in statuses.values():
            status.close()
        shutil.rmtree(work, ignore_errors=True)
        if not was_up:
            build.down()
            print("sandbox stopped (this run started it)")


if __name__ == "__main__":
    main()
