"""What earlier export attempts already stored, so a retried export copies only the rest.

The previous manifest and every attempt's parts are read, in attempt order (later
records win), into a temporary SQLite index on local disk: memory stays bounded for
any tree. A stored file is reused when the source's size and mtime equal the
recorded ones and the stored object has the recorded size (the rsync quick check:
reading the source to hash it would cost the transfer we want to avoid); its record,
with its sha256, is carried over.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.files.manifest import (
    MANIFEST_NAME,
    PARTS_DIR,
    SUMMARY_NAME,
    ManifestEntry,
    ManifestError,
    iter_manifest,
    read_json,
)
from wpmigrate.full_access.files.manifest_parts import existing_parts

log = logging.getLogger(__name__)


class ResumeIndex:
    """path -> previous record, in a throwaway SQLite file: bounded memory for any tree."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="wpmigrate-resume-")
        self._db = sqlite3.connect(str(Path(self._dir.name) / "index.sqlite"), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE f (path TEXT PRIMARY KEY, size INT, mtime INT, sha256 TEXT, mode INT)")
        self._lock = threading.Lock()
        self.count = 0

    def load(self, entries: Iterable[ManifestEntry]) -> None:
        # Later sources override earlier ones (loaded in attempt order).
        self._db.executemany("INSERT OR REPLACE INTO f VALUES (?,?,?,?,?)",
                             ((e.path, e.size, e.mtime, e.sha256, e.mode) for e in entries))
        self._db.commit()
        self.count = self._db.execute("SELECT count(*) FROM f").fetchone()[0]

    def get(self, path: str) -> ManifestEntry | None:
        with self._lock:
            row = self._db.execute("SELECT path, size, mtime, sha256, mode FROM f WHERE path=?",
                                   (path,)).fetchone()
        return ManifestEntry(*row) if row else None

    def reusable(self, path: str, size: int, mtime: int, stored: StoragePath) -> ManifestEntry | None:
        """The earlier record of ``path`` if its stored copy ``stored`` may stand for the
        source file listed now with ``size`` and ``mtime``, else None."""
        prev = self.get(path)
        if prev is None or prev.size != size or prev.mtime != mtime:
            return None
        return prev if _stored_size(stored) == size else None

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


def _stored_size(path: StoragePath) -> int | None:
    try:
        size: int = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return None
    return size


def previous_attempts(out_dir: StoragePath) -> tuple[int, ResumeIndex | None]:
    """This attempt's number, and the index of what earlier attempts in ``out_dir``
    recorded (None when there is nothing to resume)."""
    parts = existing_parts(out_dir / PARTS_DIR)
    previous_summary = read_json(out_dir / SUMMARY_NAME) or {}
    manifest = out_dir / MANIFEST_NAME
    attempt = max([a for a, _s, _p in parts] + [int(previous_summary.get("attempt", 0))]) + 1
    sources: list[StoragePath] = ([manifest] if manifest.exists() else []) + [p for _a, _s, p in parts]
    if not sources:
        return attempt, None
    index = ResumeIndex()
    for src in sources:
        try:
            index.load(iter_manifest(src))
        except ManifestError as exc:  # e.g. a part cut short by a crash: use what parsed
            log.warning("ignoring the rest of %s: %s", src, exc)
    log.info("resuming: %d files recorded by previous attempts", index.count)
    return attempt, index
