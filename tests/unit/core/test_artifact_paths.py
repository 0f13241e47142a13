"""Issue 10 item 10: a tenant id (or any other segment) cannot lead an artifact path out of
the artifact root: ``file:///tmp/wpmigrate-artifacts/../<uuid>`` is refused, by the library's
join and by the Airflow layer's ``artifacts_dir``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import join_under

UUID = "6f1c1a86-4a57-4c1e-9a43-3f3b6f0b0c11"


@pytest.mark.parametrize("segments", [
    ("..", UUID), (".", UUID), ("t1", ".."), ("a/../..", UUID), ("/etc", UUID), ("", UUID),
    ("t1", "x\x00y"), ("t1", "a\\..\\b"),
])
def test_segments_that_leave_the_root_are_refused(tmp_path: Path, segments: tuple[str, ...]) -> None:
    with pytest.raises(MigrationError) as err:
        join_under(tmp_path / "root", *segments)
    assert err.value.code == ErrorCode.INVALID_CONF and err.value.permanent


def test_ordinary_segments_join(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert join_under(root, "t1", UUID, "db") == root / "t1" / UUID / "db"
    assert join_under(root, "a..b", "...") == root / "a..b" / "..."


def test_artifacts_dir_refuses_a_dot_dot_tenant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from wpmigrate_airflow.portal import artifacts_dir

    monkeypatch.setenv("WPMIGRATE_ARTIFACTS_ROOT", f"file://{tmp_path}/wpmigrate-artifacts")
    ok = artifacts_dir(SimpleNamespace(tenant_id="t1", migration_id=UUID), "db")
    assert str(ok).endswith(f"wpmigrate-artifacts/t1/{UUID}/db")
    for tenant in ("..", "."):
        with pytest.raises(MigrationError) as err:
            artifacts_dir(SimpleNamespace(tenant_id=tenant, migration_id=UUID), "db")
        assert err.value.code == ErrorCode.INVALID_CONF
    with pytest.raises(MigrationError):
        artifacts_dir(SimpleNamespace(tenant_id="t1", migration_id=UUID), "../../escape")
