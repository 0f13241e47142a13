"""The manual install's zip (``python -m wpmigrate.full_access.companion``) and the derived
per-migration secrets of automatic installs."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wpmigrate.full_access.companion.package import PLUGIN_DIR, derive_secret

ROOT = Path(__file__).resolve().parents[4]


def test_cli_writes_a_zip_holding_the_secret_it_prints(tmp_path: Path) -> None:
    out = tmp_path / "companion.zip"
    proc = subprocess.run([sys.executable, "-m", "wpmigrate.full_access.companion", "--migration-id",
                           "0f6f3c1e-8d0e-4c4e-9a55-000000000001", "--out", str(out), "--idle-hours", "5"],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "include")})
    assert proc.returncode == 0, proc.stderr
    secret = proc.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert secret not in proc.stderr
    config = zipfile.ZipFile(io.BytesIO(out.read_bytes())).read(f"{PLUGIN_DIR}/secret.php").decode()
    assert f"'secret' => '{secret}'" in config and "'idle_seconds' => 18000" in config


def test_cli_refuses_a_bad_migration_id(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "wpmigrate.full_access.companion", "--migration-id",
                           "x'; phpinfo(); '", "--out", str(tmp_path / "z.zip")],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "include")})
    assert proc.returncode == 2 and not (tmp_path / "z.zip").exists()


def test_derived_secrets_are_per_migration_and_stable() -> None:
    key = "k" * 40
    one = derive_secret(key, "0f6f3c1e-8d0e-4c4e-9a55-000000000001")
    assert re.fullmatch(r"[0-9a-f]{64}", one)
    assert one == derive_secret(key, "0f6f3c1e-8d0e-4c4e-9a55-000000000001")
    assert one != derive_secret(key, "0f6f3c1e-8d0e-4c4e-9a55-000000000002")
    assert one != derive_secret("j" * 40, "0f6f3c1e-8d0e-4c4e-9a55-000000000001")
    with pytest.raises(ValueError):
        derive_secret("short", "m")
