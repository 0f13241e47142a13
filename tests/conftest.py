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
    # scripts/setup installs these: their absence is a broken setup, not a reason to skip.
    tools = ("php", "mariadbd", "mariadb-dump", "/usr/sbin/sshd")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        pytest.fail(f"sandbox needs {', '.join(missing)}: run scripts/setup")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxState]:
    """The running sandbox (built if needed). Stopped at the end of the session when
    this session started it; one that was already running (scripts/demo) stays up."""
    _require_sandbox_tools()
    was_up = build.status().get("up", False)
    state = build.up()
    if state.postmeta_rows < MIN_POSTMETA_ROWS:
        state = build.up(postmeta_rows=MIN_POSTMETA_ROWS)
    yield state
    if not was_up:
        build.down()


@pytest.fixture
def fresh_target(sandbox: SandboxState) -> Iterator[SandboxState]:
    """The sandbox with its target reset before the test (and its source REST API open)."""
    build.reset_target(sandbox)
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    yield sandbox
