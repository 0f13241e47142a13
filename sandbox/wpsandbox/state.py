"""The sandbox's state file (``$WPSANDBOX_HOME/state.json``, mode 0600) and what other
code derives from it: Airflow connections and a Mode A DAG conf."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Airflow connection ids the sandbox provides (see airflow_connections()).
SOURCE_SFTP_CONN_ID = "wpm_source_sftp"
SOURCE_DB_CONN_ID = "wpm_source_db"
TARGET_DB_CONN_ID = "wpm_target_db"
TARGET_WP_CONN_ID = "wpm_target_wp"
# Only while the admin source exists (build.up_admin_source): its administrator and its editor.
SOURCE_ADMIN_CONN_ID = "wpm_source_admin"
SOURCE_EDITOR_CONN_ID = "wpm_source_editor"
# The platform's companion key (wpmigrate's default connection id) and, for the manual
# install, a connection holding one hand-installed plugin's secret.
COMPANION_KEY_CONN_ID = "wpmigrate_companion_key"
MANUAL_COMPANION_CONN_ID = "wpm_source_companion"
# The tenant every sandbox conf runs for; its connections are marked for it.
SANDBOX_TENANT = "sandbox"


def home_dir() -> Path:
    """Base directory of the sandbox: ``var/sandbox`` or ``$WPSANDBOX_HOME``."""
    env = os.environ.get("WPSANDBOX_HOME")
    return Path(env).resolve() if env else PROJECT_ROOT / "var" / "sandbox"


def state_path(home: Path | None = None) -> Path:
    return (home or home_dir()) / "state.json"


@dataclass
class Database:
    """The private MariaDB. ``reader`` may only read ``source_db``; ``writer`` owns ``target_db``."""

    host: str
    port: int
    socket: str
    pid: int
    source_db: str
    target_db: str
    reader_user: str
    reader_password: str
    writer_user: str
    writer_password: str


@dataclass
class Sftp:
    host: str
    port: int
    user: str
    key_file: str
    pid: int


@dataclass
class Site:
    """One WordPress site served by ``php -S``."""

    url: str
    port: int
    pid: int
    docroot: str
    wp_content: str
    db_name: str
    db_user: str  # WordPress's own DB user (wp-config.php), not the migration's
    db_password: str
    table_prefix: str
    title: str
    admin_user: str
    admin_password: str
    # php -S's own log; it has "[status]: METHOD /path" lines only for real files
    # (uploads, wp-login.php), not for requests the router hands to WordPress.
    access_log: str
    # Every request, one JSON line each from router.php: t (epoch, sub-second), method,
    # uri, status (null when php -S served a real file itself), ua, auth (bool).
    request_log: str


@dataclass
class Platform:
    """What the hosting platform keeps on the target and a Mode A import must preserve."""

    service_user: str
    service_password: str
    app_password: str
    site_id: str
    target_dump: str  # mariadb-dump of the freshly installed target (reset-target)
    target_wp_content_snapshot: str


@dataclass
class StaticSite:
    """A plain HTML site (not WordPress) for NOT_WORDPRESS tests."""

    url: str
    port: int
    pid: int
    docroot: str
    access_log: str


@dataclass
class SshSource:
    """A second source, seeded like ``source``, for the ``ssh`` route: its MariaDB listens on
    a unix socket only (``--skip-networking``), so only a login on the machine (the sandbox's
    sshd, same host and key as ``sftp``) reaches it. wp-config.php names the socket as
    ``DB_HOST 'localhost:<db_socket>'`` with WordPress's own read-write user, as shared hosts do.
    Every statement the server receives goes to ``query_log`` (general log, FILE)."""

    url: str
    port: int
    pid: int  # php -S
    docroot: str  # the WordPress root (wp_root in the conf)
    wp_content: str
    title: str
    admin_user: str
    admin_password: str
    access_log: str
    request_log: str
    db_pid: int
    db_dir: str  # the server's base directory (PrivateMariaDB.base)
    db_socket: str
    query_log: str
    db_name: str
    db_user: str  # from wp-config.php; it can write, which is why the route must only read
    db_password: str
    table_prefix: str
    # What the seed created (same shape as SandboxState.facts, for this site's URL and ids).
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def pids(self) -> list[int]:
        return [self.db_pid, self.pid]


@dataclass
class AdminSource:
    """A third source, seeded like ``source``, for the ``wp_admin`` route: a WordPress
    administrator's login is all a migration gets. A tight host: ``php -S`` runs with
    ``php_ini`` (max_execution_time 5 s, memory_limit 64M; WP_MEMORY_LIMIT and
    WP_MAX_MEMORY_LIMIT are 64M too, so wp-admin does not raise it), and the site holds a
    file over 50 MB and a single option value over 5 MB. Its database is on the main MariaDB
    (``state.db``, TCP) with WordPress's own user; the filesystem is writable (FS_METHOD direct)
    so wp-admin can install plugins."""

    url: str
    port: int
    pid: int  # php -S (a new one after build.restart_admin_source_php)
    docroot: str
    wp_content: str
    title: str
    db_name: str
    db_user: str  # from wp-config.php (ALL PRIVILEGES on db_name)
    db_password: str
    table_prefix: str
    admin_user: str  # role administrator
    admin_password: str
    editor_user: str  # role editor: a login that is not an administrator
    editor_password: str
    big_file: str  # path relative to wp_content, '/'-separated
    big_file_size: int
    big_file_sha256: str
    big_option: str  # option_name in {table_prefix}options (autoload no)
    big_option_size: int  # bytes of option_value as stored
    big_option_sha256: str
    php_ini: dict[str, str]  # the -d settings php -S runs with
    access_log: str
    request_log: str
    # What the seed created (same shape as SandboxState.facts, for this site's URL and ids).
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def pids(self) -> list[int]:
        return [self.pid]


@dataclass
class ClassicSource:
    """A fourth source for Mode B, seeded like ``source`` (same script, same content, no bulk
    postmeta) but wearing a classic theme (``theme``, Twenty Twenty-One: PHP templates, no
    block theme): the markup a scrape reads around the content is the classic kind. Its
    database is on the main MariaDB (``state.db``, TCP) with WordPress's own user; its REST
    API is open unless ``rest_enabled`` is false (build.set_classic_source_rest)."""

    url: str
    port: int
    pid: int  # php -S
    docroot: str
    wp_content: str
    title: str
    theme: str
    db_name: str
    db_user: str
    db_password: str
    table_prefix: str
    admin_user: str
    admin_password: str
    access_log: str
    request_log: str
    rest_enabled: bool = True
    # What the seed created (same shape as SandboxState.facts, for this site's URL and ids).
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def pids(self) -> list[int]:
        return [self.pid]


@dataclass
class PlatformTarget:
    """One more platform site to migrate into (build.up_targets), installed and seeded like
    ``target`` (same scripts: its own service user, application password and site id), with
    its own database on the main MariaDB and its own migration writer, as each platform site
    has. Concurrent-migration tests give each run its own."""

    number: int  # 1, 2, ...: the connection ids end in it
    url: str
    port: int
    pid: int  # php -S
    docroot: str
    wp_content: str
    db_name: str
    db_user: str  # WordPress's own (wp-config.php)
    db_password: str
    writer_user: str  # the migration's (connection wpm_target_db_<number>)
    writer_password: str
    table_prefix: str
    title: str
    service_user: str
    service_password: str
    app_password: str
    site_id: str
    dump: str  # mariadb-dump of the freshly installed site (build.reset_platform_target)
    wp_content_snapshot: str
    access_log: str
    request_log: str

    @property
    def db_conn_id(self) -> str:
        return f"{TARGET_DB_CONN_ID}_{self.number}"

    @property
    def wp_conn_id(self) -> str:
        return f"{TARGET_WP_CONN_ID}_{self.number}"

    @property
    def pids(self) -> list[int]:
        return [self.pid]


@dataclass
class SandboxState:
    version: int
    home: str
    created_at: float
    build_seconds: float
    postmeta_rows: int  # bulk rows requested; the table holds a few more
    db: Database
    sftp: Sftp
    source: Site
    target: Site
    platform: Platform
    static: StaticSite
    source_rest_enabled: bool = True
    # What the seed created on the source: ids, media files and sizes, tricky options.
    facts: dict[str, Any] = field(default_factory=dict)
    # sha256 of the PHP seed and the assets it was built from: a checkout that changed them
    # gets a fresh sandbox instead of an old seed (build.up).
    seed_fingerprint: str = ""
    # Added on demand by build.up_ssh_source(); None until then.
    ssh_source: SshSource | None = None
    # Added on demand by build.up_admin_source(); None until then.
    admin_source: AdminSource | None = None
    # Added on demand by build.up_classic_source(); None until then.
    classic_source: ClassicSource | None = None
    # Added on demand by build.up_targets(); empty until then.
    extra_targets: list[PlatformTarget] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """The processes ``up`` starts (the ssh and admin sources' are in their own ``pids``)."""
        return [self.db.pid, self.sftp.pid, self.source.pid, self.target.pid, self.static.pid]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxState:
        return cls(
            **{k: v for k, v in data.items()
               if k not in {"db", "sftp", "source", "target", "platform", "static", "ssh_source",
                                      "admin_source", "classic_source", "extra_targets"}},
            db=Database(**data["db"]),
            sftp=Sftp(**data["sftp"]),
            source=Site(**data["source"]),
            target=Site(**data["target"]),
            platform=Platform(**data["platform"]),
            static=StaticSite(**data["static"]),
            ssh_source=SshSource(**data["ssh_source"]) if data.get("ssh_source") else None,
            admin_source=AdminSource(**data["admin_source"]) if data.get("admin_source") else None,
            classic_source=ClassicSource(**data["classic_source"]) if data.get("classic_source") else None,
            extra_targets=[PlatformTarget(**t) for t in data.get("extra_targets") or []],
        )


def save(state: SandboxState) -> Path:
    path = state_path(Path(state.home))
    tmp = path.with_suffix(".tmp")
    # Created 0600 from the start: the file holds passwords.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state.to_dict(), out, indent=2, ensure_ascii=False)
    os.replace(tmp, path)
    return path


def load(home: Path | None = None) -> SandboxState:
    """The running sandbox's state. Raises FileNotFoundError when it was never built or is down."""
    path = state_path(home)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `PYTHONPATH=sandbox python -m wpsandbox up`")
    return SandboxState.from_dict(json.loads(path.read_text()))


def tenant_marking(role: str, site: str | None = None, tenant: str = SANDBOX_TENANT) -> dict[str, Any]:
    """The extra that lets a conf of ``tenant`` name a connection in ``role`` (the tenant
    wall, docs/portal-contract.md); a target database connection names its ``site``."""
    mark: dict[str, Any] = {"tenant": tenant, "role": role}
    if site:
        mark["site"] = site
    return {"wpmigrate": mark}


def connections(state: SandboxState) -> dict[str, str]:
    """Airflow connection JSON per connection id, marked for the sandbox's tenant (the
    platform's companion key carries no marking: no conf may name it)."""
    source, target = tenant_marking("source"), tenant_marking("target")
    conns: dict[str, dict[str, Any]] = {
        SOURCE_SFTP_CONN_ID: {
            "conn_type": "sftp", "host": state.sftp.host, "port": state.sftp.port,
            "login": state.sftp.user,
            "extra": {"key_file": state.sftp.key_file, "no_host_key_check": True, **source},
        },
        SOURCE_DB_CONN_ID: {
            "conn_type": "mysql", "host": state.db.host, "port": state.db.port,
            "login": state.db.reader_user, "password": state.db.reader_password,
            "schema": state.db.source_db, "extra": {"charset": "utf8mb4", **source},
        },
        TARGET_DB_CONN_ID: {
            "conn_type": "mysql", "host": state.db.host, "port": state.db.port,
            "login": state.db.writer_user, "password": state.db.writer_password,
            "schema": state.db.target_db,
            "extra": {"charset": "utf8mb4", **tenant_marking("target", state.target.url)},
        },
        # HttpHook takes a host with a scheme as the base URL (port included).
        TARGET_WP_CONN_ID: {
            "conn_type": "http", "host": state.target.url,
            "login": state.platform.service_user, "password": state.platform.app_password,
            "extra": target,
        },
    }
    if state.admin_source is not None:
        # The wp_admin route's only credential: a WordPress login (cookie session, not REST).
        admin = state.admin_source
        conns[SOURCE_ADMIN_CONN_ID] = {"conn_type": "http", "host": admin.url,
                                       "login": admin.admin_user, "password": admin.admin_password,
                                       "extra": source}
        conns[SOURCE_EDITOR_CONN_ID] = {"conn_type": "http", "host": admin.url,
                                        "login": admin.editor_user, "password": admin.editor_password,
                                        "extra": source}
        conns[COMPANION_KEY_CONN_ID] = {"conn_type": "generic", "password": companion_key(state)}
        conns[MANUAL_COMPANION_CONN_ID] = {"conn_type": "generic", "password": manual_companion_secret(state),
                                           "extra": source}
    for extra in state.extra_targets:
        conns[extra.db_conn_id] = {
            "conn_type": "mysql", "host": state.db.host, "port": state.db.port,
            "login": extra.writer_user, "password": extra.writer_password,
            "schema": extra.db_name, "extra": {"charset": "utf8mb4", **tenant_marking("target", extra.url)},
        }
        conns[extra.wp_conn_id] = {"conn_type": "http", "host": extra.url,
                                   "login": extra.service_user, "password": extra.app_password,
                                   "extra": target}
    return {conn_id: json.dumps(conn) for conn_id, conn in conns.items()}


def _admin_derived(state: SandboxState, label: str) -> str:
    if state.admin_source is None:
        raise ValueError("the sandbox has no admin source: run build.up_admin_source(state) first")
    return hashlib.sha256(f"{label}:{state.admin_source.admin_password}".encode()).hexdigest()


def companion_key(state: SandboxState) -> str:
    """The platform's companion key in the sandbox: stable while the admin source lives."""
    return _admin_derived(state, "wpmigrate-companion-key")


def manual_companion_secret(state: SandboxState) -> str:
    """The secret of a companion plugin 'installed by hand' (64 hex characters)."""
    return _admin_derived(state, "wpmigrate-manual-companion")


def airflow_connections(state: SandboxState) -> dict[str, str]:
    """Environment variables ``AIRFLOW_CONN_<ID>`` -> connection JSON, ready for os.environ."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": conn for conn_id, conn in connections(state).items()}


def mode_a_conf(state: SandboxState, migration_id: str | None = None, *,
                target: PlatformTarget | None = None) -> dict[str, Any]:
    """A Mode A (full access) DAG run conf migrating the sandbox source onto its target
    (the ``sftp_db`` route: SFTP plus a database connection; no ``route`` key, as in v1), or
    onto one of its extra platform targets (build.up_targets)."""
    return _mode_a(state, migration_id, state.source.url, {
        "sftp_conn_id": SOURCE_SFTP_CONN_ID,
        "db_conn_id": SOURCE_DB_CONN_ID,
        "wp_root": state.source.docroot,
    }, target)


def mode_a_ssh_conf(state: SandboxState, migration_id: str | None = None) -> dict[str, Any]:
    """A Mode A conf for the ``ssh`` route: the ssh source (build.up_ssh_source) from the SFTP
    login and its WordPress root alone; the route reads the database settings from its
    wp-config.php. Same target as mode_a_conf."""
    if state.ssh_source is None:
        raise ValueError("the sandbox has no ssh source: run build.up_ssh_source(state) first")
    return _mode_a(state, migration_id, state.ssh_source.url, {
        "route": "ssh",
        "sftp_conn_id": SOURCE_SFTP_CONN_ID,
        "wp_root": state.ssh_source.docroot,
    })


def mode_a_admin_conf(state: SandboxState, migration_id: str | None = None, *,
                      admin_conn_id: str = SOURCE_ADMIN_CONN_ID) -> dict[str, Any]:
    """A Mode A conf for the ``wp_admin`` route: the admin source (build.up_admin_source) from
    a WordPress login alone (``admin_conn_id``; SOURCE_EDITOR_CONN_ID for a login that is not
    an administrator). Same target as mode_a_conf."""
    if state.admin_source is None:
        raise ValueError("the sandbox has no admin source: run build.up_admin_source(state) first")
    return _mode_a(state, migration_id, state.admin_source.url, {
        "route": "wp_admin",
        "wp_conn_id": admin_conn_id,
    })


def _mode_a(state: SandboxState, migration_id: str | None, source_url: str,
            source_access: dict[str, Any], target: PlatformTarget | None = None) -> dict[str, Any]:
    if target is None:
        into = {"url": state.target.url, "db_conn_id": TARGET_DB_CONN_ID, "wp_conn_id": TARGET_WP_CONN_ID,
                "wp_content": state.target.wp_content, "table_prefix": state.target.table_prefix,
                "service_user": state.platform.service_user}
    else:
        into = {"url": target.url, "db_conn_id": target.db_conn_id, "wp_conn_id": target.wp_conn_id,
                "wp_content": target.wp_content, "table_prefix": target.table_prefix,
                "service_user": target.service_user}
    return {
        "contract_version": 1,
        "migration_id": migration_id or str(uuid.uuid4()),
        "tenant_id": SANDBOX_TENANT,
        "source_url": source_url,
        "source_access": source_access,
        "target": {
            "provisioner": "existing",
            "url": into["url"],
            "db_conn_id": into["db_conn_id"],
            "wp_conn_id": into["wp_conn_id"],
            "wp_content_uri": f"file://{into['wp_content']}",
            "table_prefix": into["table_prefix"],
            "service_users": [into["service_user"]],
            "preserve_options": ["platform_%"],
        },
        "schedule": "now",
        "dry_run": False,
    }


def mode_b_conf(state: SandboxState, migration_id: str | None = None, *,
                source_url: str | None = None, target: PlatformTarget | None = None) -> dict[str, Any]:
    """A Mode B (scrape and rebuild) DAG run conf: the sandbox source by its public URL only
    (``source_url``: another source's, e.g. the classic source's), into the target or one of
    the extra platform targets (``target``)."""
    return {
        "contract_version": 1,
        "migration_id": migration_id or str(uuid.uuid4()),
        "tenant_id": SANDBOX_TENANT,
        "source_url": source_url or state.source.url,
        "content_scope": {"include_pages": True, "include_posts": True, "include_media": True,
                          "max_depth": 5},
        "theme_preference": "auto_match",
        "target": {"provisioner": "existing", "url": target.url if target else state.target.url,
                   "wp_conn_id": target.wp_conn_id if target else TARGET_WP_CONN_ID},
        "schedule": "now",
        "dry_run": False,
    }
