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
  The plugin serves nothing outside wp-content's real path and follows no symlink: a
  symlink's skip sample says where it leads, and ``symlinks_outside_wp_content`` names
  each one whose content is therefore not exported (an uploads folder linked elsewhere
  is reported, not silently missing).
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
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.companion.client import Chunk, CompanionClient, CompanionNotFound
from wpmigrate.full_access.companion.package import PLUGIN_DIR
from wpmigrate.full_access.companion.transfer import AdaptiveSize, HostLimits, host_limits, with_retries
from wpmigrate.full_access.files.export_ledger import ExportLedger
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    ManifestEntry,
    UnsafePath,
    safe_relpath,
)
from wpmigrate.full_access.files.skip_rules import DEFAULT_SKIP, SKIP_REASONS, Skip, SkipRules
from wpmigrate.full_access.progress_throttle import Progress

_FILE_TRIES = 3
OWN_DIR = f"plugins/{PLUGIN_DIR}"  # the plugin itself (and its secret) is never exported
# The plugin's word for a symlink whose content is not exported at all (e.g. a host's uploads
# folder linked elsewhere): each one is named in the summary, beyond the skip samples' limit.
OUTSIDE = "symlink leads outside wp-content"
_OUTSIDE_LIMIT = 1000


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
        self.chunk = AdaptiveSize(initial_chunk, minimum=64 << 10, maximum=limits.max_chunk_bytes,
                                  target_seconds=limits.target_seconds)
        # Listing pages hash files on the host: as much as a big chunk would read, at least 8 MiB.
        self.max_hash_bytes = max_hash_bytes or max(8 << 20, limits.max_chunk_bytes)
        self.ledger = ExportLedger(out_dir, progress=progress, progress_seconds=progress_seconds,
                                   part_files=part_files, part_seconds=part_seconds)
        self.lock = self.ledger.lock
        self.listing_pages = self.chunks = 0
        self.outside: list[str] = []
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

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
                self.listing_pages += 1
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
            # The plugin says why a symlink was not followed (``OUTSIDE``, or within wp-content).
            detail = self.skip(path.rstrip("/")) if reason == "excluded" else str(e.get("detail") or "")[:200]
            if reason == "symlinks" and detail == OUTSIDE and len(self.outside) < _OUTSIDE_LIMIT:
                self.outside.append(path)
            self.ledger.note_skip(Skip(reason if reason in SKIP_REASONS else "special", path, detail or ""))
            return None
        try:
            if safe_relpath(path) != path:
                raise UnsafePath(f"non-canonical path {path!r}")
        except UnsafePath as exc:
            self.ledger.note_skip(Skip("unsafe_names", path, str(exc)))
            return None
        pattern = self.skip(path)
        if pattern:  # the plugin should have pruned it; our rules decide
            self.ledger.note_skip(Skip("excluded", path, pattern))
            return None
        return e

    # ------------------------------------------------------------------ copying
    def process(self, e: dict[str, Any]) -> None:
        rel, size, mtime = e["path"], int(e["size"]), int(e["mtime"])
        mode = int(e.get("mode", 0o644))
        dest = self.ledger.destination(rel)
        prev = self.ledger.reusable(rel, size, mtime, dest)
        if prev is not None:
            self.ledger.record(ManifestEntry(rel, size, mtime, prev.sha256, mode), transferred=False)
            return
        expected: str | None = e.get("sha256")
        for attempt in range(_FILE_TRIES):
            try:
                got_size, got_mtime, sha = self.fetch(rel, dest, size)
            except CompanionNotFound:
                self.ledger.note_skip(Skip("vanished", rel))
                return
            except _Changed:
                self.ledger.count_reconnect()
                expected = None
                continue
            unchanged = got_size == size and (got_mtime is None or got_mtime == mtime)
            if expected and unchanged and sha != expected:
                if attempt == _FILE_TRIES - 1:
                    raise MigrationError(ErrorCode.EXPORT_FAILED, f"{rel}: sha256 differs from the source's",
                                         permanent=False, details={"path": rel})
                self.ledger.count_reconnect()
                continue
            stamp = got_mtime if got_mtime is not None else mtime
            self.ledger.record(ManifestEntry(rel, got_size, stamp, sha, mode), transferred=True)
            return
        raise MigrationError(ErrorCode.EXPORT_FAILED, f"{rel} kept changing during the export",
                             permanent=False, details={"path": rel})

    def fetch(self, rel: str, dest: StoragePath, listed_size: int) -> tuple[int, int | None, str]:
        self.ledger.make_parent(dest)
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
                    self.chunks += 1
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
        attempt = self.ledger.prepare()
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
            self.ledger.close()
        error = error or (self.errors[0] if self.errors else None)
        if error is not None:
            self.ledger.fail(error, "file export through the plugin")
        return self.ledger.finish(
            attempt, started,
            source={"route": "wp_admin", "remote_root": self.pre.get("wp_content_dir", "")},
            extra={"skip_patterns": list(self.skip.patterns), "symlinks_outside_wp_content": self.outside,
                   "requests": {"listing_pages": self.listing_pages, "chunks": self.chunks},
                   "chunk_size": {"final": self.chunk.value, "grown": self.chunk.grown,
                                  "shrunk": self.chunk.shrunk}})


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
