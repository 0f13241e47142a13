"""The wp-content file manifest: format, path safety, streaming I/O and verification.

An export stores each source file at ``<out_dir>/files/<path>`` and lists it in
``<out_dir>/files-manifest.jsonl``, one UTF-8 JSON object per line::

    {"path":"uploads/2024/01/café.jpg","size":48213,"mtime":1704067200,"sha256":"9f86…","mode":420}

- ``path``: relative to wp-content, ``/``-separated, canonical (no ``.``/``..``/empty
  components, no leading ``/``, no backslash or NUL, valid UTF-8); see ``safe_relpath``.
- ``size``: bytes stored; ``sha256``: hex digest of exactly those bytes.
- ``mtime``: the source's modification time (integer seconds, UTC epoch), used with
  ``size`` to decide whether a retried export may reuse a stored file.
- ``mode``: the source's permission bits (``st_mode & 0o7777``) as an integer.

Everything here streams: a manifest is read and written line by line, files are
hashed in chunks, so memory does not depend on the number or size of files.
Path objects are ``pathlib.Path`` or ``ObjectStoragePath``/UPath; only the portable
operations of ``StoragePath`` are used.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePath
from typing import IO, Any, cast

from wpmigrate.core.storage import StoragePath

MANIFEST_NAME = "files-manifest.jsonl"
SUMMARY_NAME = "files-summary.json"
PARTS_DIR = "files-manifest.parts"
FILES_DIR = "files"
FORMAT = "wpmigrate-files"
VERSION = 1
CHUNK = 1024 * 1024


class UnsafePath(ValueError):
    """A path that could escape its root or that we refuse to store."""


class ManifestError(ValueError):
    """A manifest line that is not a valid record."""


def safe_name(name: str) -> str:
    """Check one directory entry name as listed by the source."""
    if name in ("", ".", ".."):
        raise UnsafePath(f"reserved name {name!r}")
    if "/" in name or "\\" in name or "\x00" in name:
        raise UnsafePath(f"separator or NUL in name {name!r}")
    _check_encodable(name)
    return name


def safe_relpath(rel: str) -> str:
    """Return the canonical form of ``rel`` or raise ``UnsafePath``.

    ``a//b`` and ``./a/b`` are normalised to ``a/b``; absolute paths, ``..``
    components, backslashes (a Windows separator: ``..\\x`` on another system),
    NUL and non-UTF-8 (surrogate-escaped) text are refused, so ``root / result``
    always stays under ``root``.
    """
    if not isinstance(rel, str) or not rel:
        raise UnsafePath("empty path")
    if "\x00" in rel or "\\" in rel:
        raise UnsafePath(f"backslash or NUL in path {rel!r}")
    if rel.startswith("/"):
        raise UnsafePath(f"absolute path {rel!r}")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePath(f"empty path {rel!r}")
    if ".." in parts:
        raise UnsafePath(f"parent reference in path {rel!r}")
    _check_encodable(rel)
    return "/".join(parts)


def _check_encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: bytes that were not UTF-8
        raise UnsafePath(f"not valid UTF-8: {text!r}") from exc


def join_safe(root: StoragePath, rel: str) -> StoragePath:
    """``root`` joined with the safe relative path ``rel``, one segment at a time.

    A UPath (ObjectStoragePath) reads ``proto:/...`` in a joined string as a URL: a
    top-level wp-content directory named ``http:``, ``s3:``, ``memory:`` or ``Backup:``
    made ``root / "http:/x.jpg"`` raise. One segment at a time, every legal name joins;
    a name the store's path library still cannot hold (``a::b``: fsspec reads ``::`` as a
    chained URL) raises ``UnsafePath`` naming it, checked by comparing the joined path
    with what it must be."""
    canonical = safe_relpath(rel)
    path = root
    try:
        for segment in canonical.split("/"):
            path = path / segment
    except ValueError as exc:
        raise UnsafePath(f"the store cannot hold the path {canonical!r} under {root}: {exc}") from exc
    expected = str(root).rstrip("/") + "/" + canonical
    if str(path) != expected:
        raise UnsafePath(f"the store cannot hold the path {canonical!r} under {root} "
                         f"(its path library makes it {str(path)!r})")
    return path


def local_path(path: StoragePath) -> Path | None:
    """The local filesystem path of a ``pathlib`` path or a ``file://`` UPath, else None."""
    if isinstance(path, PurePath):
        return Path(path)
    if getattr(path, "protocol", None) in ("file", "local"):
        return Path(str(cast(Any, path).path))
    return None


class Confined:
    """Paths under a root that must not pass through a symlink (a local store: the target's
    wp-content, the artifact folder). The root itself may be a link (the platform may mount
    wp-content through one); below it, ``check`` refuses any component that is a symlink,
    the last one included, so neither a write nor a read is redirected elsewhere. Object
    stores have no symlinks: nothing to check."""

    def __init__(self, root: StoragePath) -> None:
        self.local = local_path(root)
        self._dirs_ok: set[str] = set()  # directories seen not to be symlinks

    def check(self, rel: str) -> None:
        if self.local is None:
            return
        parts = safe_relpath(rel).split("/")
        current = self.local
        for depth, part in enumerate(parts, start=1):
            current = current / part
            key = "/".join(parts[:depth])
            is_dir = depth < len(parts)
            if is_dir and key in self._dirs_ok:
                continue
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                return  # the rest does not exist yet: the import creates real directories
            if stat.S_ISLNK(mode):
                raise UnsafePath(f"{key!r} is a symlink: not followed (it could lead outside {self.local})")
            if is_dir:
                self._dirs_ok.add(key)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    size: int
    mtime: int
    sha256: str
    mode: int = 0o644

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestEntry:
        try:
            path, size, mtime, sha, mode = (data["path"], data["size"], data["mtime"], data["sha256"],
                                            data.get("mode", 0o644))
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"missing field {exc}") from exc
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (size, mtime, mode)) or size < 0:
            raise ManifestError("size/mtime/mode must be non-negative integers")
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise ManifestError(f"bad sha256 {sha!r}")
        try:
            canonical = safe_relpath(path)
        except UnsafePath as exc:
            raise ManifestError(str(exc)) from exc
        if canonical != path:  # we only ever write canonical paths; anything else was edited
            raise ManifestError(f"non-canonical path {path!r}")
        return cls(path, size, mtime, sha, mode)


def iter_manifest(path: StoragePath) -> Iterator[ManifestEntry]:
    """Yield the records of a manifest (or manifest part), line by line.

    Raises ``ManifestError`` (with the line number) on the first invalid line,
    including a path that ``safe_relpath`` refuses.
    """
    with path.open("rb") as fh:
        yield from iter_manifest_lines(fh)


def iter_manifest_lines(lines: Iterable[bytes]) -> Iterator[ManifestEntry]:
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ManifestError(f"line {lineno}: not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ManifestError(f"line {lineno}: not an object")
        try:
            yield ManifestEntry.from_dict(data)
        except ManifestError as exc:
            raise ManifestError(f"line {lineno}: {exc}") from exc


def write_lines(path: StoragePath, lines: Iterable[bytes]) -> tuple[int, str]:
    """Write ``lines`` to ``path`` in one stream; return (line count, sha256 of the file)."""
    digest = hashlib.sha256()
    count = 0
    with path.open("wb") as fh:
        for line in lines:
            fh.write(line)
            digest.update(line)
            count += 1
    return count, digest.hexdigest()


def write_manifest(path: StoragePath, entries: Iterable[ManifestEntry]) -> tuple[int, str]:
    return write_lines(path, (e.to_line() for e in entries))


def read_json(path: StoragePath) -> dict[str, Any] | None:
    """A small JSON object file (a summary), or None when absent or unreadable."""
    try:
        with path.open("rb") as fh:
            data = json.loads(fh.read())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def hash_stream(fh: IO[bytes], chunk: int = CHUNK) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while data := fh.read(chunk):
        digest.update(data)
        size += len(data)
    return size, digest.hexdigest()


def hash_path(path: StoragePath) -> tuple[int, str]:
    """(size, sha256) of a file, read in chunks."""
    with path.open("rb") as fh:
        return hash_stream(fh)


def file_sha256(path: StoragePath) -> str:
    return hash_path(path)[1]


@dataclass(frozen=True, slots=True)
class Mismatch:
    path: str
    problem: str  # missing | not_a_file | size | sha256
    expected: Any = None
    actual: Any = None


def verify_tree(root: StoragePath, entries: Iterable[ManifestEntry], *,
                check_hash: bool = True) -> Iterator[Mismatch]:
    """Compare the files under ``root`` with manifest ``entries``; yield each difference.

    Streaming: pass ``iter_manifest(path)`` and consume lazily. Files under ``root``
    that the manifest does not list are not reported (a target keeps its own files).
    """
    for entry in entries:
        target = join_safe(root, entry.path)
        try:
            if not target.exists():
                yield Mismatch(entry.path, "missing", entry.size, None)
                continue
            if not target.is_file():
                yield Mismatch(entry.path, "not_a_file")
                continue
            size = target.stat().st_size
        except FileNotFoundError:  # removed between the calls
            yield Mismatch(entry.path, "missing", entry.size, None)
            continue
        if size != entry.size:
            yield Mismatch(entry.path, "size", entry.size, size)
            continue
        if check_hash:
            digest = file_sha256(target)
            if digest != entry.sha256:
                yield Mismatch(entry.path, "sha256", entry.sha256, digest)
