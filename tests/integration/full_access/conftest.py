"""Fixtures of the full-access integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wpsandbox.services import PrivateSshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    """A private OpenSSH server of the module's own (root login with its client key)."""
    server = PrivateSshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()
