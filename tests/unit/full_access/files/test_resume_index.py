"""What a retried export may reuse from earlier attempts (no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from wpmigrate.full_access.files.manifest import MANIFEST_NAME, PARTS_DIR, ManifestEntry, write_manifest
from wpmigrate.full_access.files.resume_index import previous_attempts


def _entry(path: str, data: bytes, mtime: int = 1700000000) -> ManifestEntry:
    return ManifestEntry(path, len(data), mtime, hashlib.sha256(data).hexdigest())


def test_first_attempt_has_nothing_to_resume(tmp_path: Path) -> None:
    assert previous_attempts(tmp_path) == (1, None)


def test_later_records_win_and_the_quick_check_decides(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "u").mkdir(parents=True)
    for name, data in {"a": b"new a", "b": b"bbb", "c": b"ccc"}.items():
        (files / "u" / name).write_bytes(data)
    write_manifest(tmp_path / MANIFEST_NAME, [_entry("u/a", b"old a!"), _entry("u/b", b"bbb")])
    (tmp_path / PARTS_DIR).mkdir()
    write_manifest(tmp_path / PARTS_DIR / "a00002-000001.jsonl", [_entry("u/a", b"new a")])
    (tmp_path / PARTS_DIR / "a00003-000001.jsonl").write_bytes(
        _entry("u/c", b"ccc").to_line() + b'{"cut short by a crash')

    attempt, index = previous_attempts(tmp_path)
    assert attempt == 4 and index is not None
    try:
        assert index.reusable("u/a", 5, 1700000000, files / "u" / "a") == _entry("u/a", b"new a")
        assert index.reusable("u/b", 3, 1700000000, files / "u" / "b") == _entry("u/b", b"bbb")
        assert index.reusable("u/c", 3, 1700000000, files / "u" / "c") == _entry("u/c", b"ccc")
        assert index.reusable("u/b", 3, 1700000001, files / "u" / "b") is None  # source touched
        assert index.reusable("u/b", 4, 1700000000, files / "u" / "b") is None  # source grew
        (files / "u" / "b").write_bytes(b"bb")  # stored copy cut short
        assert index.reusable("u/b", 3, 1700000000, files / "u" / "b") is None
        assert index.reusable("u/a", 5, 1700000000, files / "u" / "a" / "x") is None  # nothing stored
        assert index.reusable("u/new", 1, 1700000000, files / "u" / "new") is None
    finally:
        index.close()
