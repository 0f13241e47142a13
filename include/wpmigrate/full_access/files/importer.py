"""Import an exported wp-content into the target's wp-content, checking every hash.

- The manifest is validated in a first streaming pass (JSON, canonical safe paths,
  its sha256 against the export summary) before anything is written: a tampered
  or truncated manifest writes nothing.
- Each file is streamed from ``in_dir/files/<path>`` to a temporary name in the
  destination directory, hashed on the way, checked against the manifest (size and
  sha256) and only then renamed over ``target/<path>``: a reader of the target never
  sees a half-written or wrong file, and a mismatch leaves the old file in place.
- Files already identical on the target (same size and sha256) are skipped, so a
  retried import costs reads only. Target files the source does not have are left
  alone. Nothing lands outside ``target`` (paths checked by ``safe_relpath``, and on a
  local disk no symlink is followed below the target or the artifact folder: ``Confined``).
- Errors are collected (count plus the first ``_SAMPLE_LIMIT``) so one run reports
  every problem; then ``IMPORT_FAILED`` is raised (``permanent`` when an artifact is
  corrupt or missing: retrying the import cannot fix it, the export must be redone).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.files.manifest import (
    CHUNK,
    FILES_DIR,
    MANIFEST_NAME,
    SUMMARY_NAME,
    Confined,
    ManifestEntry,
    ManifestError,
    UnsafePath,
    file_sha256,
    iter_manifest_lines,
    join_safe,
    read_json,
)
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle

log = logging.getLogger(__name__)

_SAMPLE_LIMIT = 100
TMP_PREFIX = ".wpmigrate-"  # temporary names: fixed length, so a 255-byte file name still fits


class _IntegrityError(Exception):
    """The artifact does not match its manifest record."""


def _hashing_lines(path: StoragePath, digest: Any) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            digest.update(line)
            yield line


def _check_manifest(in_dir: StoragePath) -> tuple[int, int]:
    """First pass: every record valid, file sha256 as the export recorded; (files, bytes)."""
    manifest = in_dir / MANIFEST_NAME
    if not manifest.exists():
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"no {MANIFEST_NAME} in {in_dir}: the file export "
                             "did not finish", permanent=True)
    digest = hashlib.sha256()
    files = total = 0
    try:
        for entry in iter_manifest_lines(_hashing_lines(manifest, digest)):
            files += 1
            total += entry.size
    except ManifestError as exc:
        raise MigrationError(ErrorCode.IMPORT_FAILED, f"invalid files manifest: {exc}", permanent=True,
                             details={"manifest": str(manifest)}) from exc
    expected = (read_json(in_dir / SUMMARY_NAME) or {}).get("manifest_sha256")
    if expected and expected != digest.hexdigest():
        raise MigrationError(ErrorCode.IMPORT_FAILED, "files manifest does not match the sha256 recorded "
                             "by the export", permanent=True, details={"manifest": str(manifest)})
    return files, total


def _place(tmp: StoragePath, dest: StoragePath) -> None:
    try:
        tmp.replace(dest)  # pathlib: atomic overwrite
    except (AttributeError, NotImplementedError):
        tmp.rename(dest)  # UPath: fsspec mv (local rename, S3 copy)


class _Importer:
    def __init__(self, in_dir: StoragePath, target: StoragePath, progress: Progress | None,
                 progress_seconds: float) -> None:
        self.in_dir, self.target = in_dir, target
        self.files_root = in_dir / FILES_DIR
        # Neither the target nor the artifact folder is walked through a symlink.
        self.target_confined, self.files_confined = Confined(target), Confined(self.files_root)
        self.lock = threading.Lock()
        self.progress = ProgressThrottle(progress, progress_seconds, self.lock)
        self.counts = {"copied": 0, "skipped_identical": 0, "bytes": 0, "errors": 0, "files_done": 0}
        self.error_samples: list[dict[str, str]] = []
        self.integrity_errors = 0
        self.files_total = self.bytes_total = 0
        self.made_dirs: set[str] = set()

    def emit(self, force: bool = False) -> None:
        self.progress(lambda: {"phase": "import_files", "files_total": self.files_total,
                               "bytes_total": self.bytes_total, **self.counts}, force=force)

    def one(self, entry: ManifestEntry) -> None:
        try:
            outcome = self.copy(entry)
        except _IntegrityError as exc:
            self.fail(entry.path, str(exc), integrity=True)
        except UnsafePath as exc:  # a symlink on the way, a name the store cannot hold: no retry helps
            self.fail(entry.path, str(exc), integrity=True)
        except FileNotFoundError as exc:
            self.fail(entry.path, f"artifact missing: {exc}", integrity=True)
        except Exception as exc:  # target I/O (OSError) or anything else: report, go on
            self.fail(entry.path, f"{type(exc).__name__}: {exc}", integrity=False)
        else:
            with self.lock:
                self.counts[outcome] += 1
                if outcome == "copied":
                    self.counts["bytes"] += entry.size
        with self.lock:
            self.counts["files_done"] += 1
        self.emit()

    def fail(self, path: str, message: str, *, integrity: bool) -> None:
        log.error("import %s: %s", path, message)
        with self.lock:
            self.counts["errors"] += 1
            self.integrity_errors += integrity
            if len(self.error_samples) < _SAMPLE_LIMIT:
                self.error_samples.append({"path": path, "error": message})

    def copy(self, entry: ManifestEntry) -> str:
        dest = join_safe(self.target, entry.path)
        src = join_safe(self.files_root, entry.path)
        self.files_confined.check(entry.path)
        self.target_confined.check(entry.path)
        if dest.exists():
            if dest.is_dir():  # a rename would move the file INTO the directory
                raise IsADirectoryError(f"target has a directory at {entry.path}")
            if dest.stat().st_size == entry.size and file_sha256(dest) == entry.sha256:
                return "skipped_identical"
        parent = dest.parent
        key = str(parent)
        if key not in self.made_dirs:
            parent.mkdir(parents=True, exist_ok=True)
            with self.lock:
                self.made_dirs.add(key)
        tmp = parent / f"{TMP_PREFIX}{uuid.uuid4().hex}.tmp"
        placed = False
        try:
            digest = hashlib.sha256()
            size = 0
            with src.open("rb") as fin, tmp.open("wb") as fout:
                while data := fin.read(CHUNK):
                    digest.update(data)
                    size += len(data)
                    if size > entry.size:  # stop early: it can only be wrong now
                        raise _IntegrityError(f"artifact larger than the recorded {entry.size} bytes")
                    fout.write(data)
            if size != entry.size or digest.hexdigest() != entry.sha256:
                raise _IntegrityError(f"artifact does not match the manifest (size {size} vs {entry.size}, "
                                      f"sha256 {digest.hexdigest()[:12]}… vs {entry.sha256[:12]}…)")
            written = tmp.stat().st_size
            if written != entry.size:
                raise OSError(f"wrote {written} bytes, expected {entry.size}")
            _place(tmp, dest)
            placed = True
        finally:
            if not placed:
                with contextlib.suppress(Exception):
                    tmp.unlink()
        return "copied"


def import_files(
    in_dir: StoragePath,
    target_wp_content: StoragePath,
    *,
    progress: Progress | None = None,
    workers: int = 4,
    strict: bool = True,
    progress_seconds: float = 2.0,
) -> dict[str, Any]:
    """Copy every file of the export in ``in_dir`` into ``target_wp_content``.

    Returns ``{"files", "bytes_total", "copied", "skipped_identical", "bytes",
    "errors", "error_samples", "seconds"}`` (``bytes``: bytes copied). With
    ``strict`` (default) any error raises ``MigrationError(IMPORT_FAILED)`` after all
    files were tried, the summary in ``details``.
    """
    started = time.monotonic()
    files, total = _check_manifest(in_dir)
    imp = _Importer(in_dir, target_wp_content, progress, progress_seconds)
    imp.files_total, imp.bytes_total = files, total
    target_wp_content.mkdir(parents=True, exist_ok=True)
    manifest = in_dir / MANIFEST_NAME
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="wpmigrate-import") as pool:
        pending: deque[Future[None]] = deque()
        with manifest.open("rb") as fh:
            for entry in iter_manifest_lines(fh):
                pending.append(pool.submit(imp.one, entry))
                while len(pending) >= workers * 8:  # bounded: never the whole manifest in flight
                    pending.popleft().result()
        while pending:
            pending.popleft().result()
    imp.emit(force=True)
    summary: dict[str, Any] = {"files": files, "bytes_total": total, **imp.counts,
                               "error_samples": imp.error_samples,
                               "seconds": round(time.monotonic() - started, 3)}
    summary.pop("files_done")
    if imp.counts["errors"] and strict:
        raise MigrationError(
            ErrorCode.IMPORT_FAILED,
            f"{imp.counts['errors']} of {files} files could not be imported "
            f"(first: {imp.error_samples[0]['path']}: {imp.error_samples[0]['error']})",
            permanent=imp.integrity_errors > 0, details=summary,
        )
    return summary
