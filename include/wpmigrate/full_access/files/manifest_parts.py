"""An export attempt's progress log: manifest *parts*, written while files are copied.

S3 cannot append, and a crashed attempt must leave what it finished: records are
buffered and written as a new object ``files-manifest.parts/a<attempt>-<seq>.jsonl``
every ``every_files`` records or ``every_seconds``. A record is added only after its
file is completely stored. The finished export merges the parts into the manifest.
"""

from __future__ import annotations

import re
import threading
import time

from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.files.manifest import ManifestEntry, write_lines

_PART_RE = re.compile(r"^a(\d{5})-(\d{6})\.jsonl$")


class PartWriter:
    """Buffers records and writes them as a new part object every N records / T seconds."""

    def __init__(self, parts_dir: StoragePath, attempt: int, every_files: int, every_seconds: float) -> None:
        self.parts_dir, self.attempt = parts_dir, attempt
        self.every_files, self.every_seconds = max(1, every_files), every_seconds
        self._buf: list[bytes] = []
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.written: list[StoragePath] = []

    def add(self, entry: ManifestEntry) -> None:
        with self._lock:
            self._buf.append(entry.to_line())
            if len(self._buf) >= self.every_files or time.monotonic() - self._last >= self.every_seconds:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._last = time.monotonic()
        if not self._buf:
            return
        part = self.parts_dir / f"a{self.attempt:05d}-{len(self.written) + 1:06d}.jsonl"
        write_lines(part, self._buf)
        self.written.append(part)
        self._buf = []


def existing_parts(parts_dir: StoragePath) -> list[tuple[int, int, StoragePath]]:
    """``(attempt, sequence, path)`` of every part in ``parts_dir``, oldest first."""
    if not parts_dir.exists():
        return []
    found = []
    for p in parts_dir.iterdir():
        m = _PART_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), p))
    return sorted(found, key=lambda t: (t[0], t[1]))
