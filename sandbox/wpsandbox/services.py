"""Private MariaDB and OpenSSH servers for the sandbox, started as process groups so
that stopping them leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int, avoid: AbstractSet[int] = frozenset()) -> list[int]:
    """``count`` distinct free ports, none in ``avoid`` (ports chosen earlier and not yet
    bound by their server: the kernel may hand a released port out again)."""
    held: list[socket.socket] = []
    try:
        while len([s for s in held if s.getsockname()[1] not in avoid]) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held if s.getsockname()[1] not in avoid][:count]
    finally:
        for s in held:
            s.close()


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_for_socket(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.2)
            if s.connect_ex(str(path)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {path} after {timeout}s")


def start_group(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start ``cmd`` in a new session; return its pid (= process group id)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    return proc.pid


def stop_group(pid: int | None, timeout: float = 10.0) -> None:
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Reap the leader if it is our child: a zombie still counts as a group member.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class PrivateMariaDB:
    """A disposable mariadbd with its own datadir; root authenticates over the socket.
    ``networking=False`` starts it with ``--skip-networking``: the unix socket only, no TCP
    port at all, as on a shared host whose database only the machine itself can reach."""

    base: Path
    port: int = 0
    pid: int | None = None
    # Extra mariadbd options, after the defaults so they win (e.g. a small packet size).
    extra_args: tuple[str, ...] = ()
    networking: bool = True

    @property
    def socket(self) -> Path:
        return self.base / "mysqld.sock"

    def start(self) -> None:
        datadir = self.base / "data"
        if not (datadir / "mysql").exists():
            datadir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
                 "--auth-root-authentication-method=socket", "--skip-test-db"],
                check=True, capture_output=True,
            )
        if self.networking:
            self.port = self.port or free_port()
            listen = [f"--port={self.port}", "--bind-address=127.0.0.1"]
        else:
            self.port = 0
            listen = ["--skip-networking"]
        self.pid = start_group(
            ["mariadbd", "--no-defaults", f"--datadir={datadir}", "--user=root",
             *listen, f"--socket={self.socket}",
             "--skip-log-bin", "--innodb-buffer-pool-size=256M", "--max-allowed-packet=64M",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
             f"--pid-file={self.base / 'mysqld.pid'}", *self.extra_args],
            self.base / "mariadb.log",
        )
        if self.networking:
            wait_for_port(self.port)
        else:
            wait_for_socket(self.socket)

    def sql(self, statement: str, database: str | None = None, quiet: bool = False) -> str:
        """Run SQL as root over the socket (sandbox administration only). ``quiet`` keeps the
        statements out of the general query log (sql_log_off; the login itself still shows)."""
        cmd = ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B",
               "--default-character-set=utf8mb4"]
        if quiet:
            cmd.append("--init-command=SET SESSION sql_log_off = 1")
        if database:
            cmd.append(database)
        out = subprocess.run(cmd, input=statement, capture_output=True, text=True, check=True)
        return out.stdout

    def stop(self) -> None:
        stop_group(self.pid)
        self.pid = None


@dataclass
class PrivateSshd:
    """OpenSSH on 127.0.0.1 with its own host key, for SFTP as the current user with a key."""

    base: Path
    port: int = 0
    pid: int | None = None

    @property
    def client_key(self) -> Path:
        return self.base / "client_ed25519"

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        host_key = self.base / "host_ed25519"
        for key in (host_key, self.client_key):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                               check=True)
        auth = self.base / "authorized_keys"
        auth.write_text((self.client_key.with_suffix(".pub")).read_text())
        auth.chmod(0o600)
        self.port = self.port or free_port()
        config = self.base / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {auth}\nPidFile {self.base / 'sshd.pid'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "Subsystem sftp internal-sftp\nLogLevel VERBOSE\n"
        )
        self.pid = start_group(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                               self.base / "sshd.log")
        wait_for_port(self.port)

    def stop(self) -> None:
        stop_group(self.pid)
        self.pid = None
