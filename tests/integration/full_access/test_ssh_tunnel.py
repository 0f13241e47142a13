"""The source's database through the SSH login alone: a real OpenSSH (PrivateSshd) forwarding
to a real MariaDB over TCP and over its unix socket (also one started without networking)."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import paramiko
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.ssh_tunnel import (
    LocalAddress,
    SocketDestination,
    SshTunnel,
    TcpDestination,
    open_streamlocal_channel,
)
from wpsandbox import services
from wpsandbox.services import PrivateMariaDB, PrivateSshd, free_port

pytestmark = pytest.mark.sandbox

USER, PASSWORD, DB = "wpm", "tunnel-secret-9", "src"
BIG = 6 * 1024 * 1024 + 123


def _wait_sql(db: PrivateMariaDB) -> None:
    for _ in range(200):
        try:
            db.sql("SELECT 1")
            return
        except Exception:
            time.sleep(0.1)
    db.sql("SELECT 1")


def _seed(db: PrivateMariaDB) -> None:
    # A user that could write: the read-only session, not the grants, must stop writes.
    db.sql(f"CREATE DATABASE {DB};"
           f"CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}';"
           f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
           f"GRANT ALL ON {DB}.* TO '{USER}'@'localhost';"
           f"GRANT ALL ON {DB}.* TO '{USER}'@'127.0.0.1';"
           f"CREATE TABLE {DB}.posts (id int primary key, title varchar(50), body longblob);"
           f"INSERT INTO {DB}.posts (id, title) VALUES (1, 'hello'), (2, 'world');")


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """TCP port and socket."""
    db = PrivateMariaDB(tmp_path_factory.mktemp("db"))
    try:
        db.start()
        _wait_sql(db)
        _seed(db)
        blob = os.urandom(BIG)
        conn = connect(DbParams("localhost", 0, "root", "", DB, unix_socket=str(db.socket)))
        conn.cursor().execute("UPDATE posts SET body = %s WHERE id = 2", (blob,))
        conn.commit()
        conn.close()
        yield db
    finally:
        db.stop()


@pytest.fixture(scope="module")
def socket_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """A MariaDB with no TCP listener at all, like a host whose DB_HOST is localhost."""
    db = PrivateMariaDB(tmp_path_factory.mktemp("db-sock"), extra_args=("--skip-networking",))
    try:
        # start() waits for the TCP port, which this server never opens: wait for the socket.
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(services, "wait_for_port", lambda port, timeout=20.0: _wait_socket(db.socket))
            db.start()
        _wait_sql(db)
        _seed(db)
        yield db
    finally:
        db.stop()


def _wait_socket(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            if s.connect_ex(str(path)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"no server on {path}")


def _ssh(server: PrivateSshd, key: Path | None = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # test-only: throwaway host key
    client.connect("127.0.0.1", port=server.port, username=getpass.getuser(),
                   key_filename=str(key or server.client_key), look_for_keys=False, allow_agent=False)
    return client


@pytest.fixture
def ssh(sshd: PrivateSshd) -> Iterator[paramiko.SSHClient]:
    client = _ssh(sshd)
    yield client
    client.close()


def _params(local: LocalAddress, *, read_only: bool = False) -> DbParams:
    return local.apply(DbParams("unused", 1, USER, PASSWORD, DB, read_only=read_only))


def _rows(conn: MySQLdb.Connection, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    rows = list(cur.fetchall())
    cur.close()
    return rows


def _client_host(conn: MySQLdb.Connection) -> bytes:
    rows = _rows(conn, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
    return bytes(rows[0][0])


@pytest.mark.parametrize("local", ["unix", "tcp"])
def test_query_over_tcp_destination(ssh: paramiko.SSHClient, mariadb: PrivateMariaDB, local: Any) -> None:
    with SshTunnel(ssh, TcpDestination("127.0.0.1", mariadb.port), local=local) as addr:
        assert (addr.unix_socket is not None) == (local == "unix")
        if addr.unix_socket:
            # private to this user: the directory is 0700
            assert os.stat(Path(addr.unix_socket).parent).st_mode & 0o777 == 0o700
        conn = connect(_params(addr))
        try:
            assert _rows(conn, "SELECT id, title FROM posts ORDER BY id") == [(1, b"hello"), (2, b"world")]
            # the server sees sshd's TCP connection (host:port), whatever the local end
            assert b":" in _client_host(conn)
        finally:
            conn.close()


def _threads_left(baseline: set[threading.Thread]) -> list[str]:
    """Threads started since ``baseline`` that are still alive (a leak), given a moment to end."""
    started = [t for t in threading.enumerate() if t not in baseline]
    for thread in started:
        thread.join(timeout=5)
    return [t.name for t in started if t.is_alive()]


def test_socket_only_server_through_streamlocal(ssh: paramiko.SSHClient, socket_only: PrivateMariaDB) -> None:
    with SshTunnel(ssh, SocketDestination(str(socket_only.socket))) as addr:
        conn = connect(_params(addr))
        try:
            assert _rows(conn, "SELECT @@skip_networking, @@port") == [(1, 0)]
            assert _rows(conn, "SELECT title FROM posts ORDER BY id") == [(b"hello",), (b"world",)]
            assert _client_host(conn) == b"localhost"  # a socket client: no port
        finally:
            conn.close()
        # The server sees the SSH login's uid (root here) on its socket: unix_socket
        # authentication lets root in without a password. Why the local end is private.
        root = connect(addr.apply(DbParams("unused", 1, "root", "", DB)))
        try:
            assert _rows(root, "SELECT CURRENT_USER()") == [(b"root@localhost",)]
        finally:
            root.close()
    # and over TCP the client has nothing to reach: no port at all
    with pytest.raises(MigrationError) as e:
        connect(DbParams("127.0.0.1", free_port(), USER, PASSWORD, DB))
    assert e.value.code == ErrorCode.SOURCE_UNREACHABLE


def test_streamlocal_channel_is_an_ordinary_channel(ssh: paramiko.SSHClient,
                                                    socket_only: PrivateMariaDB) -> None:
    transport = ssh.get_transport()
    assert transport is not None
    chan = open_streamlocal_channel(transport, str(socket_only.socket))
    try:
        greeting = chan.recv(4096)  # MariaDB speaks first: protocol 10, then its version
        assert greeting[4] == 10 and b"MariaDB" in greeting
    finally:
        chan.close()


def test_concurrent_connections_are_bounded(ssh: paramiko.SSHClient, mariadb: PrivateMariaDB) -> None:
    clients, limit = 5, 2
    ids: list[int] = []
    errors: list[BaseException] = []
    with SshTunnel(ssh, TcpDestination("127.0.0.1", mariadb.port), max_connections=limit) as addr:
        def one() -> None:
            try:
                conn = connect(_params(addr))
                try:
                    ids.append(_rows(conn, "SELECT CONNECTION_ID()")[0][0])
                    _rows(conn, "SELECT SLEEP(0.4)")
                finally:
                    conn.close()
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=one) for _ in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - started
    assert errors == [] and len(set(ids)) == clients
    # two at a time: five 0.4 s sessions take at least three rounds
    assert elapsed >= 3 * 0.4, elapsed


def test_concurrent_connections_share_one_tunnel(ssh: paramiko.SSHClient, mariadb: PrivateMariaDB) -> None:
    clients = 6
    barrier = threading.Barrier(clients + 1, timeout=30)
    results: list[int] = []
    errors: list[BaseException] = []
    with SshTunnel(ssh, TcpDestination("127.0.0.1", mariadb.port)) as addr:
        tunnel_conns: list[int] = []

        def one() -> None:
            try:
                conn = connect(_params(addr))
                try:
                    barrier.wait()  # all connected at once
                    results.append(_rows(conn, "SELECT CONNECTION_ID()")[0][0])
                    barrier.wait()
                finally:
                    conn.close()
            except BaseException as err:
                errors.append(err)
                barrier.abort()

        threads = [threading.Thread(target=one) for _ in range(clients)]
        for t in threads:
            t.start()
        barrier.wait()
        admin = connect(DbParams("localhost", 0, "root", "", DB, unix_socket=str(mariadb.socket)))
        tunnel_conns.append(_rows(admin, f"SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                         f"WHERE USER = '{USER}'")[0][0])
        admin.close()
        barrier.wait()
        for t in threads:
            t.join(30)
    assert errors == [] and len(set(results)) == clients
    assert tunnel_conns == [clients]


def test_large_result_streams_intact(ssh: paramiko.SSHClient, mariadb: PrivateMariaDB) -> None:
    admin = connect(DbParams("localhost", 0, "root", "", DB, unix_socket=str(mariadb.socket)))
    expected = _rows(admin, "SELECT body FROM posts WHERE id = 2")[0][0]
    admin.close()
    assert len(expected) == BIG
    with SshTunnel(ssh, TcpDestination("127.0.0.1", mariadb.port)) as addr:
        conn = connect(_params(addr))
        try:
            cur = conn.cursor(MySQLdb.cursors.SSCursor)
            cur.execute("SELECT body FROM posts WHERE id = 2")
            (got,) = cur.fetchone()
            cur.close()
            # and a wide stream of many rows, generated on the server
            streamed = _rows(conn, "SELECT SHA2(GROUP_CONCAT(seq), 256) FROM seq_1_to_200000")
            lengths = _rows(conn, "SELECT SUM(LENGTH(REPEAT('x', seq))) FROM seq_1_to_2000")
            raw = _rows(conn, "SELECT REPEAT('x', seq) FROM seq_1_to_2000")
        finally:
            conn.close()
    assert hashlib.sha256(got).digest() == hashlib.sha256(expected).digest()
    assert sum(len(r[0]) for r in raw) == int(lengths[0][0]) == 2000 * 2001 // 2
    assert len(streamed[0][0]) == 64


def test_refused_destinations_are_source_unreachable(ssh: paramiko.SSHClient, tmp_path: Path) -> None:
    baseline = set(threading.enumerate())  # by identity: an earlier test's thread may be ending
    with pytest.raises(MigrationError) as e:
        SshTunnel(ssh, TcpDestination("127.0.0.1", free_port())).__enter__()
    assert e.value.code == ErrorCode.SOURCE_UNREACHABLE and not e.value.permanent
    assert "nothing accepts connections" in e.value.message
    with pytest.raises(MigrationError) as e, \
            SshTunnel(ssh, SocketDestination(str(tmp_path / "no" / "mysqld.sock"))):
        pytest.fail("entered a tunnel to nothing")
    assert e.value.code == ErrorCode.SOURCE_UNREACHABLE and not e.value.permanent
    assert "no database unix socket" in e.value.message
    assert str(tmp_path) not in e.value.message  # the path (a wp-config value) stays out
    assert _threads_left(baseline) == []


def test_forwarding_prohibited_is_permanent(sshd: PrivateSshd, mariadb: PrivateMariaDB,
                                            tmp_path: Path) -> None:
    # A second key whose authorized_keys line forbids forwarding (OpenSSH applies it to
    # TCP and streamlocal alike), as a host's sshd with AllowTcpForwarding no would.
    key = tmp_path / "restricted"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    auth = sshd.base / "authorized_keys"
    original = auth.read_text()
    auth.write_text(original + "no-port-forwarding " + key.with_suffix(".pub").read_text())
    try:
        client = _ssh(sshd, key)
        try:
            for dest in (TcpDestination("127.0.0.1", mariadb.port), SocketDestination(str(mariadb.socket))):
                with pytest.raises(MigrationError) as e, SshTunnel(client, dest):
                    pass
                assert e.value.code == ErrorCode.SOURCE_UNREACHABLE and e.value.permanent
                assert "does not allow forwarding" in e.value.message
        finally:
            client.close()
    finally:
        auth.write_text(original)


def test_read_only_session_refuses_writes(ssh: paramiko.SSHClient, socket_only: PrivateMariaDB) -> None:
    with SshTunnel(ssh, SocketDestination(str(socket_only.socket))) as addr:
        conn = connect(_params(addr, read_only=True))
        try:
            assert _rows(conn, "SELECT COUNT(*) FROM posts") == [(2,)]
            for write in ("INSERT INTO posts (id, title) VALUES (3, 'no')",
                          "UPDATE posts SET title = 'changed'",
                          "DELETE FROM posts", "DROP TABLE posts", "CREATE TABLE t2 (id int)",
                          "CREATE TEMPORARY TABLE t3 (id int)"):
                with pytest.raises(MySQLdb.OperationalError) as e:
                    _rows(conn, write)
                assert e.value.args[0] == 1792  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
            conn.autocommit(True)
            with pytest.raises(MySQLdb.OperationalError) as e:
                _rows(conn, "INSERT INTO posts (id, title) VALUES (3, 'no')")
            assert e.value.args[0] == 1792
            assert _rows(conn, "SELECT title FROM posts ORDER BY id") == [(b"hello",), (b"world",)]
        finally:
            conn.close()
        # the same credentials without the option can write: the option is what stopped it
        conn = connect(_params(addr))
        try:
            _rows(conn, "INSERT INTO posts (id, title) VALUES (3, 'yes')")
            conn.rollback()
        finally:
            conn.close()
    assert socket_only.sql(f"SELECT COUNT(*) FROM {DB}.posts").strip() == "2"


def test_everything_closes_on_exit(sshd: PrivateSshd, mariadb: PrivateMariaDB) -> None:
    client = _ssh(sshd)  # its transport thread counts in the baseline
    try:
        # By identity, not by count: a thread of an earlier test may still be ending.
        baseline = set(threading.enumerate())
        with SshTunnel(client, TcpDestination("127.0.0.1", mariadb.port), local="tcp") as tcp_addr, \
                SshTunnel(client, SocketDestination(str(mariadb.socket))) as unix_addr:
            held = [connect(_params(tcp_addr)), connect(_params(unix_addr))]
            for conn in held:
                assert _rows(conn, "SELECT 1") == [(1,)]
            started = [t for t in threading.enumerate() if t not in baseline]
            assert sorted(t.name for t in started) == sorted(
                ["ssh-tunnel-accept", "ssh-tunnel-conn", "ssh-tunnel-up"] * 2)  # acceptor + two pumps each
        for thread in started:
            thread.join(timeout=5)
        assert [t.name for t in started if t.is_alive()] == []
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", tcp_addr.port)) != 0
        assert unix_addr.unix_socket is not None and not Path(unix_addr.unix_socket).parent.exists()
        for conn in held:  # connections still open at exit were cut
            with pytest.raises(MySQLdb.OperationalError):
                _rows(conn, "SELECT 1")
            conn.close()
        transport = client.get_transport()
        assert transport is not None and transport.is_active()  # the caller's SSH connection stays
        assert not [c for c in transport._channels.values() if not c.closed]  # type: ignore[attr-defined]
    finally:
        client.close()


def test_source_ssh_hook_opens_the_tunnel_from_a_connection(sshd: PrivateSshd, socket_only: PrivateMariaDB,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from wpmigrate_airflow.hooks import SourceSshHook

    monkeypatch.setenv("AIRFLOW_CONN_WPM_TEST_SOURCE_SSH", json.dumps({
        "conn_type": "ssh", "host": "127.0.0.1", "port": sshd.port,
        "login": getpass.getuser(),
        "extra": {"key_file": str(sshd.client_key), "no_host_key_check": True, "look_for_keys": False},
    }))
    baseline = set(threading.enumerate())  # by identity: an earlier test's thread may be ending
    with SourceSshHook("wpm_test_source_ssh").db_tunnel(SocketDestination(str(socket_only.socket))) as addr:
        conn = connect(_params(addr, read_only=True))
        try:
            # (MariaDB 10.11 shows @@tx_read_only as 0 in a query that reads a table: ask alone)
            assert _rows(conn, "SELECT @@session.tx_read_only") == [(1,)]
            assert _rows(conn, "SELECT COUNT(*) FROM posts") == [(2,)]
            with pytest.raises(MySQLdb.OperationalError) as e:
                _rows(conn, "DELETE FROM posts")
            assert e.value.args[0] == 1792
        finally:
            conn.close()
    time.sleep(0.2)  # paramiko's transport thread ends just after close()
    assert _threads_left(baseline) == []
