"""Issue 10 items 7 and 8 over a real OpenSSH SFTP server (PrivateSshd): top-level
wp-content directories named like a protocol (``http:``, ``s3:``, ``memory:``, ``Backup:``)
export and import through a UPath store (what ObjectStoragePath is); a name the store cannot
hold (``a::b``: fsspec reads ``::`` as a chained URL) fails the export permanently, naming it;
the export does not write through a symlink in the artifact folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from upath import UPath

from tests.support.sftp_login import sftp_factory
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.files.exporter import export_files
from wpmigrate.full_access.files.importer import import_files
from wpmigrate.full_access.files.manifest import FILES_DIR, MANIFEST_NAME, iter_manifest, verify_tree
from wpsandbox.services import PrivateSshd

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs OpenSSH's sshd"),
]

PROTOCOL_NAMES = ["http:", "s3:", "memory:", "Backup:", "file:", "C:"]




def _tree(root: Path, files: dict[str, bytes]) -> dict[str, str]:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}


def test_protocol_like_top_level_names_export_and_import(sshd: PrivateSshd, tmp_path: Path) -> None:
    files = {f"{name}/x.jpg": f"image in {name}".encode() for name in PROTOCOL_NAMES}
    files.update({"http:/nested/y.txt": b"deeper", "uploads/a:b.txt": b"colon", "index.php": b"<?php"})
    expected = _tree(tmp_path / "src" / "wp-content", files)
    out = UPath((tmp_path / "store").as_uri()) / "tenant" / "migration"

    summary = export_files(sftp_factory(sshd.port, sshd.client_key), str(tmp_path / "src" / "wp-content"),
                           out, backoff=0.01, workers=2)
    assert summary["files"] == len(files)
    assert {e.path: e.sha256 for e in iter_manifest(out / MANIFEST_NAME)} == expected
    assert (tmp_path / "store/tenant/migration" / FILES_DIR / "http:/x.jpg").read_bytes() == b"image in http:"

    target = UPath((tmp_path / "target").as_uri())
    imported = import_files(out, target)
    assert (imported["copied"], imported["errors"]) == (len(files), 0)
    assert list(verify_tree(target, iter_manifest(out / MANIFEST_NAME))) == []
    assert (tmp_path / "target/Backup:/x.jpg").read_bytes() == b"image in Backup:"


def test_a_name_the_store_cannot_hold_fails_permanently_and_says_which(sshd: PrivateSshd,
                                                                        tmp_path: Path) -> None:
    _tree(tmp_path / "src", {"uploads/ok.txt": b"ok", "a::b/x.jpg": b"chained"})
    out = UPath((tmp_path / "store").as_uri())
    with pytest.raises(MigrationError) as err:
        export_files(sftp_factory(sshd.port, sshd.client_key), str(tmp_path / "src"), out, backoff=0.01,
                     workers=1)
    assert err.value.code == ErrorCode.EXPORT_FAILED
    assert err.value.permanent  # a retry would fail the same way
    assert "a::b/x.jpg" in err.value.message and "rename or remove it on the source" in err.value.message
    assert err.value.details["path"] == "a::b/x.jpg"


def test_export_does_not_write_through_a_symlink_in_the_artifact_folder(sshd: PrivateSshd,
                                                                        tmp_path: Path) -> None:
    _tree(tmp_path / "src", {"uploads/evil.php": b"<?php"})
    out, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    (out / FILES_DIR).mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / FILES_DIR / "uploads")
    with pytest.raises(MigrationError) as err:
        export_files(sftp_factory(sshd.port, sshd.client_key), str(tmp_path / "src"), out, backoff=0.01,
                     workers=1)
    assert err.value.permanent and "symlink" in err.value.message
    assert list(elsewhere.iterdir()) == []
