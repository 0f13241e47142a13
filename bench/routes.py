"""Benchmark: the Mode A source routes side by side, same seeded site, one run.

Runs the export side of Mode A (the database into a temp dir, then wp-content) once per
route per round, each in a fresh child process (so peak RSS is per route: the child's
own ``VmHWM``), alternating the order over ``--repeat`` rounds after one unmeasured
warm-up round. The domain library only, no Airflow: the SSH logins are opened with
paramiko as providers-ssh's SSHHook opens them for the DAG (key auth, compression on,
keepalive 30 s).

Routes, against the real sandbox (``wpsandbox.build.up`` / ``up_ssh_source``):
  sftp_db  the main source: its database over TCP as the read-only reader user
           (``export_database``), wp-content over SFTP (``export_files``).
  ssh      the ssh source (same seed, its MariaDB socket-only): wp-config.php read over
           SFTP and parsed, the database through ``SshTunnel`` (streamlocal to the socket)
           with wp-config's read-write user in a read-only session, wp-content over SFTP.
  wp_admin the main source again (the same site as sftp_db), through the companion plugin:
           before each child the parent installs it the production way, through the
           administrator's wp-admin (``WpAdminSession``: log in, upload this run's zip with
           a fresh secret, activate, log out); the child exports with ``CompanionClient``
           (``export_database_via_companion``, ``export_files_via_companion``, their
           defaults); afterwards, in a ``finally``, the parent logs in again, deletes the
           plugin (deactivated first) and logs out, and puts back what WordPress itself
           leaves after an upload (``WpTraces``: the cleanup cron event,
           ``recently_activated``, the upload's empty folder, ``upgrade/``'s marker).
           Install and removal are measured on their own, not in the route's figures.

Source requests: the delta of the server's global status counters (``Questions``,
``Com_select``, ``Connections``, ``Bytes_sent``), read by one root session per server
over its socket just before and after the child (the root session's own SHOW is
calibrated out; for wp_admin that is the SQL WordPress and the plugin ran for every HTTP
request); the requests the child's clients sent, by type (SFTP in
``SFTPClient._async_request``; HTTP by an httpx event hook, which for wp_admin equals
``CompanionClient.requests``), its SSH logins; and the lines the site's request log
(``Site.request_log``, one JSON line per request) gained over the child.

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
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

import MySQLdb
import paramiko
from paramiko.sftp import CMD_NAMES

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "sandbox")]

from wpmigrate.full_access.companion.package import PLUGIN_BASENAME, build_zip, new_secret  # noqa: E402
from wpmigrate.full_access.companion.signing import ACTION_PARAM  # noqa: E402
from wpmigrate.full_access.db.connect import DbParams, connect  # noqa: E402
from wpmigrate.full_access.db.exporter import export_database  # noqa: E402
from wpmigrate.full_access.db.source_endpoint import destinations  # noqa: E402
from wpmigrate.full_access.db.ssh_tunnel import SshTunnel  # noqa: E402
from wpmigrate.full_access.files.exporter import export_files  # noqa: E402
from wpmigrate.full_access.wp_config import parse_db_host, parse_wp_config  # noqa: E402
from wpsandbox import build  # noqa: E402
from wpsandbox.state import SandboxState, Site, SshSource, load  # noqa: E402

if TYPE_CHECKING:
    import httpx

# httpx, bs4 (wp_admin) and the companion exporters are imported where the wp_admin route
# uses them: at the top they would add about 15 MB to every route's child (peak RSS).

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
    companion_requests: NotRequired[int]  # wp_admin: CompanionClient.requests


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
    """The SSH login alone, as ``source_access.tunnelled_database`` does it for the export task:
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


# The companion plugin's secret, from the parent (which installed the plugin) to the child.
SECRET_ENV = "WPM_BENCH_COMPANION_SECRET"


def _count_http(request: httpx.Request) -> None:
    """httpx event hook: every request sent (redirects followed included), by method and
    companion action ("http GET rows")."""
    action = request.url.params.get(ACTION_PARAM)
    TALLY.count(f"http {request.method}" + (f" {action}" if action else ""))


def run_wp_admin(state: SandboxState, out: Path) -> Figures:
    """The companion plugin's export (the parent installed and activated it through wp-admin
    and removes it afterwards): ``preflight``, then the database and wp-content through
    signed GETs, with the exporters' defaults, as the DAG's two tasks would. A plain httpx
    client (trust_env off): the project's URL guard refuses the sandbox's loopback address."""
    import httpx

    from wpmigrate.full_access.companion.client import CompanionClient
    from wpmigrate.full_access.companion.db_export import export_database_via_companion
    from wpmigrate.full_access.companion.files_export import export_files_via_companion

    secret = os.environ[SECRET_ENV]
    site = state.source
    with httpx.Client(timeout=120, trust_env=False, event_hooks={"request": [_count_http]}) as http:
        client = CompanionClient(http, site.url, secret)
        t0 = time.perf_counter()
        pre = client.preflight()
        opened = time.perf_counter()  # the route's fixed cost: one preflight request
        manifest = export_database_via_companion(client, out / "db", preflight=pre)
        t1 = time.perf_counter()
        db_rss = _maxrss_mb()
        summary = export_files_via_companion(client, out / "files", preflight=pre)
        t2 = time.perf_counter()
    totals = manifest["totals"]
    return Figures(db_open_s=opened - t0, db_s=t1 - t0, files_s=t2 - t1, wall_s=t2 - t0,
                   db_peak_rss_mb=db_rss, db_tables=totals["tables"], db_rows=totals["rows"],
                   db_bytes=totals["bytes"], files=summary["files"], files_bytes=summary["bytes"],
                   companion_requests=client.requests)


# ---------------------------------------------------------------- the routes

@dataclass
class Setup:
    """What a route's ``around`` did in the parent: ``env`` for the child (e.g. the plugin's
    secret), ``figures`` per step ("install", "remove"), filled in as the steps finish."""

    env: dict[str, str] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """A way to read the source. ``prepare`` (parent) brings up what it needs and returns the
    socket of the MariaDB its site lives on (for the root status session); ``run`` (child)
    exports into ``out`` and returns its figures (see ``run_export``); ``site`` is the
    sandbox site it reads (its request log shows what reached the web server). ``around``
    (parent, optional) wraps each measured child: what the route needs on the source before
    the export and takes away after it, measured on its own (``Setup.figures``)."""

    name: str
    prepare: Callable[[SandboxState], str]
    run: Callable[[SandboxState, Path], Figures]
    site: Callable[[SandboxState], Site | SshSource]
    around: Callable[[SandboxState, ServerStatus], contextlib.AbstractContextManager[Setup]] | None = None


def _prepare_ssh(state: SandboxState) -> str:
    ssh = build.up_ssh_source(state).ssh_source
    assert ssh is not None
    return ssh.db_socket


def _ssh_site(state: SandboxState) -> SshSource:
    assert state.ssh_source is not None
    return state.ssh_source


class Step:
    """One parent-side step on a site (the plugin's install or removal): its wall time, the
    HTTP requests its client sent (``sent``, by method, redirects included), the lines the
    site's request log gained and the source server's counters, from creation to ``done``."""

    def __init__(self, status: ServerStatus, request_log: str, sent: Counter[str]) -> None:
        self.status, self.request_log, self.sent = status, request_log, sent
        self.sent_before = sent.copy()
        self.server_before = status.idle()
        self.log_at = _log_size(request_log)
        self.t0 = time.perf_counter()

    def done(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        server = self.status.idle()  # PHP's requests are over once WordPress's connections are
        return {"wall_s": wall, "http": dict(self.sent - self.sent_before),
                "site_http": _log_lines(self.request_log, self.log_at),
                "server": {k: server[k] - self.server_before[k] for k in STATUS}}


# After an upload and a removal through wp-admin WordPress itself leaves (the wp_admin tests
# list them): one ``upgrader_scheduled_cleanup`` cron event per upload (the zip's clean-up in
# 2 h, though it is cleaned up at once), the plugin in ``recently_activated``, the
# ``uploads/<year>/<month>`` folder of the upload (empty) and ``upgrade/`` emptied (the
# sandbox keeps an empty marker file there). ``WpTraces`` puts those back after each removal,
# so the source is as it was and every round of every route exports the same site.
_CRON_ONLY_CLEANUP = (
    "$f = function ($c) { if (!is_array($c)) return $c; foreach ($c as $t => $h) {"
    " if (is_array($h)) { unset($c[$t]['upgrader_scheduled_cleanup']); if (!$c[$t]) unset($c[$t]); } }"
    " return $c; }; echo $f(unserialize(hex2bin(getenv('B')))) == $f(unserialize(hex2bin(getenv('A'))))"
    " ? 'same' : 'other';")


class WpTraces:
    """WordPress's own traces of a plugin install on the main source (see above): taken
    before the install, put back by ``restore`` (root over the server's socket, outside the
    measured windows). What it could not put back it leaves and names."""

    OPTIONS = ("cron", "recently_activated")

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.content = Path(state.source.wp_content)
        self.options = self._options()
        self.upload_dirs = self._upload_dirs()
        self.upgrade = {p: p.stat() for p in (self.content / "upgrade").rglob("*") if p.is_file()}

    def _sql(self) -> MySQLdb.Connection:
        return MySQLdb.connect(unix_socket=self.state.db.socket, user="root", db=self.state.db.source_db,
                               init_command="SET SESSION sql_log_off = 1")

    def _options(self) -> dict[str, bytes | None]:
        with contextlib.closing(self._sql()) as conn:
            cur = conn.cursor()
            cur.execute(f"SELECT option_name, HEX(option_value) FROM {self.state.source.table_prefix}options "
                        "WHERE option_name IN %s", (self.OPTIONS,))
            found = {_text(name): bytes.fromhex(_text(value)) for name, value in cur.fetchall()}
        return {name: found.get(name) for name in self.OPTIONS}

    def _upload_dirs(self) -> set[Path]:
        return {p for p in (self.content / "uploads").rglob("*") if p.is_dir()}

    def restore(self) -> dict[str, list[str]]:
        """What was put back (``restored``) and what changed otherwise (``left``)."""
        restored: list[str] = []
        left: list[str] = []
        now = self._options()
        table = f"{self.state.source.table_prefix}options"
        with contextlib.closing(self._sql()) as conn:
            cur = conn.cursor()
            for name in self.OPTIONS:
                before, after = self.options[name], now[name]
                if before == after:
                    continue
                if name == "cron" and not self._cron_only_cleanup(before or b"", after or b""):
                    left.append("option cron (more than upgrader_scheduled_cleanup events)")
                    continue
                if name == "recently_activated" and after is not None and after != b"a:0:{}" \
                        and PLUGIN_BASENAME.encode() not in after:
                    left.append("option recently_activated (other plugins)")
                    continue
                if before is None:
                    cur.execute(f"DELETE FROM {table} WHERE option_name = %s", (name,))
                else:
                    cur.execute(f"UPDATE {table} SET option_value = UNHEX(%s) WHERE option_name = %s",
                                (before.hex(), name))
                restored.append(f"option {name}")
            conn.commit()
        for path in sorted(self._upload_dirs() - self.upload_dirs, key=lambda p: len(p.parts), reverse=True):
            try:
                path.rmdir()
                restored.append(f"empty folder {path.relative_to(self.content)}")
            except OSError:
                left.append(f"folder {path.relative_to(self.content)} (not empty)")
        for path, st in self.upgrade.items():
            if not path.exists() and st.st_size == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
                restored.append(f"file {path.relative_to(self.content)}")
        return {"restored": restored, "left": left}

    @staticmethod
    def _cron_only_cleanup(before: bytes, after: bytes) -> bool:
        """``after`` is ``before`` plus upgrader_scheduled_cleanup events (PHP unserialize)."""
        done = subprocess.run(["php", "-r", _CRON_ONLY_CLEANUP], capture_output=True, text=True, check=True,
                              env={**os.environ, "B": before.hex(), "A": after.hex()})
        return done.stdout.strip() == "same"


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode()


@contextlib.contextmanager
def companion_installed(state: SandboxState, status: ServerStatus) -> Iterator[Setup]:
    """The companion plugin installed the production way (as the DAG's ``companion_access``
    does it), through the administrator's wp-admin: log in, upload this run's zip (a fresh
    secret; overwrite, so a copy left by a killed run is replaced), activate, log out. Then
    the child exports; afterwards, whatever happened, a second login removes it: delete
    (``WpAdminSession.delete`` deactivates first; deactivation makes the plugin delete its
    secret), log out. Both steps are measured here in the parent, not in the child; then
    WordPress's own traces of the install are put back (``WpTraces``)."""
    import httpx

    from wpmigrate.full_access.companion.wp_admin import WpAdminSession

    site = state.source
    setup = Setup()
    secret = new_secret()
    sent: Counter[str] = Counter()

    def count(request: httpx.Request) -> None:
        sent[request.method] += 1

    traces = WpTraces(state)
    with httpx.Client(timeout=120, trust_env=False, event_hooks={"request": [count]}) as http:
        admin = WpAdminSession(http, site.url)
        touched = False
        try:
            step = Step(status, site.request_log, sent)
            admin.login(site.admin_user, site.admin_password)
            try:
                admin.require_admin()
                touched = True  # from here on a plugin folder may exist: removed whatever happens
                admin.upload_plugin(build_zip(secret, migration_id=f"bench-routes-{int(time.time())}"),
                                    overwrite=True)
                admin.activate(PLUGIN_BASENAME)
            finally:
                admin.logout()
            setup.figures["install"] = step.done()
            setup.env[SECRET_ENV] = secret
            yield setup
        finally:
            if touched:
                step = Step(status, site.request_log, sent)
                admin.login(site.admin_user, site.admin_password)
                try:
                    if admin.is_installed(PLUGIN_BASENAME):
                        admin.delete(PLUGIN_BASENAME)  # its folder, secret and state with it
                finally:
                    admin.logout()
                setup.figures["remove"] = step.done()
                setup.figures["remove"]["wordpress_traces"] = traces.restore()


def _log_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _log_lines(path: str, offset: int) -> int:
    """Lines the request log gained after ``offset`` (one per request: sandbox/php/router.php)."""
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read().count(b"\n")


ROUTES: dict[str, Route] = {
    "sftp_db": Route("sftp_db", lambda state: state.db.socket, run_sftp_db, lambda state: state.source),
    "ssh": Route("ssh", _prepare_ssh, run_ssh, _ssh_site),
    # The main source again (same site as sftp_db), read through the companion plugin.
    "wp_admin": Route("wp_admin", lambda state: state.db.socket, run_wp_admin, lambda state: state.source,
                      around=companion_installed),
}


def _maxrss_mb() -> float:
    """This process's peak RSS in MB: ``VmHWM`` of /proc/self/status, the high-water mark of
    its own memory since exec. Not ``ru_maxrss``: Linux folds the parent's RSS into it at exec
    (subprocess uses vfork), so a child's ru_maxrss is at least the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
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


def measure(route: str, state: SandboxState, status: ServerStatus, work: Path, compress: bool,
            ) -> dict[str, Any]:
    """One child run of ``route``, inside its ``around`` (if any). Adds the source server's
    counters over the child (``server``), the lines the site's request log gained meanwhile
    (``site_http``) and what ``around`` measured (``setup``)."""
    r = ROUTES[route]
    request_log = r.site(state).request_log
    out = Path(tempfile.mkdtemp(prefix=f"{route}-", dir=work))
    try:
        with r.around(state, status) if r.around else contextlib.nullcontext(Setup()) as setup:
            before = status.idle()
            log_at = _log_size(request_log)
            cmd = [sys.executable, __file__, "--child", route, "--out", str(out)]
            done = subprocess.run([*cmd, *([] if compress else ["--no-compress"])],
                                  capture_output=True, text=True, env={**os.environ, **setup.env})
            if done.returncode:
                sys.stderr.write(done.stderr[-4000:])
                done.check_returncode()
            after = status.idle()  # PHP's requests are over once WordPress's connections are
            site_http = _log_lines(request_log, log_at)
            server = {k: after[k] - before[k] for k in STATUS}
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "server": server, "site_http": site_http,
            "setup": setup.figures}


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
    ("site log", 8, lambda rs: f"{rs[0]['site_http']:,}"),
    ("logins", 6, lambda rs: f"{rs[0]['ssh_logins']}"),
]


def _report_step(name: str, step: str, done: list[dict[str, Any]]) -> None:
    """A route's parent-side step (``Route.around``: the plugin's install or removal)."""
    if not done:
        return
    walls = [d["wall_s"] for d in done]
    first = done[0]
    http = ", ".join(f"{k} {v}" for k, v in sorted(first["http"].items()))
    traces = [d.get("wordpress_traces", {}) for d in done]
    restored = sorted({t for d in traces for t in d.get("restored", [])})
    left = sorted({t for d in traces for t in d.get("left", [])})
    print(f"{name:<8} {step} (parent, not in the table): wall {statistics.median(walls):.2f}s "
          f"({min(walls):.2f}-{max(walls):.2f}), HTTP {sum(first['http'].values())} ({http}), "
          f"site log {first['site_http']}, SQL {first['server']['Questions']:,} "
          f"(selects {first['server']['Com_select']:,}), conns {first['server']['Connections']}, "
          f"DB MB out {first['server']['Bytes_sent'] / 2**20:.2f}"
          + (f"; WordPress's traces put back: {', '.join(restored)}" if restored else "")
          + (f"; left: {', '.join(left)}" if left else ""))
    counts = {"HTTP": [sum(d["http"].values()) for d in done], "site log": [d["site_http"] for d in done],
              "SQL": [d["server"]["Questions"] for d in done]}
    for what, values in counts.items():
        if len(set(values)) > 1:
            print(f"{'':<8}   {step} {what} varied between rounds: {values}")


def report(runs: dict[str, list[dict[str, Any]]], baseline: str) -> None:
    print("\n" + f"{'route':<8} " + " ".join(f"{h:>{w}}" for h, w, _ in COLUMNS))
    for name, rs in runs.items():
        print(f"{name:<8} " + " ".join(f"{figure(rs):>{w}}" for _, w, figure in COLUMNS))
        counts = {"SQL": [r["server"]["Questions"] for r in rs],
                  **{p.upper(): [_requests(r, p) for r in rs] for p in ("sftp", "http")},
                  "site log": [r["site_http"] for r in rs],
                  "db rows": [r["db_rows"] for r in rs], "db bytes": [r["db_bytes"] for r in rs],
                  "files": [r["files"] for r in rs], "files bytes": [r["files_bytes"] for r in rs]}
        for what, values in counts.items():
            if len(set(values)) > 1:
                print(f"{'':<8}   {what} varied between rounds: {values}")
    for name, rs in runs.items():
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(rs[0]["requests"].items()))
        counter = rs[0].get("companion_requests")
        own = f" (CompanionClient.requests {counter:,})" if counter is not None else ""
        print(f"{name:<8} client requests by type: {kinds}{own}")
    base_rs = runs[baseline]
    for name, rs in runs.items():
        if name != baseline:
            diffs = {what: rs[0][key] - base_rs[0][key] for what, key in
                     (("db rows", "db_rows"), ("db bytes", "db_bytes"), ("files", "files"),
                      ("files bytes", "files_bytes"))}
            print(f"{name:<8} exported vs {baseline} (first measured rounds): "
                  + ", ".join(f"{what} {d:+,}" for what, d in diffs.items()))
    for name, rs in runs.items():
        for step in ("install", "remove"):
            _report_step(name, step, [r["setup"][step] for r in rs if step in r["setup"]])

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
                  f"SFTP requests {_ratio(_requests(rs[0], 'sftp'), _requests(base[0], 'sftp'))}  "
                  f"HTTP requests {_ratio(_requests(rs[0], 'http'), _requests(base[0], 'http'))}")
    print("wall/min/max: db + files export; db open: logins, wp-config and tunnel before the first "
          "statement; RSS MB: the child's peak, db RSS: its peak when the database was done; "
          "SQL/select/conns/DB MB out: the source server's global Questions, Com_select, Connections "
          "and Bytes_sent over the run (the root session's own reads calibrated out); "
          "SFTP/HTTP reqs: the requests the child's clients sent; site log: the lines the site's "
          "request log gained over the run (one per request the web server got); "
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
    statuses: dict[str, ServerStatus] = {}  # by route; one session per server (sftp_db and
    # wp_admin share the main MariaDB: a second root session would keep it from looking idle)
    by_socket: dict[str, ServerStatus] = {}
    try:
        for name in names:
            socket = ROUTES[name].prepare(state)
            if socket not in by_socket:
                by_socket[socket] = ServerStatus(socket)
            statuses[name] = by_socket[socket]
        print(f"cores={os.cpu_count()} paramiko={paramiko.__version__} "
              f"postmeta rows={state.facts.get('postmeta_count')} rounds={args.repeat} (+1 warm-up) "
              f"ssh compression={'off' if args.no_compress else 'on'}")
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for rnd in range(args.repeat + 1):
            order = names if rnd % 2 == 0 else names[::-1]
            for name in order:
                result = measure(name, state, statuses[name], work, compress=not args.no_compress)
                label = f"round {rnd}{' (warm-up)' if rnd == 0 else ''}"
                steps = "".join(f"  {step} {f['wall_s']:.2f}s" for step, f in result["setup"].items())
                left = result["setup"].get("remove", {}).get("wordpress_traces", {}).get("left")
                print(f"{label} {name:<8} wall {result['wall_s']:6.2f}s "
                      f"peak RSS {result['peak_rss_mb']:6.1f}MB{steps}"
                      + (f"  left on the source by WordPress: {', '.join(left)}" if left else ""), flush=True)
                if rnd:
                    runs[name].append(result)
        report(runs, names[0])
    finally:
        for status in by_socket.values():
            status.close()
        shutil.rmtree(work, ignore_errors=True)
        if not was_up:
            build.down()
            print("sandbox stopped (this run started it)")


if __name__ == "__main__":
    main()
