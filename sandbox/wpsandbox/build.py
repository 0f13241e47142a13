"""Build, check, reset and stop the sandbox: a private MariaDB, an OpenSSH SFTP server, a
seeded source WordPress, a platform-like target WordPress and a static non-WordPress site,
all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wpsandbox import query_log
from wpsandbox.services import PrivateMariaDB, PrivateSshd, free_port, free_ports, start_group, wait_for_port
from wpsandbox.state import (
    STATE_VERSION,
    AdminSource,
    ClassicSource,
    Database,
    Platform,
    PlatformTarget,
    SandboxState,
    Sftp,
    Site,
    SshSource,
    StaticSite,
    home_dir,
    load,
    save,
    state_path,
)

PACKAGE = Path(__file__).resolve().parent
PHP_DIR = PACKAGE / "php"
ASSETS = PACKAGE / "assets"
WORDPRESS = Path("/usr/share/wordpress")
DEFAULT_POSTMETA_ROWS = 50_000
HOST = "127.0.0.1"
# Everything the sandbox creates under its home, so a rebuild removes only its own files.
TEMPLATE = "wordpress-template"  # survives rebuilds (not in OWNED)
OWNED = ("db", "sshd", "source", "target", "static", "ssh-source", "admin-source", "classic-source",
         "targets", "logs", "state.json", "state.tmp", "pids")
SSH_SOURCE = "ssh-source"
ADMIN_SOURCE = "admin-source"
CLASSIC_SOURCE = "classic-source"
# The classic source's theme: a classic (PHP template) theme Debian's WordPress ships.
CLASSIC_THEME = "twentytwentyone"
# The admin source's host limits (php -S -d ...). On Linux max_execution_time counts the
# request's CPU time (setitimer ITIMER_PROF), not time spent waiting: a busy script is cut
# off with a 500 after 5 s, a sleeping one is not.
ADMIN_PHP_INI = {"max_execution_time": "5", "memory_limit": "64M"}
ADMIN_BIG_FILE = "uploads/2024/06/site-backup-video.bin"
ADMIN_BIG_FILE_BYTES = 52 * 1024 * 1024
ADMIN_BIG_OPTION = "sandbox_big_option"
ADMIN_BIG_OPTION_BYTES = 5_500_000


class SandboxError(RuntimeError):
    pass


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Serialise up/down/reset between processes (parallel test sessions, the lead's scripts)."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------- processes

def _record_pid(home: Path, pid: int | None) -> None:
    # Written as each process starts, so `down` finds it even if `up` died half-way.
    if pid:
        with (home / "pids").open("a") as out:
            out.write(f"{pid}\n")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not running; it just waits for its parent to reap it.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(roots: list[int]) -> list[int]:
    children = _children_map()
    found: list[int] = []
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_all(roots: list[int], timeout: float = 10.0) -> None:
    """Stop each started process group and every descendant of it (sshd's per-connection
    children call setsid() and so leave the group)."""
    roots = [p for p in dict.fromkeys(roots) if p > 1]
    tree = descendants(roots)
    for pid in roots:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    everyone = roots + tree
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in everyone):
        time.sleep(0.05)
    for pid in everyone:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _stop_everything(home: Path) -> list[int]:
    pids: list[int] = []
    pid_file = home / "pids"
    if pid_file.exists():
        pids += [int(line) for line in pid_file.read_text().split() if line.strip().isdigit()]
    with contextlib.suppress(Exception):
        state = load(home)
        pids += state.pids + (state.ssh_source.pids if state.ssh_source else [])
        pids += state.admin_source.pids if state.admin_source else []
        pids += state.classic_source.pids if state.classic_source else []
        pids += [pid for extra in state.extra_targets for pid in extra.pids]
    _kill_all(pids)
    pid_file.unlink(missing_ok=True)
    return sorted(set(pids))


# ---------------------------------------------------------------- helpers

def _php(script: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run one of our PHP CLI scripts; its result is the JSON after the @@WPSB@@ marker."""
    proc = subprocess.run(["php", str(PHP_DIR / script)], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True)
    marker = proc.stdout.rfind("@@WPSB@@")
    if proc.returncode != 0 or marker < 0:
        raise SandboxError(f"{script} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout[marker + len("@@WPSB@@"):].strip())


def _password() -> str:
    return secrets.token_urlsafe(18)


def _http_status(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, urllib.error.URLError):
        return 0


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


@dataclass
class _SiteSpec:
    name: str
    port: int
    docroot: Path
    db_name: str
    db_user: str
    db_password: str
    prefix: str
    title: str
    admin_user: str
    admin_password: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def _wordpress_template(home: Path) -> Path:
    """A dereferenced copy of Debian's WordPress (it is full of symlinks), kept across
    rebuilds and refreshed when the package or the installed theme packages change."""
    template = home / TEMPLATE
    themes = sorted(p.name for p in (WORDPRESS / "wp-content" / "themes").iterdir())
    version = (WORDPRESS / "wp-includes" / "version.php").read_bytes() + ",".join(themes).encode()
    stamp = template / ".wpsandbox-version.php"
    if stamp.exists() and stamp.read_bytes() == version:
        return template
    shutil.rmtree(template, ignore_errors=True)
    tmp = home / (TEMPLATE + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["cp", "-rL", str(WORDPRESS), str(tmp)], check=True)
    for debian_only in ("wp-config.php", ".htaccess"):
        (tmp / debian_only).unlink(missing_ok=True)
    # Debian ships 31 MB of translations; a site has a few (here German and Japanese).
    for mo in (tmp / "wp-content" / "languages").iterdir():
        if not any(lang in mo.name for lang in ("de_DE", "ja")):
            mo.unlink()
    (tmp / stamp.name).write_bytes(version)
    tmp.rename(template)
    return template


def _copy_wordpress(spec: _SiteSpec, template: Path, db_host: str, shared_host: bool = False,
                    extra_defines: dict[str, str] | None = None) -> None:
    """A site is the template with a normal wp-config.php. Core files are hard links (nothing
    writes core: updates are off); wp-content, which migrations write, is a real copy."""
    spec.docroot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(template), str(spec.docroot)], check=True)
    shutil.rmtree(spec.docroot / "wp-content")
    subprocess.run(["cp", "-a", str(template / "wp-content"), str(spec.docroot / "wp-content")], check=True)
    (spec.docroot / ".wpsandbox-version.php").unlink()
    (spec.docroot / "wp-config.php").write_text(_wp_config(spec, db_host, shared_host, extra_defines or {}))


def _wp_config(spec: _SiteSpec, db_host: str, shared_host: bool, extra_defines: dict[str, str]) -> str:
    """``shared_host`` writes it the way wp-config-sample.php and hosting panels do
    (``define( 'DB_HOST', 'localhost:/path/mysqld.sock' );`` with comments), which is what
    the ``ssh`` route parses on real hosts."""
    def define(key: str, value: str) -> str:
        return f"define( '{key}', {value} );" if shared_host else f"define('{key}', {value});"

    extra = "".join(define(key, value) + "\n" for key, value in extra_defines.items())
    salts = "\n".join(
        define(key, f"'{secrets.token_urlsafe(48)}'")
        for key in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                    "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
    )
    database = "\n".join(define(key, f"'{value}'") for key, value in (
        ("DB_NAME", spec.db_name), ("DB_USER", spec.db_user), ("DB_PASSWORD", spec.db_password),
        ("DB_HOST", db_host), ("DB_CHARSET", "utf8mb4"), ("DB_COLLATE", "")))
    if shared_host:
        head = ("/**\n * The base configuration for WordPress\n *\n * @package WordPress\n */\n\n"
                "// ** Database settings - You can get this info from your web host ** //")
        salts = ("/**#@+\n * Authentication unique keys and salts.\n */\n" + salts + "\n/**#@-*/\n\n"
                 "/**\n * WordPress database table prefix.\n */")
    else:
        head = f"// Written by wpsandbox for the {spec.name} site."
    return f"""<?php
{head}
{database}
{salts}
$table_prefix = '{spec.prefix}';
{define("WP_HOME", f"'{spec.url}'")}
{define("WP_SITEURL", f"'{spec.url}'")}
{define("FS_METHOD", "'direct'")}
{define("DISABLE_WP_CRON", "true")}
{define("AUTOMATIC_UPDATER_DISABLED", "true")}
// Application passwords over plain http need a local environment.
{define("WP_ENVIRONMENT_TYPE", "'local'")}
// No internet here: fail fast instead of waiting for api.wordpress.org.
{define("WP_HTTP_BLOCK_EXTERNAL", "true")}
{define("WP_DEBUG", "false")}
{extra}if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""


def _add_source_files(docroot: Path) -> None:
    """Theme, plugin, mu-plugin, and the junk an exporter must skip (caches, backups)."""
    content = docroot / "wp-content"
    for kind in ("plugins", "themes", "mu-plugins"):
        for item in (ASSETS / kind).iterdir():
            dest = content / kind / item.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if item.is_dir():
                shutil.copytree(item, dest)
            else:
                shutil.copy2(item, dest)
    junk = {
        "cache/page-enhanced/127.0.0.1/index.html": b"<html>stale cached page</html>\n" * 50,
        "cache/object/00/0a1b2c.php": b"<?php exit; ?>" + os.urandom(64 * 1024),
        "cache/minify/abc123.css": b"body{}" * 2000,
        "updraft/backup_2024-01-01-0000_Sandbox_db.gz": os.urandom(256 * 1024),
        "upgrade/.keep": b"",
    }
    for rel, data in junk.items():
        path = content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _add_target_files(docroot: Path) -> None:
    """The platform's own mu-plugins on the target (what the hosting platform installs on
    every site it runs): ``assets/target-mu-plugins``."""
    dest = docroot / "wp-content" / "mu-plugins"
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted((ASSETS / "target-mu-plugins").glob("*.php")):
        shutil.copy2(item, dest / item.name)


def _install(spec: _SiteSpec) -> dict[str, Any]:
    return _php("install.php", {
        "WPSB_DOCROOT": str(spec.docroot), "WPSB_URL": spec.url, "WPSB_TITLE": spec.title,
        "WPSB_ADMIN_USER": spec.admin_user, "WPSB_ADMIN_PASSWORD": spec.admin_password,
        "WPSB_ADMIN_EMAIL": f"{spec.admin_user}@example.test",
    }, spec.docroot)


def _bulk_postmeta(db: PrivateMariaDB, spec: _SiteSpec, rows: int, hero_file: str) -> None:
    """At least ``rows`` postmeta rows in two INSERT ... SELECTs over MariaDB's sequence engine
    (PHP would take minutes). They hang off hidden ``sandbox_record`` posts, 50 per post, so
    page loads stay fast; every tenth row holds a URL, some serialized, some JSON-escaped."""
    if rows <= 0:
        return
    records = math.ceil(rows / 50)
    p, url = spec.prefix, spec.url
    db.sql(f"""
INSERT INTO {p}posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt,
  post_status, comment_status, ping_status, post_password, post_name, to_ping, pinged, post_modified,
  post_modified_gmt, post_content_filtered, post_parent, guid, menu_order, post_type, post_mime_type,
  comment_count)
SELECT 1, d, d, CONCAT('Record ', seq, ' of {url}/'), CONCAT('Sandbox record ', seq), '', 'publish',
  'closed', 'closed', '', CONCAT('sandbox-record-', seq), '', '', d, d, '', 0,
  CONCAT('{url}/?post_type=sandbox_record&p=', seq), 0, 'sandbox_record', '', 0
FROM (SELECT seq, TIMESTAMP '2022-01-01 00:00:00' + INTERVAL seq MINUTE AS d FROM seq_1_to_{records}) s;

INSERT INTO {p}postmeta (post_id, meta_key, meta_value)
SELECT r.ID, CONCAT('_sandbox_field_', m.seq),
  CASE m.seq % 10
    WHEN 0 THEN CONCAT('{url}/wp-content/uploads/{hero_file}?record=', r.ID)
    WHEN 1 THEN CONCAT('a:2:{{s:3:"url";s:', LENGTH(r.u), ':"', r.u, '";s:2:"id";i:', r.ID, ';}}')
    WHEN 2 THEN CONCAT('{{"link":"', REPLACE(r.u, '/', '\\\\/'), '","note":"caf\\\\u00e9"}}')
    ELSE CONCAT('value ', m.seq, ' of record ', r.ID, ' — ', REPEAT('lorem ipsum ', 8))
  END
FROM (SELECT ID, CONCAT('{url}/?p=', ID) AS u FROM {p}posts WHERE post_type = 'sandbox_record') r
JOIN seq_1_to_50 m
LIMIT {rows};
""", spec.db_name)


def _start_php_server(home: Path, name: str, port: int, docroot: Path, router: str,
                      ini: dict[str, str] | None = None) -> tuple[int, Path, Path]:
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    access_log, request_log = logs / f"{name}-access.log", logs / f"{name}-requests.jsonl"
    settings = [arg for key, value in (ini or {}).items() for arg in ("-d", f"{key}={value}")]
    cmd = ["php", *settings, "-S", f"{HOST}:{port}", "-t", str(docroot), str(PHP_DIR / router)]
    env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4", "WPSB_REQUEST_LOG": str(request_log)}
    pid = start_group(cmd, access_log, env=env)
    _record_pid(home, pid)
    return pid, access_log, request_log


# ---------------------------------------------------------------- up

def healthy(state: SandboxState) -> bool:
    """Every process alive and answering. Generous timeouts and a retry: a false "unhealthy"
    would rebuild the sandbox under a running benchmark or test session."""
    if not all(alive(pid) for pid in state.pids):
        return False
    if not (_port_open(state.db.port) and _port_open(state.sftp.port)):
        return False
    urls = (state.source.url + "/", state.target.url + "/", state.static.url + "/")
    return all(_http_status(url, timeout=15) == 200 or _http_status(url, timeout=15) == 200 for url in urls)


def seed_fingerprint() -> str:
    """What the sites are built from (PHP seed scripts, themes, plugins, mu-plugins, files):
    a sandbox built from other files is rebuilt by ``up``."""
    digest = hashlib.sha256()
    for path in sorted(p for folder in (PHP_DIR, ASSETS) for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(PACKAGE)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def up(postmeta_rows: int | None = None, force: bool = False, home: Path | None = None) -> SandboxState:
    """Reuse the running sandbox when it is healthy (and has ``postmeta_rows`` bulk rows when
    given), otherwise rebuild it from scratch."""
    home = (home or home_dir()).resolve()
    with _locked(home):
        if not force:
            with contextlib.suppress(Exception):
                state = load(home)
                if (state.version == STATE_VERSION and state.seed_fingerprint == seed_fingerprint()
                        and healthy(state) and postmeta_rows in (None, state.postmeta_rows)):
                    return state
        try:
            return _build(home, DEFAULT_POSTMETA_ROWS if postmeta_rows is None else postmeta_rows)
        except BaseException:
            _stop_everything(home)  # a half-built sandbox leaves no process behind
            raise


def _build(home: Path, postmeta_rows: int) -> SandboxState:
    started = time.monotonic()
    _stop_everything(home)
    for name in OWNED:
        path = home / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    t_clean = time.monotonic()

    db = PrivateMariaDB(home / "db", port=free_port())
    sshd = PrivateSshd(home / "sshd", port=free_port())
    reader, writer = ("src_reader", _password()), ("tgt_writer", _password())
    source = _SiteSpec("source", free_port(), home / "source" / "www", "wp_source", "wpsrc_site",
                       _password(), "wpsrc_", "Sandbox Source ☕", "admin", _password())
    target = _SiteSpec("target", free_port(), home / "target" / "www", "wp_target", "wptgt_site",
                       _password(), "wp_", "Platform Target", "platform-admin", _password())
    static_port = free_port()
    site_id = str(uuid.uuid4())

    def start_db() -> None:
        try:
            db.start()
        finally:
            _record_pid(home, db.pid)
        anonymous = db.sql("SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user WHERE user = ''")
        stmts = [f"DROP USER {u};" for u in anonymous.split()]  # they shadow 'x'@'%' users
        for name in (source.db_name, target.db_name):
            stmts.append(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;")
        for (user, password), grant in (
            # Read-only: SELECT, SHOW VIEW, and LOCK TABLES so mysqldump (benchmark baseline)
            # works too; nothing that can change the source.
            (reader, f"SELECT, SHOW VIEW, LOCK TABLES ON {source.db_name}.*"),
            (writer, f"ALL PRIVILEGES ON {target.db_name}.*"),
            ((source.db_user, source.db_password), f"ALL PRIVILEGES ON {source.db_name}.*"),
            ((target.db_user, target.db_password), f"ALL PRIVILEGES ON {target.db_name}.*"),
        ):
            stmts.append(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';")
            stmts.append(f"GRANT {grant} TO '{user}'@'%';")
        db.sql("\n".join(stmts))

    def start_sshd() -> None:
        try:
            sshd.start()
        finally:
            _record_pid(home, sshd.pid)

    template = _wordpress_template(home)

    def make_source() -> None:
        _copy_wordpress(source, template, f"{HOST}:{db.port}")
        _add_source_files(source.docroot)

    def make_static() -> None:
        shutil.copytree(ASSETS / "static", home / "static" / "www")

    def make_target() -> None:
        _copy_wordpress(target, template, f"{HOST}:{db.port}")
        _add_target_files(target.docroot)

    with ThreadPoolExecutor(max_workers=5) as pool:
        jobs = [pool.submit(f) for f in (start_db, start_sshd, make_source, make_static, make_target)]
        for job in jobs:
            job.result()
        t_ready = time.monotonic()

        # Both sites install and seed in parallel (one PHP process each, two cores).
        src_install = pool.submit(_install, source)
        tgt_install = pool.submit(_install, target)
        src_install.result(), tgt_install.result()
        # WPSB_URL_FORMS: the main source also holds every URL spelling of issue 10.
        src_seed = pool.submit(_php, "seed_source.php",
                               {"WPSB_DOCROOT": str(source.docroot), "WPSB_URL": source.url,
                                "WPSB_URL_FORMS": "1"},
                               source.docroot)
        tgt_seed = pool.submit(_php, "seed_target.php",
                               {"WPSB_DOCROOT": str(target.docroot), "WPSB_URL": target.url,
                                "WPSB_SERVICE_USER": target.admin_user, "WPSB_SITE_ID": site_id},
                               target.docroot)
        target_result = tgt_seed.result()
        facts = src_seed.result()
    t_seeded = time.monotonic()

    # Snapshot of the fresh target for reset-target, taken while nothing else writes.
    snapshot_dir = home / "target" / "snapshot"
    dump = _snapshot_site(db, target, snapshot_dir)

    _bulk_postmeta(db, source, postmeta_rows, facts["media"]["hero"]["file"])
    facts["postmeta_count"] = int(db.sql(f"SELECT COUNT(*) FROM {source.prefix}postmeta", source.db_name))
    t_bulk = time.monotonic()

    static_root = home / "static" / "www"
    servers = {
        "source": _start_php_server(home, "source", source.port, source.docroot, "router.php"),
        "target": _start_php_server(home, "target", target.port, target.docroot, "router.php"),
        "static": _start_php_server(home, "static", static_port, static_root, "static_router.php"),
    }
    for port in (source.port, target.port, static_port):
        wait_for_port(port)

    def site(spec: _SiteSpec) -> Site:
        pid, access_log, request_log = servers[spec.name]
        return Site(url=spec.url, port=spec.port, pid=pid, docroot=str(spec.docroot),
                    wp_content=str(spec.docroot / "wp-content"), db_name=spec.db_name,
                    db_user=spec.db_user, db_password=spec.db_password, table_prefix=spec.prefix,
                    title=spec.title, admin_user=spec.admin_user, admin_password=spec.admin_password,
                    access_log=str(access_log), request_log=str(request_log))

    state = SandboxState(
        version=STATE_VERSION,
        seed_fingerprint=seed_fingerprint(),
        home=str(home),
        created_at=time.time(),
        build_seconds=0.0,
        postmeta_rows=postmeta_rows,
        db=Database(host=HOST, port=db.port, socket=str(db.socket), pid=db.pid or 0,
                    source_db=source.db_name, target_db=target.db_name,
                    reader_user=reader[0], reader_password=reader[1],
                    writer_user=writer[0], writer_password=writer[1]),
        sftp=Sftp(host=HOST, port=sshd.port, user="root", key_file=str(sshd.client_key), pid=sshd.pid or 0),
        source=site(source),
        target=site(target),
        platform=Platform(service_user=target.admin_user, service_password=target.admin_password,
                          app_password=target_result["app_password"], site_id=site_id,
                          target_dump=str(dump), target_wp_content_snapshot=str(snapshot_dir / "wp-content")),
        static=StaticSite(url=f"http://{HOST}:{static_port}", port=static_port, pid=servers["static"][0],
                          docroot=str(home / "static" / "www"), access_log=str(servers["static"][1])),
        facts=facts,
    )
    # First requests also warm PHP's workers; a failure here is a broken build.
    for url in (state.source.url + "/", state.target.url + "/", state.static.url + "/"):
        status = _http_status(url, timeout=30)
        if status != 200:
            raise SandboxError(f"{url} answered {status} after the build; see {home / 'logs'}")
    state.build_seconds = round(time.monotonic() - started, 2)
    state.facts["timings"] = {
        "teardown": round(t_clean - started, 2), "files_db_sshd": round(t_ready - t_clean, 2),
        "install_seed": round(t_seeded - t_ready, 2),
        "snapshot_bulk_sql": round(t_bulk - t_seeded, 2), "serve": round(time.monotonic() - t_bulk, 2),
    }
    save(state)
    return state


def _snapshot_site(db: PrivateMariaDB, spec: _SiteSpec, snapshot_dir: Path) -> Path:
    """Save a site's database and wp-content (for a reset); returns the dump's path."""
    snapshot_dir.mkdir(parents=True)
    dump = snapshot_dir / f"{spec.db_name}.sql"
    with dump.open("w") as out:
        subprocess.run(["mariadb-dump", "--no-defaults", f"--socket={db.socket}", "-uroot",
                        "--single-transaction", "--default-character-set=utf8mb4", spec.db_name],
                       stdout=out, check=True)
    shutil.copytree(spec.docroot / "wp-content", snapshot_dir / "wp-content", symlinks=True)
    return dump


# ---------------------------------------------------------------- on-demand sources

def _seed_like_source(spec: _SiteSpec, db: PrivateMariaDB, postmeta_rows: int,
                      theme: str | None = None) -> dict[str, Any]:
    """Install and seed an extra source exactly as ``up`` does the main one (same scripts, same
    bulk postmeta; ``theme`` instead of the sandbox's child theme); returns its seed facts."""
    _install(spec)
    env = {"WPSB_DOCROOT": str(spec.docroot), "WPSB_URL": spec.url} | ({"WPSB_THEME": theme} if theme else {})
    facts = _php("seed_source.php", env, spec.docroot)
    _bulk_postmeta(db, spec, postmeta_rows, facts["media"]["hero"]["file"])
    facts["postmeta_count"] = int(db.sql(f"SELECT COUNT(*) FROM {spec.prefix}postmeta", spec.db_name))
    return facts


def _serve(home: Path, spec: _SiteSpec, ini: dict[str, str] | None = None) -> tuple[int, Path, Path]:
    """Start the site's php -S and return once its home page answers 200."""
    pid, access_log, request_log = _start_php_server(home, spec.name, spec.port, spec.docroot,
                                                     "router.php", ini)
    try:
        wait_for_port(spec.port)
        status = _http_status(spec.url + "/", timeout=30)
        if status != 200:
            raise SandboxError(f"{spec.url}/ answered {status}; see {access_log}")
    except BaseException:
        _kill_all([pid])
        raise
    return pid, access_log, request_log


# ---------------------------------------------------------------- the ssh source

def _ssh_db(ssh: SshSource) -> PrivateMariaDB:
    return PrivateMariaDB(Path(ssh.db_dir), pid=ssh.db_pid, networking=False)


def _require_ssh_source(state: SandboxState) -> SshSource:
    if state.ssh_source is None:
        raise SandboxError("the sandbox has no ssh source: run build.up_ssh_source(state) first")
    return state.ssh_source


def _socket_open(path: str) -> bool:
    # A bare connect, no login: a health check must not add entries to the query log.
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.5)
        return s.connect_ex(path) == 0


def ssh_source_healthy(ssh: SshSource) -> bool:
    """Both processes alive, the socket accepting and the site answering (its page load
    does show in the query log)."""
    if not (all(alive(pid) for pid in ssh.pids) and _socket_open(ssh.db_socket)):
        return False
    return any(_http_status(ssh.url + "/", timeout=15) == 200 for _ in range(2))


def _up_extra(given: SandboxState, name: str, is_healthy: Callable[[SandboxState], bool],
              build_it: Callable[[Path, SandboxState, list[int]], Any]) -> SandboxState:
    """Add an on-demand site (``state.<name>``) to the running sandbox, or reuse a healthy
    one; saved, and set on ``given`` too. A failed build leaves nothing running."""
    home = Path(given.home)
    with _locked(home):
        current = load(home)
        if not is_healthy(current):
            if (old := getattr(current, name)) is not None:
                _kill_all(old.pids)
            started: list[int] = []
            try:
                setattr(current, name, build_it(home, current, started))
            except BaseException:
                _kill_all(started)  # nothing half-built keeps running
                raise
            save(current)
    setattr(given, name, getattr(current, name))
    return current


def up_ssh_source(state: SandboxState | None = None) -> SandboxState:
    """Add the ssh source (state.SshSource) to the running sandbox, or reuse a healthy one;
    the state is saved and ``state.ssh_source`` is set in place too. ``down`` stops it and the
    next full build removes it."""
    return _up_extra(state or load(), "ssh_source",
                     lambda s: s.ssh_source is not None and ssh_source_healthy(s.ssh_source),
                     _build_ssh_source)


def _build_ssh_source(home: Path, state: SandboxState, started: list[int]) -> SshSource:
    base = home / SSH_SOURCE
    shutil.rmtree(base, ignore_errors=True)
    log = base / "db" / "general.log"
    db = PrivateMariaDB(base / "db", networking=False,
                        extra_args=("--general-log=1", f"--general-log-file={log}", "--log-output=FILE"))
    spec = _SiteSpec(SSH_SOURCE, free_port(), base / "www", "wp_ssh", "wpssh_site", _password(),
                     "wpssh_", "Sandbox SSH Source ☕", "admin", _password())

    def start_db() -> None:
        try:
            db.start()
        finally:
            _record_pid(home, db.pid)
            started.extend([db.pid] if db.pid else [])
        anonymous = db.sql("SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user WHERE user = ''")
        stmts = [f"DROP USER {u};" for u in anonymous.split()]
        # 'localhost': socket logins only. Quiet, so the password stays out of the query log.
        stmts += [f"CREATE DATABASE {spec.db_name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
                  f"CREATE USER '{spec.db_user}'@'localhost' IDENTIFIED BY '{spec.db_password}';",
                  f"GRANT ALL PRIVILEGES ON {spec.db_name}.* TO '{spec.db_user}'@'localhost';"]
        db.sql("\n".join(stmts), quiet=True)

    def make_site() -> None:
        _copy_wordpress(spec, _wordpress_template(home), f"localhost:{db.socket}", shared_host=True)
        _add_source_files(spec.docroot)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for job in [pool.submit(start_db), pool.submit(make_site)]:
            job.result()
    facts = _seed_like_source(spec, db, state.postmeta_rows)
    pid, access_log, request_log = _serve(home, spec)
    started.append(pid)
    ssh = SshSource(url=spec.url, port=spec.port, pid=pid, docroot=str(spec.docroot),
                    wp_content=str(spec.docroot / "wp-content"), title=spec.title,
                    admin_user=spec.admin_user, admin_password=spec.admin_password,
                    access_log=str(access_log), request_log=str(request_log),
                    db_pid=db.pid or 0, db_dir=str(db.base), db_socket=str(db.socket), query_log=str(log),
                    db_name=spec.db_name, db_user=spec.db_user, db_password=spec.db_password,
                    table_prefix=spec.prefix, facts=facts)
    _reset_query_log(ssh)  # the log starts empty: install and seed are not what tests look at
    return ssh


def ssh_source_sql(state: SandboxState, statement: str, database: str | None = None,
                   quiet: bool = False) -> str:
    """SQL as root over the ssh source's socket (tab-separated rows, no header). Tests only:
    never a write to the source a migration reads."""
    return _ssh_db(_require_ssh_source(state)).sql(statement, database, quiet=quiet)


def ssh_source_query_log(state: SandboxState) -> list[query_log.LogEntry]:
    """What the ssh source's MariaDB received since the last reset, one entry per command."""
    return query_log.read(Path(_require_ssh_source(state).query_log))


def reset_ssh_source_query_log(state: SandboxState) -> None:
    """Start the ssh source's query log afresh, so a test sees only what one run did."""
    _reset_query_log(_require_ssh_source(state))


def _reset_query_log(ssh: SshSource) -> None:
    # Rotate: the server keeps writing to the file it has open until FLUSH reopens the path,
    # and the quiet root session that asks for it logs its login to the old file only.
    log = Path(ssh.query_log)
    old = log.with_name(log.name + ".old")
    with contextlib.suppress(FileNotFoundError):
        log.rename(old)
    _ssh_db(ssh).sql("FLUSH GENERAL LOGS;", quiet=True)
    old.unlink(missing_ok=True)


# ---------------------------------------------------------------- the admin source

def _main_db(state: SandboxState) -> PrivateMariaDB:
    return PrivateMariaDB(Path(state.home) / "db", port=state.db.port, pid=state.db.pid)


def _require_admin_source(state: SandboxState) -> AdminSource:
    if state.admin_source is None:
        raise SandboxError("the sandbox has no admin source: run build.up_admin_source(state) first")
    return state.admin_source


def _site_on_main_db_healthy(state: SandboxState, site: AdminSource | ClassicSource | None) -> bool:
    """An on-demand site served by its own php -S from the main MariaDB: its processes
    alive and the site answering (which also needs the main MariaDB)."""
    if site is None or not all(alive(pid) for pid in site.pids) or not alive(state.db.pid):
        return False
    return any(_http_status(site.url + "/", timeout=15) == 200 for _ in range(2))


def _fresh_database(db: PrivateMariaDB, name: str, owners: list[tuple[str, str]]) -> None:
    """An empty database on the main MariaDB, and ``owners`` (user, password) with every
    privilege on it, from any host. Dropped first: a rebuild after a crash finds the previous one."""
    stmts = [f"DROP DATABASE IF EXISTS {name};",
             f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"]
    for user, password in owners:
        stmts += [f"DROP USER IF EXISTS '{user}'@'%';",
                  f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';",
                  f"GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'%';"]
    db.sql("\n".join(stmts))


def admin_source_healthy(state: SandboxState) -> bool:
    return _site_on_main_db_healthy(state, state.admin_source)


def up_admin_source(state: SandboxState | None = None) -> SandboxState:
    """Add the admin source (state.AdminSource) to the running sandbox, or reuse a healthy one;
    the state is saved and ``state.admin_source`` is set in place too. ``down`` stops it and
    the next full build removes it."""
    return _up_extra(state or load(), "admin_source", admin_source_healthy, _build_admin_source)


def _write_random_file(path: Path, size: int) -> str:
    """``size`` random (incompressible) bytes; returns their sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for start in range(0, size, 1 << 20):
            block = os.urandom(min(1 << 20, size - start))
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _build_admin_source(home: Path, state: SandboxState, started: list[int]) -> AdminSource:
    base = home / ADMIN_SOURCE
    shutil.rmtree(base, ignore_errors=True)
    spec = _SiteSpec(ADMIN_SOURCE, free_port(), base / "www", "wp_admin_src", "wpadm_site", _password(),
                     "wpadm_", "Sandbox Admin Source ☕", "admin", _password())
    editor_user, editor_password = "site_editor", _password()
    db = _main_db(state)

    def make_db() -> None:
        _fresh_database(db, spec.db_name, [(spec.db_user, spec.db_password)])

    def make_site() -> str:
        # The limits in wp-config too, or wp-admin raises memory_limit to 256M itself.
        _copy_wordpress(spec, _wordpress_template(home), f"{HOST}:{state.db.port}",
                        extra_defines={"WP_MEMORY_LIMIT": "'64M'", "WP_MAX_MEMORY_LIMIT": "'64M'"})
        _add_source_files(spec.docroot)
        return _write_random_file(spec.docroot / "wp-content" / ADMIN_BIG_FILE, ADMIN_BIG_FILE_BYTES)

    with ThreadPoolExecutor(max_workers=2) as pool:
        db_job, site_job = pool.submit(make_db), pool.submit(make_site)
        db_job.result()
        big_file_sha256 = site_job.result()
    facts = _seed_like_source(spec, db, state.postmeta_rows)
    extra = _php("seed_admin_source.php", {
        "WPSB_DOCROOT": str(spec.docroot), "WPSB_URL": spec.url,
        "WPSB_EDITOR_USER": editor_user, "WPSB_EDITOR_PASSWORD": editor_password,
        "WPSB_BIG_OPTION": ADMIN_BIG_OPTION, "WPSB_BIG_OPTION_BYTES": str(ADMIN_BIG_OPTION_BYTES),
    }, spec.docroot)
    facts["users"]["site_editor"] = extra["editor_id"]

    pid, access_log, request_log = _serve(home, spec, ADMIN_PHP_INI)
    started.append(pid)
    return AdminSource(
        url=spec.url, port=spec.port, pid=pid, docroot=str(spec.docroot),
        wp_content=str(spec.docroot / "wp-content"), title=spec.title, db_name=spec.db_name,
        db_user=spec.db_user, db_password=spec.db_password, table_prefix=spec.prefix,
        admin_user=spec.admin_user, admin_password=spec.admin_password,
        editor_user=editor_user, editor_password=editor_password,
        big_file=ADMIN_BIG_FILE, big_file_size=ADMIN_BIG_FILE_BYTES, big_file_sha256=big_file_sha256,
        big_option=ADMIN_BIG_OPTION, big_option_size=extra["big_option"]["size"],
        big_option_sha256=extra["big_option"]["sha256"], php_ini=dict(ADMIN_PHP_INI),
        access_log=str(access_log), request_log=str(request_log), facts=facts)


def restart_admin_source_php(state: SandboxState) -> SandboxState:
    """Stop the admin source's php -S (its whole group, requests in flight cut off) and start
    it again on the same port with the same settings; returns once it answers 200. The new
    pid is saved and set on ``state.admin_source`` in place."""
    home = Path(state.home)
    with _locked(home):
        current = load(home)
        admin = _require_admin_source(current)
        _kill_all(admin.pids)
        spec = _SiteSpec(ADMIN_SOURCE, admin.port, Path(admin.docroot), admin.db_name, admin.db_user,
                         admin.db_password, admin.table_prefix, admin.title, admin.admin_user,
                         admin.admin_password)
        admin.pid = _serve(home, spec, admin.php_ini)[0]
        save(current)
    state.admin_source = current.admin_source
    return current


def admin_source_sql(state: SandboxState, statement: str) -> str:
    """SQL as root on the admin source's database (tab-separated rows, no header). Tests only:
    never a write to the source a migration reads."""
    return _main_db(state).sql(statement, _require_admin_source(state).db_name)


# ---------------------------------------------------------------- the classic source

def _require_classic_source(state: SandboxState) -> ClassicSource:
    if state.classic_source is None:
        raise SandboxError("the sandbox has no classic source: run build.up_classic_source(state) first")
    return state.classic_source


def classic_source_healthy(state: SandboxState) -> bool:
    return _site_on_main_db_healthy(state, state.classic_source)


def up_classic_source(state: SandboxState | None = None) -> SandboxState:
    """Add the classic source (state.ClassicSource) to the running sandbox, or reuse a healthy
    one; the state is saved and ``state.classic_source`` is set in place too. ``down`` stops it
    and the next full build removes it."""
    return _up_extra(state or load(), "classic_source", classic_source_healthy, _build_classic_source)


def _build_classic_source(home: Path, state: SandboxState, started: list[int]) -> ClassicSource:
    base = home / CLASSIC_SOURCE
    shutil.rmtree(base, ignore_errors=True)
    spec = _SiteSpec(CLASSIC_SOURCE, free_port(), base / "www", "wp_classic_src", "wpcls_site", _password(),
                     "wpcls_", "Sandbox Classic Source ☕", "admin", _password())
    db = _main_db(state)

    def make_db() -> None:
        _fresh_database(db, spec.db_name, [(spec.db_user, spec.db_password)])

    def make_site() -> None:
        _copy_wordpress(spec, _wordpress_template(home), f"{HOST}:{state.db.port}")
        _add_source_files(spec.docroot)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for job in [pool.submit(make_db), pool.submit(make_site)]:
            job.result()
    # No bulk postmeta: Mode B reads what a visitor sees, and the rows would only slow the build.
    facts = _seed_like_source(spec, db, 0, theme=CLASSIC_THEME)
    pid, access_log, request_log = _serve(home, spec)
    started.append(pid)
    return ClassicSource(
        url=spec.url, port=spec.port, pid=pid, docroot=str(spec.docroot),
        wp_content=str(spec.docroot / "wp-content"), title=spec.title, theme=CLASSIC_THEME,
        db_name=spec.db_name, db_user=spec.db_user, db_password=spec.db_password, table_prefix=spec.prefix,
        admin_user=spec.admin_user, admin_password=spec.admin_password,
        access_log=str(access_log), request_log=str(request_log), facts=facts)


def classic_source_sql(state: SandboxState, statement: str) -> str:
    """SQL as root on the classic source's database (tab-separated rows, no header). Tests only:
    never a write to the source a migration reads."""
    return _main_db(state).sql(statement, _require_classic_source(state).db_name)


def set_classic_source_rest(enabled: bool, state: SandboxState | None = None) -> SandboxState:
    """Open or close the classic source's REST API (the sandbox plugin's switch, as
    ``set_source_rest`` does for the main source)."""
    state = state or load()
    home = Path(state.home)
    with _locked(home):
        current = load(home)
        classic = _require_classic_source(current)
        _main_db(current).sql(
            f"INSERT INTO {classic.table_prefix}options (option_name, option_value, autoload) "
            f"VALUES ('sandbox_disable_rest', '{'' if enabled else '1'}', 'yes') "
            "ON DUPLICATE KEY UPDATE option_value = VALUES(option_value);", classic.db_name)
        classic.rest_enabled = enabled
        save(current)
    if state.classic_source is not None:
        state.classic_source.rest_enabled = enabled
    return state


# ---------------------------------------------------------------- down, reset, switches

# ---------------------------------------------------------------- more platform targets

def platform_target_healthy(state: SandboxState, target: PlatformTarget) -> bool:
    return alive(target.pid) and alive(state.db.pid) and any(
        _http_status(target.url + "/", timeout=15) == 200 for _ in range(2))


def up_targets(count: int, state: SandboxState | None = None) -> list[PlatformTarget]:
    """At least ``count`` extra platform targets beside ``target`` (for concurrent runs, one
    each); healthy ones are reused as they are (``reset_platform_target`` empties them), the
    missing or broken ones built, two at a time. The state is saved and set on ``state`` too.
    Returns the first ``count``."""
    given = state or load()
    home = Path(given.home)
    with _locked(home):
        current = load(home)
        keep = [t for t in current.extra_targets if platform_target_healthy(current, t)]
        _kill_all([pid for t in current.extra_targets if t not in keep for pid in t.pids])
        free = (n for n in range(1, count + len(current.extra_targets) + 1)
                if n not in {t.number for t in keep})
        numbers = [next(free) for _ in range(count - len(keep))]
        ports = free_ports(len(numbers))  # distinct, though none is bound before its site starts
        started: list[int] = []
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:  # one PHP install per core
                built = list(pool.map(lambda n, port: _build_platform_target(home, current, n, port, started),
                                      numbers, ports))
        except BaseException:
            _kill_all(started)  # nothing half-built keeps running
            raise
        current.extra_targets = sorted(keep + built, key=lambda t: t.number)
        save(current)
    given.extra_targets = current.extra_targets
    return current.extra_targets[:count]


def _build_platform_target(home: Path, state: SandboxState, number: int, port: int,
                           started: list[int]) -> PlatformTarget:
    base = home / "targets" / str(number)
    shutil.rmtree(base, ignore_errors=True)
    spec = _SiteSpec(f"target-{number}", port, base / "www", f"wp_target_{number}",
                     f"wptgt_site_{number}", _password(), "wp_", f"Platform Target {number}",
                     "platform-admin", _password())
    writer = (f"tgt_writer_{number}", _password())
    db = _main_db(state)
    _fresh_database(db, spec.db_name, [(spec.db_user, spec.db_password), writer])
    _copy_wordpress(spec, _wordpress_template(home), f"{HOST}:{state.db.port}")
    _add_target_files(spec.docroot)
    _install(spec)
    site_id = str(uuid.uuid4())
    seeded = _php("seed_target.php", {"WPSB_DOCROOT": str(spec.docroot), "WPSB_URL": spec.url,
                                      "WPSB_SERVICE_USER": spec.admin_user, "WPSB_SITE_ID": site_id},
                  spec.docroot)
    dump = _snapshot_site(db, spec, base / "snapshot")
    pid, access_log, request_log = _serve(home, spec)
    started.append(pid)
    return PlatformTarget(
        number=number, url=spec.url, port=spec.port, pid=pid, docroot=str(spec.docroot),
        wp_content=str(spec.docroot / "wp-content"), db_name=spec.db_name, db_user=spec.db_user,
        db_password=spec.db_password, writer_user=writer[0], writer_password=writer[1],
        table_prefix=spec.prefix, title=spec.title, service_user=spec.admin_user,
        service_password=spec.admin_password, app_password=seeded["app_password"], site_id=site_id,
        dump=str(dump), wp_content_snapshot=str(base / "snapshot" / "wp-content"),
        access_log=str(access_log), request_log=str(request_log))


def down(home: Path | None = None) -> list[int]:
    """Stop every process the sandbox started; the files stay until the next ``up``."""
    home = (home or home_dir()).resolve()
    with _locked(home):
        stopped = _stop_everything(home)
        state_path(home).unlink(missing_ok=True)
    return stopped


def reset_target(state: SandboxState | None = None) -> SandboxState:
    """Put the target back to its freshly installed state: database from the saved dump,
    wp-content from the saved copy. The servers keep running."""
    state = state or load()
    _restore_site(state, state.db.target_db, state.platform.target_dump, state.target.wp_content,
                  state.platform.target_wp_content_snapshot)
    return state


def reset_platform_target(state: SandboxState, target: PlatformTarget) -> None:
    """``reset_target`` for one of the extra platform targets (build.up_targets)."""
    _restore_site(state, target.db_name, target.dump, target.wp_content, target.wp_content_snapshot)


def _restore_site(state: SandboxState, db_name: str, dump_file: str, wp_content: str, snapshot: str) -> None:
    home = Path(state.home)
    with _locked(home):
        db = _main_db(state)
        # Grants are per database name and survive DROP DATABASE.
        db.sql(f"DROP DATABASE IF EXISTS {db_name}; "
               f"CREATE DATABASE {db_name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;")
        with open(dump_file, "rb") as dump:
            subprocess.run(["mariadb", "--no-defaults", f"--socket={db.socket}", "-uroot",
                            "--default-character-set=utf8mb4", db_name], stdin=dump, check=True)
        shutil.rmtree(wp_content, ignore_errors=True)
        shutil.copytree(snapshot, wp_content, symlinks=True)


def set_source_rest(enabled: bool, state: SandboxState | None = None) -> SandboxState:
    """Open or close the source's REST API (the sandbox plugin reads ``sandbox_disable_rest``)."""
    state = state or load()
    home = Path(state.home)
    with _locked(home):
        db = PrivateMariaDB(home / "db", port=state.db.port, pid=state.db.pid)
        db.sql(f"INSERT INTO {state.source.table_prefix}options (option_name, option_value, autoload) "
               f"VALUES ('sandbox_disable_rest', '{'' if enabled else '1'}', 'yes') "
               "ON DUPLICATE KEY UPDATE option_value = VALUES(option_value);", state.db.source_db)
        # Saved from what is on disk: the caller's copy may hold an older admin or ssh source
        # (its php -S restarted since), and saving that would point the state at dead pids.
        current = load(home)
        current.source_rest_enabled = state.source_rest_enabled = enabled
        save(current)
    return state


PERMALINK_STRUCTURE = re.compile(r"[A-Za-z0-9%/._-]*")


def set_source_permalinks(structure: str, state: SandboxState | None = None) -> SandboxState:
    """Give the source another permalink structure (the install's is ``/%postname%/``), as a
    save of its Permalinks screen does: the rewrite rules are dropped, and WordPress builds
    them again for the new structure on the next request."""
    if not PERMALINK_STRUCTURE.fullmatch(structure):
        raise ValueError(f"not a permalink structure: {structure!r}")
    state = state or load()
    home = Path(state.home)
    with _locked(home):
        db = PrivateMariaDB(home / "db", port=state.db.port, pid=state.db.pid)
        options = f"{state.source.table_prefix}options"
        db.sql(f"UPDATE {options} SET option_value = '{structure}' "
               f"WHERE option_name = 'permalink_structure'; "
               f"DELETE FROM {options} WHERE option_name = 'rewrite_rules';", state.db.source_db)
    return state


def status(home: Path | None = None) -> dict[str, Any]:
    """What runs and answers, without secrets."""
    home = (home or home_dir()).resolve()
    try:
        state = load(home)
    except FileNotFoundError:
        return {"home": str(home), "up": False}
    services: dict[str, Any] = {
        "mariadb": {"pid": state.db.pid, "alive": alive(state.db.pid), "port": state.db.port,
                    "listening": _port_open(state.db.port)},
        "sftp": {"pid": state.sftp.pid, "alive": alive(state.sftp.pid), "port": state.sftp.port,
                 "listening": _port_open(state.sftp.port)},
    }
    for name, site in (("source", state.source), ("target", state.target), ("static", state.static)):
        services[name] = {"pid": site.pid, "alive": alive(site.pid), "url": site.url,
                          "http_status": _http_status(site.url + "/")}
    ok = all(s["alive"] and s.get("listening", True) and s.get("http_status", 200) == 200
             for s in services.values())
    info: dict[str, Any] = {"home": str(home), "up": ok, "postmeta_rows": state.postmeta_rows,
                            "build_seconds": state.build_seconds,
                            "source_rest_enabled": state.source_rest_enabled, "services": services}
    if state.ssh_source:  # on demand, so not part of "up"
        ssh = state.ssh_source
        info["ssh_source"] = {"url": ssh.url, "pid": ssh.pid, "db_pid": ssh.db_pid,
                              "alive": all(alive(p) for p in ssh.pids), "socket": ssh.db_socket,
                              "socket_open": _socket_open(ssh.db_socket),
                              "http_status": _http_status(ssh.url + "/")}
    if state.admin_source:  # on demand too
        admin = state.admin_source
        info["admin_source"] = {"url": admin.url, "pid": admin.pid, "alive": alive(admin.pid),
                                "php_ini": admin.php_ini, "http_status": _http_status(admin.url + "/")}
    if state.classic_source:  # on demand too
        classic = state.classic_source
        info["classic_source"] = {"url": classic.url, "pid": classic.pid, "alive": alive(classic.pid),
                                  "theme": classic.theme, "rest_enabled": classic.rest_enabled,
                                  "http_status": _http_status(classic.url + "/")}
    if state.extra_targets:  # on demand too
        info["extra_targets"] = [{"number": t.number, "url": t.url, "pid": t.pid, "alive": alive(t.pid),
                                  "http_status": _http_status(t.url + "/")} for t in state.extra_targets]
    return info
