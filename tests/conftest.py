"""Shared fixtures. ``sandbox`` starts (or reuses) the real WordPress sandbox once per
session; ``fresh_target`` puts its target back to the freshly installed state."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from wpsandbox import build
from wpsandbox.state import SandboxState

MIN_POSTMETA_ROWS = 50_000


def _require_sandbox_tools() -> None:
    tools = ("php", "mariadbd", "mariadb-dump", "/usr/sbin/sshd")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        pytest.skip(f"sandbox needs {', '.join(missing)}")


@pytest.fixture(scope="session")
def sandbox() -> SandboxState:
    """The running sandbox (built if needed). It is left running for the next session:
    `python -m wpsandbox down` stops it."""
    _require_sandbox_tools()
    state = build.up()
    if state.postmeta_rows < MIN_POSTMETA_ROWS:
        state = build.up(postmeta_rows=MIN_POSTMETA_ROWS)
    return state


@pytest.fixture
def fresh_target(sandbox: SandboxState) -> Iterator[SandboxState]:
    """The sandbox with its target reset before the test (and its source REST API open)."""
    build.reset_target(sandbox)
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    yield sandbox
