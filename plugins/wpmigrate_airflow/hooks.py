"""Hooks that turn Airflow connections into the clients the domain library takes.

Credentials stay in connections (or the secrets backend); conf only names them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

import httpx
import paramiko
from airflow.providers.sftp.hooks.sftp import SFTPHook
from airflow.providers.ssh.hooks.ssh import SSHHook
from airflow.sdk import BaseHook, Connection
from airflow.sdk.log import mask_secret

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.full_access.companion.package import derive_secret, is_secret
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.ssh_tunnel import Destination, LocalAddress, SshTunnel
from wpmigrate.web.url_guard import target_client, url_origin


def _masked_connection(hook: BaseHook, conn_id: str) -> Connection:
    """The connection, its password masked in every log from here on."""
    conn = hook.get_connection(conn_id)
    if conn.password:
        mask_secret(conn.password)
    return conn


class WordPressDatabaseHook(BaseHook):
    """A WordPress database reached through a ``mysql`` Airflow connection.

    Opens mysqlclient connections configured for byte-exact streaming (utf8mb4,
    raw bytes, zero dates preserved), which the provider's MySqlHook does not do.
    """

    conn_name_attr = "wp_db_conn_id"
    default_conn_name = "wpmigrate_db_default"
    conn_type = "mysql"
    hook_name = "WordPress database"

    def __init__(self, wp_db_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.wp_db_conn_id = wp_db_conn_id

    def params(self) -> DbParams:
        conn = _masked_connection(self, self.wp_db_conn_id)
        extra = conn.extra_dejson
        return DbParams(
            host=conn.host or "127.0.0.1",
            port=int(conn.port or 3306),
            user=conn.login or "",
            password=conn.password or "",
            database=conn.schema or "",
            unix_socket=extra.get("unix_socket"),
        )

    def get_conn(self, *, unreachable_code: ErrorCode = ErrorCode.SOURCE_UNREACHABLE,
                 local_infile: bool = False, read_only: bool = False) -> Any:
        """``local_infile`` only towards the platform's own (trusted) target databases:
        the import needs it for rows larger than max_allowed_packet, and a hostile
        server could use it to read local files. ``read_only`` for source sessions."""
        return connect(replace(self.params(), read_only=read_only), unreachable_code=unreachable_code,
                       local_infile=local_infile)


class SftpClientFactory:
    """Opens independent SFTP sessions on one connection (parallel transfers, reconnects)
    and closes them all on exit. Each call returns a new ``paramiko.SFTPClient``."""

    def __init__(self, ssh_conn_id: str) -> None:
        self.ssh_conn_id = ssh_conn_id
        self._hooks: list[SFTPHook] = []
        self._lock = threading.Lock()

    def __call__(self) -> paramiko.SFTPClient:
        hook = SFTPHook(ssh_conn_id=self.ssh_conn_id)
        try:
            client = hook.get_conn()
        except paramiko.AuthenticationException as err:
            raise MigrationError(ErrorCode.INVALID_CREDENTIALS,
                                 f"SFTP authentication failed for connection {self.ssh_conn_id!r}") from err
        except (OSError, paramiko.SSHException) as err:
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE,
                                 f"cannot open SFTP on connection {self.ssh_conn_id!r}: {err}") from err
        with self._lock:
            self._hooks.append(hook)
        return client

    def close(self) -> None:
        with self._lock:
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook.close_conn()
            with contextlib.suppress(Exception):
                if hook.client is not None:
                    hook.client.close()

    def __enter__(self) -> SftpClientFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SourceSshHook(BaseHook):
    """The source machine through an ``ssh`` (or ``sftp``) connection: login, password or
    key (``key_file``/``private_key`` extras), host key settings, all read by providers-ssh's
    ``SSHHook``. ``db_tunnel`` reaches the source's database through that login alone."""

    conn_name_attr = "ssh_conn_id"
    default_conn_name = "wpmigrate_source_ssh_default"
    conn_type = "ssh"
    hook_name = "WordPress source (SSH)"

    def __init__(self, ssh_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.ssh_conn_id = ssh_conn_id

    def get_conn(self) -> paramiko.SSHClient:
        """A new connected ``SSHClient``; the caller closes it."""
        conn = _masked_connection(self, self.ssh_conn_id)
        for name in ("private_key", "private_key_passphrase"):
            if secret := conn.extra_dejson.get(name):
                mask_secret(secret)
        # One attempt: the task's retry policy handles transient failures, and repeating
        # a refused login (the provider's default is 3) can get the platform banned.
        hook = SSHHook(ssh_conn_id=self.ssh_conn_id, conn_retry_attempts=1)
        try:
            client: paramiko.SSHClient = hook.get_conn()
        except paramiko.AuthenticationException as err:
            raise MigrationError(ErrorCode.INVALID_CREDENTIALS,
                                 f"SSH authentication failed for connection {self.ssh_conn_id!r}") from err
        except paramiko.BadHostKeyException as err:
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE,
                                 f"the source's SSH host key differs from connection {self.ssh_conn_id!r}'s",
                                 ) from err
        except (OSError, EOFError, paramiko.SSHException) as err:
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE,
                                 f"cannot open SSH on connection {self.ssh_conn_id!r}: {type(err).__name__}",
                                 permanent=False) from err
        return client

    @contextlib.contextmanager
    def db_tunnel(self, destination: Destination, *,
                  local: Literal["unix", "tcp"] = "unix") -> Iterator[LocalAddress]:
        """A local address forwarded to ``destination`` on the source machine (see
        ``SshTunnel``), over a new SSH connection closed on exit. Point the database
        parameters at it with ``LocalAddress.apply``."""
        client = self.get_conn()
        try:
            with SshTunnel(client, destination, local=local) as address:
                yield address
        finally:
            client.close()


class WordPressSiteHook(BaseHook):
    """A target site's REST API through an ``http`` connection holding the platform's
    service login and application password."""

    conn_name_attr = "wp_conn_id"
    default_conn_name = "wpmigrate_site_default"
    conn_type = "http"
    hook_name = "WordPress site (application password)"

    def __init__(self, wp_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.wp_conn_id = wp_conn_id

    def auth(self) -> tuple[str, str]:
        conn = _masked_connection(self, self.wp_conn_id)
        return conn.login or "", conn.password or ""

    @contextlib.contextmanager
    def client_for(self, base_url: str) -> Iterator[httpx.Client]:
        """A client that sends the login to ``base_url``'s origin and nowhere else: the
        address guard trusts that origin alone, no environment proxy is used, and a request
        leaving the origin (a redirect) is refused before it is sent. The tenant wall has
        checked that ``base_url`` is this connection's own site."""
        origin = url_origin(base_url)

        def same_origin_only(request: httpx.Request) -> None:
            if url_origin(str(request.url)) != origin:
                raise MigrationError(ErrorCode.PROVISION_FAILED,
                                     f"the target sent a request off its origin ({request.url.host}): "
                                     "refused, the platform login goes to the target only")

        settings = Settings.from_env()
        with target_client(base_url, settings.allowed_source_networks, base_url=base_url,
                           auth=self.auth(), timeout=30.0, follow_redirects=True,
                           event_hooks={"request": [same_origin_only]}) as client:
            yield client


class WordPressAdminHook(BaseHook):
    """A source site's WordPress administrator login (``http`` connection: login and the
    real password; application passwords do not open wp-admin's forms). The wp_admin
    route logs in with it to install and remove the companion plugin, nothing else."""

    conn_name_attr = "wp_admin_conn_id"
    default_conn_name = "wpmigrate_source_admin_default"
    conn_type = "http"
    hook_name = "WordPress source (administrator login)"

    def __init__(self, wp_admin_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.wp_admin_conn_id = wp_admin_conn_id

    def credentials(self) -> tuple[str, str]:
        conn = _masked_connection(self, self.wp_admin_conn_id)
        if not conn.login or not conn.password:
            raise MigrationError(ErrorCode.INVALID_CREDENTIALS,
                                 f"connection {self.wp_admin_conn_id!r} needs a login and a password")
        return conn.login, conn.password


class CompanionSecretHook(BaseHook):
    """The secret the companion plugin on a source signs with, from a connection's password:
    a manual install's own secret (``derive_for=None``), or the platform's companion key,
    from which each migration's secret is derived (``derive_for=migration_id``). Either
    way the secret is masked in every log and never returned into XCom."""

    conn_name_attr = "companion_conn_id"
    default_conn_name = "wpmigrate_companion_key"
    conn_type = "generic"
    hook_name = "wpmigrate companion secret"

    def __init__(self, companion_conn_id: str = default_conn_name, *, derive_for: str | None = None) -> None:
        super().__init__()
        self.companion_conn_id = companion_conn_id
        self.derive_for = derive_for

    def get_secret(self) -> str:
        try:
            conn = _masked_connection(self, self.companion_conn_id)
        except Exception as err:  # AirflowNotFoundException and the secrets backends' own errors
            raise MigrationError(ErrorCode.INVALID_CREDENTIALS,
                                 f"connection {self.companion_conn_id!r} is not defined") from err
        password = (conn.password or "").strip()
        if self.derive_for is None:
            if not is_secret(password.lower()):
                raise MigrationError(ErrorCode.INVALID_CREDENTIALS,
                                     f"connection {self.companion_conn_id!r} must hold the companion "
                                     "plugin's secret (64 hex characters) as its password")
            return password.lower()
        try:
            secret = derive_secret(password, self.derive_for)
        except ValueError as err:
            raise MigrationError(ErrorCode.INVALID_CREDENTIALS,
                                 f"connection {self.companion_conn_id!r}: {err}") from err
        mask_secret(secret)
        return secret
