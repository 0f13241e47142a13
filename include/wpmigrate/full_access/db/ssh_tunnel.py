"""Reach a source's database through its SSH login: a local forward over one SSH connection.

``SshTunnel(ssh, destination)`` listens on the platform side (by default a unix socket in
a private 0700 directory, or 127.0.0.1 on a free port) and forwards each accepted
connection over its own SSH channel to ``destination`` as the source machine sees it:
``direct-tcpip`` for a TCP address (127.0.0.1:3306, a private database host), OpenSSH's
``direct-streamlocal@openssh.com`` for a unix socket (``localhost:/path/mysqld.sock``, a
socket-only server). ``LocalAddress.apply(params)`` points ``DbParams`` at the tunnel.

Why this and not providers-ssh's ``SSHHook.get_tunnel`` (its own ``SSHTunnel`` since 4.4):
that one forwards TCP only, and a socket-only database needs streamlocal anyway; it also
pumps every connection from one select loop with blocking ``sendall`` (one slow reader
stalls the others) and, when the server refuses a channel, only logs and closes the local
socket, so the database client reports a lost handshake without the reason. Here one code
path serves both kinds, a refused channel is a ``MigrationError`` with the reason, and
the default local end is a private socket: a TCP port on 127.0.0.1 is open to every local
user of the worker, and through streamlocal the source's MariaDB sees the SSH user's uid,
which unix_socket authentication may accept without a password. asyncssh (installed with
providers-ssh) knows streamlocal too, but is async only and would be a second SSH stack
beside the paramiko client that ``SSHHook.get_conn`` already authenticates.

Threads are bounded: one acceptor and two pumps per forwarded connection (blocking
reads in each direction, so the SSH window gives back-pressure and nothing polls), at
most ``max_connections`` at a time; further clients wait in the listen backlog.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import shutil
import socket
import stat
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import paramiko
from paramiko.common import (
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_FAILED_CONNECT_FAILED,
    OPEN_FAILED_UNKNOWN_CHANNEL_TYPE,
    cMSG_CHANNEL_OPEN,
)
from paramiko.message import Message

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import DbParams

log = logging.getLogger(__name__)

STREAMLOCAL = "direct-streamlocal@openssh.com"
OPEN_TIMEOUT_S = 15.0
MAX_CONNECTIONS = 8
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class TcpDestination:
    """A TCP address as the source machine sees it (``127.0.0.1``, ``db.internal``)."""

    host: str
    port: int = 3306


@dataclass(frozen=True)
class SocketDestination:
    """A unix socket path on the source machine."""

    path: str


Destination = TcpDestination | SocketDestination


@dataclass(frozen=True)
class LocalAddress:
    """Where the tunnel listens on this machine, in ``DbParams`` terms."""

    host: str
    port: int
    unix_socket: str | None = None

    def apply(self, params: DbParams) -> DbParams:
        """``params`` (user, password, database, read_only) pointed at the tunnel."""
        return replace(params, host=self.host, port=self.port, unix_socket=self.unix_socket)


def _kind(destination: Destination) -> str:
    # wp-config values stay out of messages: say which kind of address, not which one.
    return "unix socket" if isinstance(destination, SocketDestination) else "TCP address"


def open_streamlocal_channel(transport: paramiko.Transport, path: str,
                             timeout: float = OPEN_TIMEOUT_S) -> paramiko.Channel:
    """Open a ``direct-streamlocal@openssh.com`` channel to the unix socket ``path``.

    ``Transport.open_channel`` writes a destination only for direct-tcpip, forwarded-tcpip
    and x11 (streamlocal is paramiko issue #544, open since 2015), and its CHANNEL_OPEN
    cannot be extended from outside. So this repeats its few steps (paramiko 5.1,
    transport.py ``open_channel``) with the payload of OpenSSH's PROTOCOL 2.4: string
    socket path, string reserved, uint32 reserved. The server's answer goes through
    paramiko's own OPEN_CONFIRMATION/OPEN_FAILURE handlers, which only look the channel
    id up, so the result is an ordinary ``Channel`` and a refusal an ordinary
    ``ChannelException``.
    """
    t: Any = transport  # the private helpers used below are not in paramiko's stubs
    if not t.active:
        raise paramiko.SSHException("SSH session not active")
    with t.lock:
        window = t._sanitize_window_size(None)
        packet = t._sanitize_packet_size(None)
        chanid = t._next_channel()
        m = Message()
        m.add_byte(cMSG_CHANNEL_OPEN)
        m.add_string(STREAMLOCAL)
        m.add_int(chanid)
        m.add_int(window)
        m.add_int(packet)
        m.add_string(path)
        m.add_string("")  # reserved
        m.add_int(0)  # reserved
        chan: Any = paramiko.Channel(chanid)
        t._channels.put(chanid, chan)
        t.channel_events[chanid] = event = threading.Event()
        t.channels_seen[chanid] = True
        chan._set_transport(t)
        chan._set_window(window, packet)
    t._send_user_message(m)
    deadline = time.monotonic() + timeout
    while not event.wait(0.1):
        if not t.active:
            raise t.get_exception() or paramiko.SSHException("Unable to open channel.")
        if time.monotonic() > deadline:
            raise paramiko.SSHException("Timeout opening channel.")
    opened: paramiko.Channel | None = t._channels.get(chanid)
    if opened is None:
        raise t.get_exception() or paramiko.SSHException("Unable to open channel.")
    return opened


def open_channel(transport: paramiko.Transport, destination: Destination,
                 timeout: float = OPEN_TIMEOUT_S) -> paramiko.Channel:
    """One channel to ``destination``; a refusal is a ``MigrationError(SOURCE_UNREACHABLE)``."""
    try:
        if isinstance(destination, SocketDestination):
            return open_streamlocal_channel(transport, destination.path, timeout)
        return transport.open_channel("direct-tcpip", (destination.host, destination.port),
                                      ("127.0.0.1", 0), timeout=timeout)
    except paramiko.ChannelException as err:
        kind = _kind(destination)
        details = {"destination": kind, "ssh_open_failure": err.code}
        if err.code == OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED:
            option = ("AllowStreamLocalForwarding" if isinstance(destination, SocketDestination)
                      else "AllowTcpForwarding")
            raise MigrationError(
                ErrorCode.SOURCE_UNREACHABLE,
                f"the source's SSH server does not allow forwarding to the database's {kind} "
                f"({option} or the key's no-port-forwarding option); name a database connection "
                "instead", permanent=True, details=details) from err
        if err.code == OPEN_FAILED_UNKNOWN_CHANNEL_TYPE:
            raise MigrationError(
                ErrorCode.SOURCE_UNREACHABLE,
                f"the source's SSH server cannot forward to a {kind} (streamlocal needs OpenSSH 6.7 "
                "or later)", permanent=True, details=details) from err
        if isinstance(destination, SocketDestination) and err.code == OPEN_FAILED_CONNECT_FAILED:
            _raise_socket_refusal(transport, destination, details, err)
        reason = ("nothing accepts connections at the database's " + kind
                  if err.code == OPEN_FAILED_CONNECT_FAILED else f"refused ({err.text})")
        # The database may be restarting: worth a retry.
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            f"the source machine cannot reach its database through SSH: {reason}",
            permanent=False, details=details) from err
    except (paramiko.SSHException, EOFError, OSError) as err:
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            f"the SSH connection to the source failed while opening a tunnel: {type(err).__name__}",
            permanent=False, details={"destination": _kind(destination)}) from err


def _raise_socket_refusal(transport: paramiko.Transport, destination: SocketDestination,
                          details: dict[str, Any], err: paramiko.ChannelException) -> None:
    """OpenSSH answers a streamlocal open it does not permit (AllowStreamLocalForwarding no,
    DisableForwarding, a key's restrict/no-port-forwarding) with the same "connect failed"
    as one to a socket nobody listens on (serverloop.c sets a reason only for direct-tcpip).
    The socket file tells them apart; SFTP on the same login looks at it."""
    try:
        sftp = paramiko.SFTPClient.from_transport(transport)
        if sftp is None:
            return
        with sftp:
            mode = sftp.stat(destination.path).st_mode
    except FileNotFoundError:
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            "there is no database unix socket at the configured path on the source machine "
            "(is the database running, and is DB_HOST's socket path right?)",
            permanent=False, details=details) from err
    except (OSError, EOFError, paramiko.SSHException):
        return  # no SFTP, or no permission to look: the caller's generic message stands
    if mode is not None and stat.S_ISSOCK(mode):
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            "the source's SSH server does not allow forwarding to the database's unix socket "
            "(AllowStreamLocalForwarding, DisableForwarding or the key's restrict/no-port-forwarding "
            "option), or the database no longer listens on it; name a database connection instead",
            permanent=True, details=details) from err
    raise MigrationError(
        ErrorCode.SOURCE_UNREACHABLE,
        "the configured database socket path on the source machine is not a unix socket",
        permanent=True, details=details) from err


class _Link:
    """One forwarded connection: a local socket and its channel, pumped both ways."""

    def __init__(self, sock: socket.socket, chan: paramiko.Channel) -> None:
        self.sock = sock
        self.chan = chan

    def run(self) -> None:
        up = threading.Thread(target=self._copy_up, name="ssh-tunnel-up", daemon=True)
        up.start()
        try:
            self._copy_down()
        finally:
            up.join()
            self.close()

    def _copy_up(self) -> None:  # local client -> source
        try:
            while data := self.sock.recv(_CHUNK):
                self.chan.sendall(data)
            self.chan.shutdown_write()  # the client's EOF, passed on
        except (OSError, EOFError, paramiko.SSHException):
            self.abort()

    def _copy_down(self) -> None:  # source -> local client
        try:
            while data := self.chan.recv(_CHUNK):
                self.sock.sendall(data)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.abort()

    def abort(self) -> None:
        """Wake both pumps: their blocking reads return and they finish."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.chan.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.chan.close()
        with contextlib.suppress(OSError):
            self.sock.close()


class SshTunnel:
    """Context manager: ``with SshTunnel(client, SocketDestination(path)) as local: ...``.

    ``ssh`` is a connected, authenticated ``paramiko.SSHClient`` or ``Transport``; it stays
    open after exit (its owner closes it). On entry one channel is opened and closed to
    check the destination, so a refusal surfaces here as a ``MigrationError`` rather than
    as the database client's "lost connection" (MariaDB sees that probe as one connection
    closed before its handshake). On exit the listener is removed and every forwarded
    connection and thread ends. A channel refused later (the SSH connection dropped) is
    logged and the local client is closed, which ``connect`` reports as unreachable.
    """

    def __init__(self, ssh: paramiko.SSHClient | paramiko.Transport, destination: Destination, *,
                 local: Literal["unix", "tcp"] = "unix", max_connections: int = MAX_CONNECTIONS,
                 open_timeout: float = OPEN_TIMEOUT_S) -> None:
        transport = ssh.get_transport() if isinstance(ssh, paramiko.SSHClient) else ssh
        if transport is None:
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE, "the SSH client is not connected",
                                 permanent=False)
        self.transport = transport
        # Database traffic is many small request/response round trips: with Nagle on, each
        # page of rows waited for delayed ACKs (bench/routes.py measured 45 -> 25 ms a page).
        if isinstance(transport.sock, socket.socket):
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.destination = destination
        self.local = local
        self.open_timeout = open_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._links: set[_Link] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener: socket.socket | None = None
        self._dir: str | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._acceptor: threading.Thread | None = None

    def __enter__(self) -> LocalAddress:
        try:
            open_channel(self.transport, self.destination, self.open_timeout).close()
            address = self._listen()
        except BaseException:
            self.close()
            raise
        self._acceptor = threading.Thread(target=self._accept_loop, name="ssh-tunnel-accept", daemon=True)
        self._acceptor.start()
        return address

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._links)

    def _listen(self) -> LocalAddress:
        if self.local == "tcp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener = sock
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            return LocalAddress("127.0.0.1", sock.getsockname()[1])
        self._dir = tempfile.mkdtemp(prefix="wpm-tunnel-")  # mode 0700: only this user gets in
        path = str(Path(self._dir) / "db.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener = sock
        sock.bind(path)
        sock.listen(16)
        return LocalAddress("localhost", 0, unix_socket=path)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._closing.is_set():
                # A free slot first, so extra clients wait in the backlog, not in threads.
                while not self._slots.acquire(timeout=0.5):
                    if self._closing.is_set():
                        return
                ready = {key.fileobj for key, _ in sel.select()}
                if self._closing.is_set() or self._listener not in ready:
                    self._slots.release()
                    continue
                try:
                    sock, _ = self._listener.accept()
                except OSError:
                    self._slots.release()
                    continue
                self._start_thread(self._serve, sock)

    def _start_thread(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=self._tracked, args=(target, *args), name="ssh-tunnel-conn",
                                  daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _tracked(self, target: Any, *args: Any) -> None:
        try:
            target(*args)
        finally:
            self._slots.release()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _serve(self, sock: socket.socket) -> None:
        try:
            chan = open_channel(self.transport, self.destination, self.open_timeout)
        except MigrationError as err:
            log.warning("SSH tunnel: %s", err.message)
            sock.close()
            return
        link = _Link(sock, chan)
        with self._lock:
            if self._closing.is_set():
                link.close()
                return
            self._links.add(link)
        try:
            link.run()
        finally:
            with self._lock:
                self._links.discard(link)

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self, timeout: float = 10.0) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(timeout)
        self._close_listener()
        with self._lock:
            links, threads = list(self._links), list(self._threads)
        for link in links:
            link.abort()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for sock in (self._wake_r, self._wake_w):
            sock.close()
        with self._lock:
            left = len(self._threads)
        if left:
            log.warning("SSH tunnel: %d forwarding thread(s) still running after close", left)

