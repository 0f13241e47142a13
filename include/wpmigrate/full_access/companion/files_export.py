"""wp-content through the companion plugin, into the artifacts ``export_files`` writes.

Same layout and formats (``files.manifest``): each file at ``<out_dir>/files/<path>``,
``files-manifest.jsonl``, ``files-summary.json`` last; progress as manifest parts
(``manifest_parts``) and a retried export reuses what earlier attempts stored
(``resume_index``: same size and mtime as listed now, stored copy of that size).

- The listing (``files`` action) comes in pages, a deterministic depth-first walk that
  resumes after the last path of the previous page; the plugin prunes the skip
  patterns (``skip_rules``, applied again here, so the same rules decide as on the
  SFTP route), lists symlinks and special files as skipped, and hashes the files it
  lists while its time allows; a bigger file comes without sha256 and is hashed here.
- Each file comes as byte-range chunks (``file`` action), each checked against the
  plugin's sha256 of that chunk, and the whole file against the listing's size, mtime
  and sha256. A file that changed during the transfer is fetched again (twice at most).
- Chunk sizes adapt (``transfer.AdaptiveSize``). ``workers`` threads download at once;
  memory is bounded by one chunk per worker and a bounded queue of listed entries.
- Resumable at file granularity: a file cut short by a failure is fetched again whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.companion.client import Chunk, CompanionClient, CompanionNotFound
from wpmigrate.full_access.companion.package import PLUGIN_DIR
from wpmigrate.full_access.companion.transfer import AdaptiveSize, HostLimits, host_limits, with_retries
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    PARTS_DIR,
    SUMMARY_NAME,
    VERSION,
    ManifestEntry,
    UnsafePath,
    safe_relpath,
    write_lines,
)
from wpmigrate.full_access.files.manifest_parts import PartWriter, existing_parts
from wpmigrate.full_access.files.resume_index import ResumeIndex, previous_attempts
from wpmigrate.full_access.files.skip_rules import DEFAULT_SKIP, SKIP_REASONS, Skip, SkipRules
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle

_SAMPLE_LIMIT = 200
_FILE_TRIES = 3
OWN_DIR = f"plugins/{PLUGIN_DIR}"  # the plugin itself (and its secret) is never exported


class _Changed(Exception):
    """The file changed while it was being copied."""


class _Exporter:
    def __init__(self, client: CompanionClient, out_dir: StoragePath, *, pre: dict[str, Any],
                 limits: HostLimits, skip: tuple[str, ...], workers: int, list_limit: int,
                 initial_chunk: int, max_hash_bytes: int | None, attempts: int, backoff: float,
                 part_files: int, part_seconds: float, progress: Progress | None,
                 progress_seconds: float) -> None:
        self.client, self.out_dir, self.pre = client, out_dir, pre
        self.files_root = out_dir / FILES_DIR
        self.skip = SkipRules(skip)
        self.workers, self.list_limit = max(1, workers), list_limit
        self.attempts, self.backoff = attempts, backoff
        self.part_files, self.part_seconds = part_files, part_seconds
        self.chunk = AdaptiveSize(initial_chunk, minimum=64 << 10, maximum=limits.max_chunk_bytes,
                                  target_seconds=limits.target_seconds)
        # Listing pages hash files on the host: as much as a big chunk would read, at least 8 MiB.
        self.max_hash_bytes = max_hash_bytes or max(8 << 20, limits.max_chunk_bytes)
        self.lock = threading.Lock()
        self.stats: dict[str, Any] = {
            "files": 0, "bytes": 0, "transferred_files": 0, "transferred_bytes": 0,
            "resumed_files": 0, "resumed_bytes": 0, "retries": 0, "listing_pages": 0, "chunks": 0,
            "skipped": dict.fromkeys(SKIP_REASONS, 0), "samples": []}
        self.progress = ProgressThrottle(progress, progress_seconds, self.lock)
        self.made_dirs: set[str] = set()
        self.index: ResumeIndex | None = None
        self.parts: PartWriter | None = None
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    # ------------------------------------------------------------------ bookkeeping
    def note_skip(self, skip: Skip) -> None:
        with self.lock:
            self.stats["skipped"][skip.reason] += 1
            if len(self.stats["samples"]) < _SAMPLE_LIMIT:
                sample = {"path": skip.path, "reason": skip.reason}
                if skip.detail:
                    sample["detail"] = skip.detail
                self.stats["samples"].append(sample)

    def emit(self, current: str = "", force: bool = False) -> None:
        def event() -> dict[str, Any]:
            s = self.stats
            return {"phase": "export_files", "files": s["files"], "bytes": s["bytes"],
                    "transferred_files": s["transferred_files"], "transferred_bytes": s["transferred_bytes"],
                    "resumed_files": s["resumed_files"], "skipped": sum(s["skipped"].values()),
                    "current": current}
        self.progress(event, force=force)

    def record(self, entry: ManifestEntry, *, transferred: bool) -> None:
        assert self.parts is not None
        self.parts.add(entry)
        with self.lock:
            s = self.stats
            s["files"] += 1
            s["bytes"] += entry.size
            kind = "transferred" if transferred else "resumed"
            s[f"{kind}_files"] += 1
            s[f"{kind}_bytes"] += entry.size
        self.emit(entry.path)

    def retried(self) -> None:
        with self.lock:
            self.stats["retries"] += 1

    # ------------------------------------------------------------------ listing
    def listing(self) -> Any:
        after: str | None = None
        while True:
            def call(after: str | None = after) -> dict[str, Any]:
                return self.client.files(limit=self.list_limit, max_hash_bytes=self.max_hash_bytes,
                                         after=after, skip=list(self.skip.patterns))
            page = with_retries(call, sizes=[], what="the file listing", attempts=self.attempts,
                                backoff=self.backoff)
            with self.lock:
                self.stats["listing_pages"] += 1
            yield from page["entries"]
            if page["next"] is None:
                return
            after = str(page["next"])

    def classify(self, e: dict[str, Any]) -> dict[str, Any] | None:
        """The entry to copy, or None (skipped and counted)."""
        path = e.get("path")
        if not isinstance(path, str):
            raise MigrationError(ErrorCode.EXPORT_FAILED, "the plugin listed an entry without a path",
                                 permanent=False)
        if path == OWN_DIR or path.startswith(OWN_DIR + "/"):
            return None
        reason = e.get("skipped")
        if reason:
            if reason == "excluded" and e.get("dir"):
                path += "/"
            pattern = self.skip(path.rstrip("/")) if reason == "excluded" else None
            self.note_skip(Skip(reason if reason in SKIP_REASONS else "special", path, pattern or ""))
            return None
        try:
            if safe_relpath(path) != path:
                raise UnsafePath(f"non-canonical path {path!r}")
        except UnsafePath as exc:
            self.note_skip(Skip("unsafe_names", path, str(exc)))
            return None
        pattern = self.skip(path)
        if pattern:  # the plugin should have pruned it; our rules decide
            self.note_skip(Skip("excluded", path, pattern))
            return None
        return e

    # ------------------------------------------------------------------ copying
    def process(self, e: dict[str, Any]) -> None:
        rel, size, mtime = e["path"], int(e["size"]), int(e["mtime"])
        mode = int(e.get("mode", 0o644))
        dest = self.files_root / rel
        prev = self.index.reusable(rel, size, mtime, dest) if self.index else None
        if prev is not None:
            self.record(ManifestEntry(rel, size, mtime, prev.sha256, mode), transferred=False)
            return
        expected: str | None = e.get("sha256")
        for attempt in range(_FILE_TRIES):
            try:
                got_size, got_mtime, sha = self.fetch(rel, dest, size)
            except CompanionNotFound:
                self.note_skip(Skip("vanished", rel))
                return
            except _Changed:
                self.retried()
                expected = None
                continue
            unchanged = got_size == size and (got_mtime is None or got_mtime == mtime)
            if expected and unchanged and sha != expected:
                if attempt == _FILE_TRIES - 1:
                    raise MigrationError(ErrorCode.EXPORT_FAILED, f"{rel}: sha256 differs from the source's",
                                         permanent=False, details={"path": rel})
                self.retried()
                continue
            stamp = got_mtime if got_mtime is not None else mtime
            self.record(ManifestEntry(rel, got_size, stamp, sha, mode), transferred=True)
            return
        raise MigrationError(ErrorCode.EXPORT_FAILED, f"{rel} kept changing during the export",
                             permanent=False, details={"path": rel})

    def fetch(self, rel: str, dest: StoragePath, listed_size: int) -> tuple[int, int | None, str]:
        parent = dest.parent
        if str(parent) not in self.made_dirs:
            parent.mkdir(parents=True, exist_ok=True)
            with self.lock:
                self.made_dirs.add(str(parent))
        digest = hashlib.sha256()
        offset = 0
        file_size: int | None = None
        mtime: int | None = None
        ok = False
        out = dest.open("wb")
        try:
            while True:
                if self.stop.is_set():
                    raise _Stopped
                at = offset

                def call(at: int = at) -> Chunk:
                    return self.client.chunk(rel, at, self.chunk.value)
                piece = with_retries(call, sizes=[self.chunk], what=f"{rel} at {at}", attempts=self.attempts,
                                     backoff=self.backoff, used=lambda c: len(c.data))
                with self.lock:
                    self.stats["chunks"] += 1
                if file_size is None:
                    file_size, mtime = piece.file_size, piece.mtime
                elif piece.file_size != file_size or piece.mtime != mtime:
                    raise _Changed
                if not piece.data and offset < file_size:
                    raise _Changed  # shorter than it said
                out.write(piece.data)
                digest.update(piece.data)
                offset += len(piece.data)
                if offset >= file_size:
                    break
            ok = offset == file_size
            if not ok:
                raise _Changed
        finally:
            out.close()
            if not ok:
                with contextlib.suppress(Exception):
                    dest.unlink()
        return offset, mtime, digest.hexdigest()

    # ------------------------------------------------------------------ orchestration
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        attempt, self.index = previous_attempts(self.out_dir)
        parts_dir = self.out_dir / PARTS_DIR
        parts_dir.mkdir(parents=True, exist_ok=True)
        self.parts = PartWriter(parts_dir, attempt, self.part_files, self.part_seconds)
        slots = threading.BoundedSemaphore(self.workers * 4)
        error: BaseException | None = None

        def work(e: dict[str, Any]) -> None:
            try:
                if not self.stop.is_set():
                    self.process(e)
            except _Stopped:
                pass
            except BaseException as exc:
                with self.lock:
                    self.errors.append(exc)
                self.stop.set()
            finally:
                slots.release()

        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="wpmigrate-companion")
        futures: list[Future[None]] = []
        try:
            for raw in self.listing():
                if self.stop.is_set():
                    break
                e = self.classify(raw)
                if e is None:
                    continue
                slots.acquire()
                futures.append(pool.submit(work, e))
                futures = [f for f in futures if not f.done()]
        except BaseException as exc:
            error = exc
            self.stop.set()
        finally:
            pool.shutdown(wait=True)
            self.parts.flush()  # keep what this attempt finished, even when failing
            if self.index:
                self.index.close()
        error = error or (self.errors[0] if self.errors else None)
        if error is not None:
            self.emit(force=True)
            if isinstance(error, MigrationError):
                error.details.setdefault("stored_files", self.stats["files"])
                raise error
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"file export through the plugin failed: "
                                 f"{type(error).__name__}: {error}", permanent=False) from error
        return self.finish(attempt, started)

    def finish(self, attempt: int, started: float) -> dict[str, Any]:
        assert self.parts is not None
        parts = list(self.parts.written)

        def lines() -> Any:
            for part in parts:
                with part.open("rb") as fh:
                    yield from fh

        count, manifest_sha = write_lines(self.out_dir / MANIFEST_NAME, lines())
        s = self.stats
        if count != s["files"]:
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"manifest has {count} records, expected "
                                 f"{s['files']}", permanent=False)
        summary: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "attempt": attempt,
            "route": "wp_admin", "remote_root": self.pre.get("wp_content_dir", ""),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 3),
            "manifest": MANIFEST_NAME, "manifest_sha256": manifest_sha, "files_dir": FILES_DIR,
            "files": s["files"], "bytes": s["bytes"],
            "transferred_files": s["transferred_files"], "transferred_bytes": s["transferred_bytes"],
            "resumed_files": s["resumed_files"], "resumed_bytes": s["resumed_bytes"],
            "reconnects": s["retries"],
            "skipped": dict(s["skipped"]), "skipped_samples": list(s["samples"]),
            "skip_patterns": list(self.skip.patterns),
            "requests": {"listing_pages": s["listing_pages"], "chunks": s["chunks"]},
            "chunk_size": {"final": self.chunk.value, "grown": self.chunk.grown, "shrunk": self.chunk.shrunk},
        }
        with (self.out_dir / SUMMARY_NAME).open("wb") as fh:
            fh.write(json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
        for _a, _s, part in existing_parts(self.out_dir / PARTS_DIR):
            with contextlib.suppress(Exception):
                part.unlink()
        self.emit(force=True)
        return summary


class _Stopped(Exception):
    """Another worker failed: stop copying."""


def export_files_via_companion(
    client: CompanionClient,
    out_dir: StoragePath,
    *,
    preflight: dict[str, Any] | None = None,
    limits: HostLimits | None = None,
    skip: tuple[str, ...] = DEFAULT_SKIP,
    workers: int = 3,
    list_limit: int = 1000,
    initial_chunk: int = 256 << 10,
    max_hash_bytes: int | None = None,
    attempts: int = 8,
    backoff: float = 0.5,
    part_files: int = 500,
    part_seconds: float = 5.0,
    progress: Progress | None = None,
    progress_seconds: float = 2.0,
) -> dict[str, Any]:
    """Copy the source's wp-content through the plugin into ``out_dir``; return the summary
    (the same as ``files.exporter.export_files`` returns, plus ``route``, ``requests`` and
    ``chunk_size``). ``max_hash_bytes``: how much the plugin hashes per listing page (files
    bigger than that are hashed here from their chunks); default from the host's limits.

    Raises ``MigrationError``: ``INVALID_CREDENTIALS`` (plugin refused or timed out),
    ``EXPORT_FAILED`` (transient after retries; what was stored is reused next time)."""
    pre = preflight or client.preflight()
    exporter = _Exporter(client, out_dir, pre=pre, limits=limits or host_limits(pre), skip=tuple(skip),
                         workers=workers, list_limit=list_limit, initial_chunk=initial_chunk,
                         max_hash_bytes=max_hash_bytes, attempts=attempts, backoff=backoff,
                         part_files=part_files, part_seconds=part_seconds, progress=progress,
                         progress_seconds=progress_seconds)
    return exporter.run()
