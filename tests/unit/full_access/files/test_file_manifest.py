"""Manifest format, path safety and verification (no network)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from upath import UPath

from wpmigrate.full_access.files.manifest import (
    ManifestEntry,
    ManifestError,
    UnsafePath,
    hash_path,
    iter_manifest,
    join_safe,
    safe_name,
    safe_relpath,
    verify_tree,
    write_manifest,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("raw", "canonical"), [
    ("uploads/a.jpg", "uploads/a.jpg"),
    ("./uploads//2024/./a.jpg", "uploads/2024/a.jpg"),
    ("themes/x/", "themes/x"),
    ("uploads/café ☕ 🎉.png", "uploads/café ☕ 🎉.png"),
    ("uploads/..hidden", "uploads/..hidden"),  # a name starting with dots is fine
    ("a b/c d", "a b/c d"),
])
def test_safe_relpath_normalises(raw: str, canonical: str) -> None:
    assert safe_relpath(raw) == canonical


@pytest.mark.parametrize("bad", [
    "", ".", "./", "/etc/passwd", "../x", "uploads/../../x", "a/..", "..",
    "uploads\\..\\x", "a\x00b", "caf\udce9.jpg",  # surrogate-escaped Latin-1 byte
])
def test_safe_relpath_refuses(bad: str) -> None:
    with pytest.raises(UnsafePath):
        safe_relpath(bad)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "a\x00", "\udcff"])
def test_safe_name_refuses(bad: str) -> None:
    with pytest.raises(UnsafePath):
        safe_name(bad)


def test_join_safe_stays_under_root(tmp_path: Path) -> None:
    assert join_safe(tmp_path, "a//b") == tmp_path / "a" / "b"
    with pytest.raises(UnsafePath):
        join_safe(tmp_path, "../../etc/passwd")


def test_manifest_round_trip_streaming(tmp_path: Path) -> None:
    entries = [ManifestEntry(f"uploads/{i}/fïle {i}.txt", i, 1700000000 + i, _sha(b"%d" % i), 0o644)
               for i in range(1000)]
    count, digest = write_manifest(tmp_path / "m.jsonl", iter(entries))
    raw = (tmp_path / "m.jsonl").read_bytes()
    assert count == 1000 and digest == _sha(raw)
    assert raw.count(b"\n") == 1000 and "fïle".encode() in raw  # UTF-8, not \u escapes
    first = json.loads(raw.splitlines()[0])
    assert set(first) == {"path", "size", "mtime", "sha256", "mode"}
    assert list(iter_manifest(tmp_path / "m.jsonl")) == entries


@pytest.mark.parametrize("line", [
    b"not json",
    b"[1, 2]",
    b'{"path": "../x", "size": 1, "mtime": 0, "sha256": "' + b"0" * 64 + b'"}',
    b'{"path": "/abs", "size": 1, "mtime": 0, "sha256": "' + b"0" * 64 + b'"}',
    b'{"path": "a//b", "size": 1, "mtime": 0, "sha256": "' + b"0" * 64 + b'"}',
    b'{"path": "a", "size": -1, "mtime": 0, "sha256": "' + b"0" * 64 + b'"}',
    b'{"path": "a", "size": "1", "mtime": 0, "sha256": "' + b"0" * 64 + b'"}',
    b'{"path": "a", "size": 1, "mtime": 0, "sha256": "xyz"}',
    b'{"path": "a", "size": 1, "mtime": 0}',
])
def test_manifest_rejects_bad_lines(tmp_path: Path, line: bytes) -> None:
    good = ManifestEntry("ok.txt", 1, 0, _sha(b"x")).to_line()
    (tmp_path / "m.jsonl").write_bytes(good + line + b"\n")
    it = iter_manifest(tmp_path / "m.jsonl")
    assert next(it).path == "ok.txt"
    with pytest.raises(ManifestError, match="line 2"):
        next(it)


@pytest.mark.parametrize("as_upath", [False, True])
def test_verify_tree_reports_each_problem(tmp_path: Path, as_upath: bool) -> None:
    root = UPath(tmp_path.as_uri()) if as_upath else tmp_path
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ok.txt").write_bytes(b"hello")
    (tmp_path / "d" / "short.txt").write_bytes(b"hel")
    (tmp_path / "d" / "flip.txt").write_bytes(b"hellO")
    (tmp_path / "d" / "dir").mkdir()
    (tmp_path / "extra.txt").write_bytes(b"not in the manifest: not reported")
    h = _sha(b"hello")
    entries = [ManifestEntry(p, 5, 0, h) for p in
               ("d/ok.txt", "d/short.txt", "d/flip.txt", "d/dir", "d/missing.txt")]
    problems = {m.path: m.problem for m in verify_tree(root, entries)}
    assert problems == {"d/short.txt": "size", "d/flip.txt": "sha256", "d/dir": "not_a_file",
                        "d/missing.txt": "missing"}
    assert {m.path for m in verify_tree(root, entries, check_hash=False)} == {
        "d/short.txt", "d/dir", "d/missing.txt"}
    assert hash_path(root / "d" / "ok.txt") == (5, h)
