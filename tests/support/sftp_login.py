"""SFTP sessions for tests: a factory of logged-in clients, as the exporters take it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import paramiko


def sftp_factory(port: int, key_file: str | Path, *, host: str = "127.0.0.1", user: str = "root",
                 cls: type[paramiko.SFTPClient] = paramiko.SFTPClient) -> Callable[[], paramiko.SFTPClient]:
    """Each call logs in anew with the key and opens an SFTP client (``cls``: a subclass
    that misbehaves on purpose, for fault tests)."""
    def connect() -> paramiko.SFTPClient:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # test-only: throwaway host keys
        client.connect(host, port=port, username=user, key_filename=str(key_file), look_for_keys=False,
                       allow_agent=False, timeout=10)
        transport = client.get_transport()
        assert transport is not None
        sftp = cls.from_transport(transport)
        assert sftp is not None
        return sftp
    return connect
