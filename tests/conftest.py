"""Shared fixtures. ``sandbox`` starts (or reuses) the real WordPress sandbox once per
session; ``fresh_target`` puts its target back to the freshly installed state;
``ssh_source`` adds the socket-only source of the ``ssh`` route, ``admin_source`` the
tight-limits source of the ``wp_admin`` route, ``classic_source`` a Mode B source on a
classic theme."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from wpmigrate.target.wp_rest import WordPressRestTarget
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


@pytest.fixture(scope="session")
def ssh_source(sandbox: SandboxState) -> SandboxState:
    """The sandbox with its ssh source (``state.ssh_source``, also set on ``sandbox``): built
    on first use, stopped with the sandbox. Its query log is not reset here."""
    return build.up_ssh_source(sandbox)


@pytest.fixture(scope="session")
def admin_source(sandbox: SandboxState) -> SandboxState:
    """The sandbox with its admin source (``state.admin_source``, also set on ``sandbox``):
    built on first use, stopped with the sandbox."""
    return build.up_admin_source(sandbox)


@pytest.fixture(scope="session")
def classic_source(sandbox: SandboxState) -> Iterator[SandboxState]:
    """The sandbox with its classic-theme source (``state.classic_source``, also set on
    ``sandbox``): built on first use (a few seconds), stopped with the sandbox. Its REST API
    is open at the start and again at the end."""
    state = build.up_classic_source(sandbox)
    assert state.classic_source is not None
    if not state.classic_source.rest_enabled:
        build.set_classic_source_rest(True, sandbox)
    yield sandbox
    build.set_classic_source_rest(True, sandbox)


@pytest.fixture
def fresh_target(sandbox: SandboxState) -> Iterator[SandboxState]:
    """The sandbox with its target reset before the test (and its source REST API open)."""
    build.reset_target(sandbox)
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    yield sandbox


@pytest.fixture
def rest_target(fresh_target: SandboxState) -> Iterator[WordPressRestTarget]:
    """The fresh target's REST API as the platform's service user; the target is reset
    afterwards (tests using plain ``sandbox`` expect a fresh target)."""
    sb = fresh_target
    with httpx.Client(base_url=sb.target.url, auth=(sb.platform.service_user, sb.platform.app_password),
                      timeout=60) as client:
        yield WordPressRestTarget(client)
    build.reset_target(sb)
