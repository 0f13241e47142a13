"""wp-content export over a real OpenSSH SFTP server (PrivateSshd) and import into a target."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import psutil
import pytest
from upath import UPath

from tests.support.sftp_login import sftp_factory
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.files.exporter import export_files
from wpmigrate.full_access.files.importer import TMP_PREFIX, import_files
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    MANIFEST_NAME,
    PARTS_DIR,
    SUMMARY_NAME,
    ManifestEntry,
    iter_manifest,
    verify_tree,
)
from wpmigrate.full_access.files.sftp_pipeline import remote_chunks
from wpmigrate.full_access.files.sftp_session import close_client
from wpsandbox.services import PrivateSshd

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs OpenSSH's sshd"),
]

MANY = 300  # small files in one directory: what the resume test interrupts
BIG = 20 * 1024 * 1024


# --------------------------------------------------------------------------- fixtures

def _factory(server: PrivateSshd, key: Path | None = None,
             cls: type[paramiko.SFTPClient] = paramiko.SFTPClient) -> Callable[[], paramiko.SFTPClient]:
    return sftp_factory(server.port, key or server.client_key, cls=cls)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A wp-content tree; returns (root, {relpath: sha256} of what must be exported)."""
    root = tmp_path_factory.mktemp("src") / "wp-content"
    kept: dict[str, bytes] = {
        "index.php": b"<?php // Silence is golden.\n",
        "uploads/2024/01/photo one.jpg": os.urandom(150_000),
        "uploads/2024/01/café ☕ 🎉.png": os.urandom(70_000),
        "uploads/2024/01/naïve résumé.pdf": b"%PDF-1.4 tiny",
        "uploads/empty.txt": b"",
        "uploads/big.bin": os.urandom(BIG),
        "uploads/.htaccess": b"Options -Indexes\n",
        "themes/child/style.css": b"/* Theme Name: child */\n",
        "themes/child/inc/a/b/c/deep.php": b"<?php echo 'deep';\n",
        "plugins/p/p.php": b"<?php /* Plugin Name: p */\n",
        "plugins/p/cache/loader.php": b"<?php // a plugin's own code dir named cache: kept\n",
        "plugins/p/node_modules/lib/x.js": b"export default 1;\n",
        "plugins/p/debug.log": b"shipped by the plugin: kept\n",
        "mu-plugins/site.php": b"<?php // mu\n",
        "languages/de_DE.po": "msgid \"Hello\"\nmsgstr \"Grüß Gott\"\n".encode(),
    }
    kept.update({f"uploads/many/file-{i:04d}.txt": os.urandom(100 + i) for i in range(MANY)})
    for rel, data in kept.items():
        _write(root / rel, data)
    excluded = ["cache/page/index.html", "upgrade/tmp.zip", "ai1wm-backups/site.wpress", "backups/db.sql",
                "updraft/backup.zip", "wflogs/attack-data.php", "debug.log", "object-cache.php",
                "themes/child/.git/HEAD", "uploads/backwpup-12ab-backups/x.zip"]
    for rel in excluded:
        _write(root / rel, b"must not be exported")
    os.symlink("/etc/passwd", root / "uploads/link.jpg")
    os.symlink("/etc", root / "uploads/linkdir")
    os.mkfifo(root / "uploads/pipe")
    # Names we refuse: a Latin-1 byte (not UTF-8) and a backslash (a separator elsewhere).
    with open(os.path.join(os.fsencode(root / "uploads"), b"caf\xe9.jpg"), "wb") as fh:
        fh.write(b"latin1 name")
    _write(root / "uploads" / "a\\b.txt", b"backslash name")
    return root, {rel: hashlib.sha256(data).hexdigest() for rel, data in kept.items()}


def _manifest(out: Any) -> dict[str, ManifestEntry]:
    return {e.path: e for e in iter_manifest(out / MANIFEST_NAME)}


def _export(server: PrivateSshd, root: Path, out: Any, **kw: Any) -> dict[str, Any]:
    kw.setdefault("backoff", 0.01)
    return export_files(kw.pop("connect", None) or _factory(server), str(root), out, **kw)


# --------------------------------------------------------------------------- export

def test_export_full_tree(sshd: PrivateSshd, source: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, expected = source
    events: list[dict[str, Any]] = []
    summary = _export(sshd, root, tmp_path / "out", progress=events.append, progress_seconds=0)

    entries = _manifest(tmp_path / "out")
    assert {p: e.sha256 for p, e in entries.items()} == expected  # hashlib over the originals
    for rel, entry in entries.items():
        st = os.stat(root / rel)
        assert (entry.size, entry.mtime) == (st.st_size, int(st.st_mtime))
        assert entry.mode == stat.S_IMODE(st.st_mode)
    assert list(verify_tree(tmp_path / "out" / FILES_DIR, entries.values())) == []
    assert summary["files"] == summary["transferred_files"] == len(expected)
    assert summary["resumed_files"] == 0
    assert summary["bytes"] == sum(e.size for e in entries.values())
    assert summary["skipped"] == {"excluded": 10, "symlinks": 2, "special": 1, "unsafe_names": 2,
                                  "vanished": 0, "unreadable": 0}
    reasons = {(s["path"], s["reason"]) for s in summary["skipped_samples"]}
    assert {("uploads/link.jpg", "symlinks"), ("uploads/linkdir", "symlinks"), ("uploads/pipe", "special"),
            ("cache/", "excluded"), ("uploads/caf\\xe9.jpg", "unsafe_names")} <= reasons
    # nothing outside the kept set was stored, and no symlink was followed
    stored = {p.relative_to(tmp_path / "out" / FILES_DIR).as_posix()
              for p in (tmp_path / "out" / FILES_DIR).rglob("*") if p.is_file()}
    assert stored == set(expected)
    # the summary on disk is the returned one; parts were merged and removed
    assert json.loads((tmp_path / "out" / SUMMARY_NAME).read_text()) == summary
    manifest_bytes = (tmp_path / "out" / MANIFEST_NAME).read_bytes()
    assert summary["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert list((tmp_path / "out" / PARTS_DIR).iterdir()) == []
    assert events and events[-1]["files"] == len(expected)


def test_export_to_object_storage_path(sshd: PrivateSshd, source: tuple[Path, dict[str, str]],
                                       tmp_path: Path) -> None:
    """Same export through a UPath (what ObjectStoragePath is), then a no-op re-run."""
    root, expected = source
    out = UPath((tmp_path / "store").as_uri()) / "tenant" / "migration"
    first = _export(sshd, root, out, workers=2)
    assert first["files"] == len(expected)
    assert {p: e.sha256 for p, e in _manifest(out).items()} == expected
    again = _export(sshd, root, out, workers=2)
    assert (again["transferred_files"], again["resumed_files"], again["attempt"]) == (0, len(expected), 2)
    assert {p: e.sha256 for p, e in _manifest(out).items()} == expected


class _Dropper(paramiko.SFTPClient):
    """Kills its SSH connection at the (budget+1)-th file open across all clients: a real drop."""

    budget = 0

    def open(self, filename: Any, mode: str = "r", bufsize: int = -1) -> paramiko.SFTPFile:
        if _Dropper.budget <= 0:
            self.get_channel().get_transport().close()
        _Dropper.budget -= 1
        return super().open(filename, mode, bufsize)


def test_export_resumes_after_dropped_connections(sshd: PrivateSshd, source: tuple[Path, dict[str, str]],
                                                  tmp_path: Path) -> None:
    root, expected = source
    out = tmp_path / "out"
    _Dropper.budget = 120
    with pytest.raises(MigrationError) as err:
        _export(sshd, root, out, connect=_factory(sshd, cls=_Dropper), workers=3, retries=2, part_files=25)
    assert err.value.code == ErrorCode.EXPORT_FAILED and err.value.permanent is False

    recorded = {}
    for part in sorted((out / PARTS_DIR).iterdir()):
        recorded.update({e.path: e for e in iter_manifest(part)})
    assert 0 < len(recorded) <= 120 and not (out / MANIFEST_NAME).exists()
    assert all(expected[p] == e.sha256 for p, e in recorded.items())
    before = {p: (out / FILES_DIR / p).stat().st_mtime_ns for p in recorded}

    summary = _export(sshd, root, out, workers=3)
    assert summary["resumed_files"] == len(recorded)
    assert summary["transferred_files"] == len(expected) - len(recorded)
    assert summary["attempt"] == 2
    assert {p: e.sha256 for p, e in _manifest(out).items()} == expected
    assert list(verify_tree(out / FILES_DIR, _manifest(out).values())) == []
    assert {p: (out / FILES_DIR / p).stat().st_mtime_ns for p in recorded} == before  # not rewritten


def test_export_survives_server_side_drop(sshd: PrivateSshd, source: tuple[Path, dict[str, str]],
                                          tmp_path: Path) -> None:
    """Kill every SSH session process of the server mid-export (the listener stays up): the
    walker and the workers reconnect and the export completes within the same attempt."""
    root, expected = source
    killed: list[int] = []

    def progress(event: dict[str, Any]) -> None:
        if event["files"] >= 40 and not killed:
            for child in psutil.Process(sshd.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):  # a session may end by itself
                    child.kill()
                    killed.append(child.pid)

    summary = _export(sshd, root, tmp_path / "out", workers=3, progress=progress, progress_seconds=0)
    assert killed and summary["reconnects"] >= 1
    assert summary["attempt"] == 1 and summary["files"] == len(expected)
    assert {p: e.sha256 for p, e in _manifest(tmp_path / "out").items()} == expected


def test_export_survives_a_hung_server(sshd: PrivateSshd, source: tuple[Path, dict[str, str]],
                                      tmp_path: Path) -> None:
    """Freeze (SIGSTOP) every SSH session mid-export: no error from the socket, just silence.
    The I/O timeout turns it into a retry on a fresh connection."""
    root, expected = source
    frozen: list[psutil.Process] = []

    def progress(event: dict[str, Any]) -> None:
        if event["files"] >= 40 and not frozen:
            for child in psutil.Process(sshd.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):  # a session may end by itself
                    child.suspend()
                    frozen.append(child)

    try:
        summary = _export(sshd, root, tmp_path / "out", workers=3, progress=progress, progress_seconds=0,
                          io_timeout=1.0, connect_timeout=3.0)  # a handshake may be frozen too
    finally:
        for proc in frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
    assert frozen and summary["reconnects"] >= 1 and summary["files"] == len(expected)
    assert {p: e.sha256 for p, e in _manifest(tmp_path / "out").items()} == expected


def test_export_retransfers_changed_files(sshd: PrivateSshd, tmp_path: Path) -> None:
    root = tmp_path / "wp-content"
    for i in range(5):
        _write(root / f"uploads/{i}.txt", b"v1 %d" % i)
    out = tmp_path / "out"
    assert _export(sshd, root, out)["transferred_files"] == 5
    (root / "uploads/1.txt").write_bytes(b"version two")
    os.utime(root / "uploads/3.txt", (1, 1))  # same size, other mtime: re-read too
    (root / "uploads/4.txt").unlink()
    again = _export(sshd, root, out)
    assert (again["files"], again["transferred_files"], again["resumed_files"]) == (4, 2, 2)
    assert _manifest(out)["uploads/1.txt"].sha256 == hashlib.sha256(b"version two").hexdigest()
    assert "uploads/4.txt" not in _manifest(out)


def test_reader_handles_files_that_changed_size(sshd: PrivateSshd, tmp_path: Path) -> None:
    """The pipelined reader returns the file as it is now, whatever size the listing said."""
    sftp = _factory(sshd)()
    try:
        for actual in (0, 1, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 3 * 1024 * 1024 + 7):
            data = os.urandom(actual)
            (tmp_path / "f").write_bytes(data)
            for listed in {0, max(0, actual - 5000), actual, actual + 1, actual + 100_000}:
                with sftp.open(str(tmp_path / "f"), "rb") as src:
                    got = b"".join(remote_chunks(sftp, src, listed))
                assert got == data, (actual, listed)
        assert sftp.stat(str(tmp_path / "f")).st_size == actual  # still usable afterwards
    finally:
        close_client(sftp)


def test_export_errors(sshd: PrivateSshd, tmp_path: Path) -> None:
    with pytest.raises(MigrationError) as err:
        _export(sshd, tmp_path / "no-such-wp-content", tmp_path / "out")
    assert err.value.code == ErrorCode.EXPORT_FAILED and err.value.permanent

    other_key = tmp_path / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    (tmp_path / "wp").mkdir()
    with pytest.raises(MigrationError) as err:
        _export(sshd, tmp_path / "wp", tmp_path / "out", connect=_factory(sshd, key=other_key))
    assert err.value.code == ErrorCode.INVALID_CREDENTIALS and err.value.permanent

    # paramiko's wording for a connection lost during authentication: retried, not a bad key.
    good, calls = _factory(sshd), []

    def drops_once() -> paramiko.SFTPClient:
        calls.append(1)
        if len(calls) == 1:
            raise paramiko.AuthenticationException("Authentication failed: transport shut down or saw EOF")
        return good()

    (tmp_path / "wp" / "a.txt").write_bytes(b"a")
    summary = _export(sshd, tmp_path / "wp", tmp_path / "out2", connect=drops_once, workers=1)
    assert summary["files"] == 1 and summary["reconnects"] == 1


# --------------------------------------------------------------------------- import

@pytest.fixture(scope="module")
def exported(sshd: PrivateSshd, source: tuple[Path, dict[str, str]],
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exported")
    _export(sshd, source[0], out)
    return out


def _copy_export(exported: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "artifacts"
    shutil.copytree(exported, dest)
    return dest


def _tmp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{TMP_PREFIX}*")]


@pytest.mark.parametrize("as_upath", [False, True])
def test_import_into_existing_target(exported: Path, source: tuple[Path, dict[str, str]], tmp_path: Path,
                                     as_upath: bool) -> None:
    _, expected = source
    target_dir = tmp_path / "target-wp-content"
    _write(target_dir / "plugins/platform-sso/platform-sso.php", b"<?php // the platform's own plugin\n")
    _write(target_dir / "uploads/2024/01/photo one.jpg", b"older, different content")
    shutil.copy(exported / FILES_DIR / "themes/child/style.css", target_dir / "index.php")  # wrong content
    (target_dir / "themes/child").mkdir(parents=True)
    shutil.copy(exported / FILES_DIR / "themes/child/style.css", target_dir / "themes/child/style.css")
    target = UPath(target_dir.as_uri()) if as_upath else target_dir
    in_dir = UPath(exported.as_uri()) if as_upath else exported

    events: list[dict[str, Any]] = []
    first = import_files(in_dir, target, progress=events.append, progress_seconds=0)
    assert first["files"] == len(expected)
    assert (first["copied"], first["skipped_identical"], first["errors"]) == (len(expected) - 1, 1, 0)
    assert (target_dir / "plugins/platform-sso/platform-sso.php").exists()  # target-only file kept
    assert list(verify_tree(target_dir, iter_manifest(exported / MANIFEST_NAME))) == []
    assert _tmp_leftovers(target_dir) == []
    assert events[-1]["files_done"] == len(expected)

    second = import_files(in_dir, target)
    assert (second["copied"], second["skipped_identical"], second["bytes"]) == (0, len(expected), 0)


def test_import_refuses_tampered_artifact(exported: Path, tmp_path: Path) -> None:
    artifacts = _copy_export(exported, tmp_path)
    victim = artifacts / FILES_DIR / "uploads/big.bin"
    data = bytearray(victim.read_bytes())
    data[BIG // 2] ^= 0xFF  # same size, one bit pattern changed
    victim.write_bytes(bytes(data))
    target = tmp_path / "target"
    _write(target / "uploads/big.bin", b"the target's previous file")

    with pytest.raises(MigrationError) as err:
        import_files(artifacts, target)
    assert err.value.code == ErrorCode.IMPORT_FAILED and err.value.permanent
    assert err.value.details["errors"] == 1
    assert err.value.details["error_samples"][0]["path"] == "uploads/big.bin"
    assert (target / "uploads/big.bin").read_bytes() == b"the target's previous file"  # old file intact
    assert _tmp_leftovers(target) == []
    assert (target / "uploads/empty.txt").exists()  # the other files were imported


def test_import_refuses_traversal_and_tampered_manifest(exported: Path, tmp_path: Path) -> None:
    artifacts = _copy_export(exported, tmp_path)
    outside = tmp_path / "evil.txt"
    (artifacts / FILES_DIR / "x").mkdir()
    (artifacts / FILES_DIR / "x" / "evil.txt").write_bytes(b"evil")
    evil = ManifestEntry("x/evil.txt", 4, 0, hashlib.sha256(b"evil").hexdigest()).to_line()
    manifest = artifacts / MANIFEST_NAME
    original = manifest.read_bytes()
    target = tmp_path / "a" / "target"

    # A record that escapes the target is refused before anything is written.
    for bad in ("../../evil.txt", "/tmp/evil.txt", "x\\..\\..\\evil.txt"):
        manifest.write_bytes(original + evil.replace(b"x/evil.txt", json.dumps(bad).encode()[1:-1]))
        (artifacts / SUMMARY_NAME).unlink(missing_ok=True)
        with pytest.raises(MigrationError) as err:
            import_files(artifacts, target)
        assert err.value.code == ErrorCode.IMPORT_FAILED and "manifest" in err.value.message
        assert not outside.exists() and not (tmp_path / "a" / "evil.txt").exists()
        assert not target.exists()

    # A valid-looking record added after the export: the summary's manifest sha256 catches it.
    shutil.copy(exported / SUMMARY_NAME, artifacts / SUMMARY_NAME)
    manifest.write_bytes(original + evil)
    with pytest.raises(MigrationError, match="sha256"):
        import_files(artifacts, target)
    assert not target.exists()


def test_import_without_export_fails(tmp_path: Path) -> None:
    with pytest.raises(MigrationError) as err:
        import_files(tmp_path, tmp_path / "target")
    assert err.value.code == ErrorCode.IMPORT_FAILED
