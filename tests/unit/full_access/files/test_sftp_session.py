"""Retries of SFTP operations on a fresh session, with stand-in clients (no network)."""

from __future__ import annotations

import threading
from typing import Any

import paramiko
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.files.sftp_session import SftpConnector, Stopped


class _Transport:
    sock = None  # not a TCP socket: no TCP_NODELAY to set

    def close(self) -> None:
        pass


class _Channel:
    def get_transport(self) -> _Transport:
        return _Transport()

    def settimeout(self, timeout: float) -> None:
        self.timeout = timeout


class _Client:
    def __init__(self) -> None:
        self.sock = _Channel()
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _Key:
    def get_base64(self) -> str:
        return "AAAA"


class _RecordingStop(threading.Event):
    """Records the backoff delays instead of waiting them."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def _connector(connect: Any, retries: int = 3) -> tuple[SftpConnector, _RecordingStop, list[int]]:
    stop, reconnects = _RecordingStop(), []
    connector = SftpConnector(connect, retries=retries, backoff=0.5, io_timeout=7.0, connect_timeout=5.0,
                              stop=stop, on_reconnect=lambda: reconnects.append(1))
    return connector, stop, reconnects


def test_transient_failures_are_retried_on_fresh_sessions_with_backoff() -> None:
    clients: list[_Client] = []

    def connect() -> _Client:
        clients.append(_Client())
        return clients[-1]

    connector, stop, reconnects = _connector(connect)
    seen: list[tuple[int, int]] = []

    def op(client: Any, attempt: int) -> str:
        seen.append((clients.index(client), attempt))
        if attempt < 2:
            raise EOFError("link dropped")
        return "done"

    assert connector.session().run("/wp-content/a", op) == "done"
    assert seen == [(0, 0), (1, 1), (2, 2)]  # a new connection for every attempt
    assert [c.closed for c in clients] == [True, True, False]
    assert clients[2].sock.timeout == 7.0
    assert stop.waits == [0.5, 1.0] and len(reconnects) == 2


def test_gives_up_after_the_retries_as_a_transient_export_failure() -> None:
    connector, stop, reconnects = _connector(_Client, retries=2)
    calls: list[int] = []

    def op(_client: Any, attempt: int) -> None:
        calls.append(attempt)
        raise paramiko.SSHException("gone")

    with pytest.raises(MigrationError) as err:
        connector.session().run("/wp-content/big.bin", op)
    assert err.value.code == ErrorCode.EXPORT_FAILED and err.value.permanent is False
    assert "failed after 3 attempts: SSHException: gone" in err.value.message
    assert err.value.details["path"] == "/wp-content/big.bin"
    assert calls == [0, 1, 2] and stop.waits == [0.5, 1.0] and len(reconnects) == 2


@pytest.mark.parametrize(("error", "code"), [
    (paramiko.AuthenticationException("Authentication failed."), ErrorCode.INVALID_CREDENTIALS),
    (paramiko.BadHostKeyException("source", _Key(), _Key()), ErrorCode.EXPORT_FAILED),
])
def test_bad_credentials_and_host_keys_are_permanent_at_once(error: Exception, code: ErrorCode) -> None:
    calls: list[int] = []

    def connect() -> _Client:
        calls.append(1)
        raise error

    connector, stop, _ = _connector(connect)
    with pytest.raises(MigrationError) as err:
        connector.session().run("/wp-content", lambda c, a: None)
    assert err.value.code == code and err.value.permanent is True
    assert calls == [1] and stop.waits == []


def test_remote_file_errors_go_to_the_caller_and_local_ones_are_retried() -> None:
    connector, stop, _ = _connector(_Client)

    def missing(_client: Any, _attempt: int) -> None:
        raise FileNotFoundError("gone since the listing")

    with pytest.raises(FileNotFoundError):
        connector.session().run("/wp-content/x", missing)
    assert stop.waits == []

    calls: list[int] = []

    def key_file_missing_once() -> _Client:  # the factory's own files: not about the remote file
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError("id_ed25519")
        return _Client()

    connector, stop, reconnects = _connector(key_file_missing_once)
    assert connector.session().run("/wp-content", lambda c, a: a) == 1
    assert len(reconnects) == 1


def test_a_stop_from_another_thread_ends_the_waiting() -> None:
    connector, stop, _ = _connector(_Client)
    stop.set()
    with pytest.raises(Stopped):
        connector.session().run("/wp-content", lambda c, a: None)
