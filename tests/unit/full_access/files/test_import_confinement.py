"""Issue 10 item 7: the files import never writes through a symlinked directory of the
target's wp-content, nor reads through one in the artifact folder (real files and symlinks
under tmp_path; both pathlib and UPath ``file://`` stores)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from upath import UPath

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.files.importer import import_files
from wpmigrate.full_access.files.manifest import FILES_DIR, MANIFEST_NAME, ManifestEntry

EVIL = b"<?php system($_GET['c']);"


def _artifact(in_dir: Path, files: dict[str, bytes]) -> None:
    lines = b""
    for rel, data in files.items():
        path = in_dir / FILES_DIR / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        lines += ManifestEntry(rel, len(data), 0, hashlib.sha256(data).hexdigest()).to_line()
    (in_dir / MANIFEST_NAME).write_bytes(lines)


def _store(path: Path, as_upath: bool) -> Any:
    return UPath(path.as_uri()) if as_upath else path


@pytest.mark.parametrize("as_upath", [False, True])
def test_import_does_not_write_through_a_symlinked_target_directory(tmp_path: Path, as_upath: bool) -> None:
    in_dir, target, elsewhere = tmp_path / "export", tmp_path / "wp-content", tmp_path / "elsewhere"
    _artifact(in_dir, {"uploads/evil.php": EVIL, "uploads/2024/deep.php": EVIL, "themes/ok.css": b"ok"})
    elsewhere.mkdir()
    target.mkdir()
    os.symlink(elsewhere, target / "uploads")  # uploads -> /elsewhere

    with pytest.raises(MigrationError) as err:
        import_files(_store(in_dir, as_upath), _store(target, as_upath))
    assert err.value.code == ErrorCode.IMPORT_FAILED
    assert err.value.permanent  # a retry cannot fix the target's layout
    assert err.value.details["errors"] == 2
    samples = err.value.details["error_samples"]
    assert {s["path"] for s in samples} == {"uploads/evil.php", "uploads/2024/deep.php"}
    assert all("symlink" in s["error"] or "outside" in s["error"] for s in err.value.details["error_samples"])
    assert list(elsewhere.iterdir()) == []  # nothing landed in /elsewhere, not even a directory
    assert (target / "themes/ok.css").read_bytes() == b"ok"  # the other files were imported


@pytest.mark.parametrize("as_upath", [False, True])
def test_a_symlink_inside_the_target_is_not_followed_either(tmp_path: Path, as_upath: bool) -> None:
    in_dir, target = tmp_path / "export", tmp_path / "wp-content"
    _artifact(in_dir, {"uploads/a.txt": b"a"})
    (target / "real").mkdir(parents=True)
    os.symlink(target / "real", target / "uploads")
    with pytest.raises(MigrationError):
        import_files(_store(in_dir, as_upath), _store(target, as_upath))
    assert not (target / "real" / "a.txt").exists()


def test_a_target_file_that_is_a_symlink_is_not_written_through(tmp_path: Path) -> None:
    in_dir, target, outside = tmp_path / "export", tmp_path / "wp-content", tmp_path / "outside.php"
    _artifact(in_dir, {"index.php": EVIL})
    target.mkdir()
    outside.write_bytes(b"keep me")
    os.symlink(outside, target / "index.php")
    with pytest.raises(MigrationError):
        import_files(in_dir, target)
    assert outside.read_bytes() == b"keep me"


def test_a_symlinked_wp_content_itself_is_fine(tmp_path: Path) -> None:
    """The platform may mount wp-content through a link: the root is resolved once."""
    in_dir, real = tmp_path / "export", tmp_path / "srv" / "wp-content"
    _artifact(in_dir, {"uploads/2024/a.txt": b"a"})
    real.mkdir(parents=True)
    os.symlink(real, tmp_path / "wp-content")
    summary = import_files(in_dir, tmp_path / "wp-content")
    assert summary["copied"] == 1 and (real / "uploads/2024/a.txt").read_bytes() == b"a"


@pytest.mark.parametrize("as_upath", [False, True])
def test_import_does_not_read_through_a_symlink_in_the_artifact_folder(tmp_path: Path,
                                                                       as_upath: bool) -> None:
    """A symlinked directory in the artifact folder would copy another tree into the site."""
    in_dir, target, secret_dir = tmp_path / "export", tmp_path / "wp-content", tmp_path / "secrets"
    secret = b"DB_PASSWORD=hunter2"
    secret_dir.mkdir()
    (secret_dir / "config.txt").write_bytes(secret)
    _artifact(in_dir, {"index.php": b"<?php"})
    os.symlink(secret_dir, in_dir / FILES_DIR / "uploads")
    (in_dir / MANIFEST_NAME).write_bytes((in_dir / MANIFEST_NAME).read_bytes() + ManifestEntry(
        "uploads/config.txt", len(secret), 0, hashlib.sha256(secret).hexdigest()).to_line())
    with pytest.raises(MigrationError) as err:
        import_files(_store(in_dir, as_upath), _store(target, as_upath))
    assert err.value.permanent
    assert not (target / "uploads" / "config.txt").exists()
