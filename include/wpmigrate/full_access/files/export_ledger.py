"""What a wp-content export keeps account of, whichever way its bytes arrive (SFTP, the
companion plugin): counters and skip samples, progress events, this attempt's manifest
parts and what earlier attempts stored, and the finished manifest and summary.

Both routes' exporters own the transfer; they report each stored file (``record``) and
each skip (``note_skip``) here, so the artifacts and the summary have one shape."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    PARTS_DIR,
    SUMMARY_NAME,
    VERSION,
    Confined,
    ManifestEntry,
    UnsafePath,
    join_safe,
    write_lines,
)
from wpmigrate.full_access.files.manifest_parts import PartWriter, existing_parts
from wpmigrate.full_access.files.resume_index import ResumeIndex, previous_attempts
from wpmigrate.full_access.files.skip_rules import SKIP_REASONS, Skip
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle

_SAMPLE_LIMIT = 200


@dataclass
class ExportStats:
    files: int = 0
    bytes: int = 0
    transferred_files: int = 0
    transferred_bytes: int = 0
    resumed_files: int = 0
    resumed_bytes: int = 0
    reconnects: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    samples: list[dict[str, str]] = field(default_factory=list)


class ExportLedger:
    """``lock`` guards the counters (exporters may use it for their own, too)."""

    def __init__(self, out_dir: StoragePath, *, progress: Progress | None, progress_seconds: float,
                 part_files: int, part_seconds: float) -> None:
        self.out_dir = out_dir
        self.files_root = out_dir / FILES_DIR
        self.confined = Confined(self.files_root)
        self.part_files, self.part_seconds = part_files, part_seconds
        self.stats = ExportStats()
        self.lock = threading.Lock()
        self.progress = ProgressThrottle(progress, progress_seconds, self.lock)
        self.made_dirs: set[str] = set()
        self.index: ResumeIndex | None = None
        self.parts: PartWriter | None = None

    def prepare(self) -> int:
        """Load what previous attempts stored; return this attempt's number."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        attempt, self.index = previous_attempts(self.out_dir)
        parts_dir = self.out_dir / PARTS_DIR
        parts_dir.mkdir(parents=True, exist_ok=True)
        self.parts = PartWriter(parts_dir, attempt, self.part_files, self.part_seconds)
        return attempt

    def reusable(self, rel: str, size: int, mtime: int, dest: StoragePath) -> ManifestEntry | None:
        return self.index.reusable(rel, size, mtime, dest) if self.index else None

    def destination(self, rel: str) -> StoragePath:
        """Where the source file ``rel`` is stored: ``files/<rel>``, joined so that any legal
        name works (``http:``, ``Backup:`` ...) and, on a local disk, not through a symlink.
        A path the artifact store cannot hold fails the export at once, permanently: a
        retry would fail the same way."""
        try:
            dest = join_safe(self.files_root, rel)
            self.confined.check(rel)
        except UnsafePath as exc:
            raise MigrationError(
                ErrorCode.EXPORT_FAILED,
                f"the source file {rel[:300]!r} cannot be stored in the artifact folder ({exc}); "
                "rename or remove it on the source, a retry cannot help",
                permanent=True, details={"path": rel[:1000], "reason": "unstorable_path"}) from exc
        return dest

    def make_parent(self, dest: StoragePath) -> None:
        parent = dest.parent
        key = str(parent)
        if key not in self.made_dirs:
            parent.mkdir(parents=True, exist_ok=True)
            with self.lock:
                self.made_dirs.add(key)

    def note_skip(self, skip: Skip) -> None:
        with self.lock:
            self.stats.skipped[skip.reason] += 1
            if len(self.stats.samples) < _SAMPLE_LIMIT:
                sample = {"path": skip.path, "reason": skip.reason}
                if skip.detail:
                    sample["detail"] = skip.detail
                self.stats.samples.append(sample)

    def count_reconnect(self) -> None:
        with self.lock:
            self.stats.reconnects += 1

    def emit(self, current: str = "", force: bool = False) -> None:
        def event() -> dict[str, Any]:
            s = self.stats
            return {"phase": "export_files", "files": s.files, "bytes": s.bytes,
                    "transferred_files": s.transferred_files, "transferred_bytes": s.transferred_bytes,
                    "resumed_files": s.resumed_files, "skipped": sum(s.skipped.values()),
                    "current": current}
        self.progress(event, force=force)

    def record(self, entry: ManifestEntry, *, transferred: bool) -> None:
        """``entry``'s file is completely stored: into this attempt's manifest parts."""
        assert self.parts is not None
        self.parts.add(entry)
        with self.lock:
            s = self.stats
            s.files += 1
            s.bytes += entry.size
            if transferred:
                s.transferred_files += 1
                s.transferred_bytes += entry.size
            else:
                s.resumed_files += 1
                s.resumed_bytes += entry.size
        self.emit(entry.path)

    def close(self) -> None:
        """Keep what this attempt finished, even when failing."""
        if self.parts is not None:
            self.parts.flush()
        if self.index:
            self.index.close()

    def fail(self, error: BaseException, what: str) -> NoReturn:
        self.emit(force=True)
        if isinstance(error, MigrationError):
            error.details.setdefault("stored_files", self.stats.files)
            raise error
        raise MigrationError(ErrorCode.EXPORT_FAILED, f"{what} failed: {type(error).__name__}: {error}",
                             permanent=False) from error

    def finish(self, attempt: int, started: float, *, source: dict[str, Any],
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Merge the parts into the manifest, write the summary (``source``: where the files
        came from, ``extra``: the route's own figures), drop the parts; return the summary."""
        assert self.parts is not None
        parts = list(self.parts.written)

        def lines() -> Iterator[bytes]:
            for part in parts:
                with part.open("rb") as fh:
                    yield from fh

        count, manifest_sha = write_lines(self.out_dir / MANIFEST_NAME, lines())
        s = self.stats
        if count != s.files:
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"manifest has {count} records, expected "
                                 f"{s.files}", permanent=False)
        summary: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "attempt": attempt, **source,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 3),
            "manifest": MANIFEST_NAME, "manifest_sha256": manifest_sha, "files_dir": FILES_DIR,
            "files": s.files, "bytes": s.bytes,
            "transferred_files": s.transferred_files, "transferred_bytes": s.transferred_bytes,
            "resumed_files": s.resumed_files, "resumed_bytes": s.resumed_bytes,
            "reconnects": s.reconnects,
            "skipped": dict(s.skipped), "skipped_samples": list(s.samples),
            **(extra or {}),
        }
        with (self.out_dir / SUMMARY_NAME).open("wb") as fh:
            fh.write(json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
        # The manifest now holds everything; parts of every attempt are redundant.
        for _a, _s, part in existing_parts(self.out_dir / PARTS_DIR):
            with contextlib.suppress(Exception):
                part.unlink()
        self.emit(force=True)
        return summary
