"""Export a source's wp-content over SFTP into the artifact store, resumably.

How it works:
- One walker (the calling thread, with its own SFTP session) lists one directory at
  a time (``sftp_pipeline.listdir_raw``) and feeds a bounded queue; ``workers``
  threads, each with its own session, download files from it. Memory is bounded by
  the queue, the directory stack and one directory's names, never by the tree size.
- What is not exported, and why, is decided by ``skip_rules``; the summary counts it
  per reason (``skipped.excluded`` counts the top-most excluded entries: a skipped
  directory counts once and is never listed) and samples it.
- Each file is streamed to ``out_dir/files/<path>`` while its sha256 is computed, with
  up to 64 READ requests in flight per worker (``sftp_pipeline.remote_chunks``); at
  most ``big_file_slots`` files of 16 MiB or more at once, so big videos do not
  starve the small files of CPU.
- Progress is persisted as manifest parts (``manifest_parts``); a retried export
  reuses what earlier attempts stored (``resume_index``).
- At the end this attempt's parts are merged into ``files-manifest.jsonl``, then
  ``files-summary.json`` is written (last: it marks a complete attempt; the caller
  should still use the returned summary), then the parts are deleted (best effort).
- Read-only on the source: only OPENDIR/READDIR/STAT/OPEN(read)/READ/CLOSE requests.
- A dropped connection is retried on a fresh session (``sftp_session``), then raised
  as ``EXPORT_FAILED`` (transient); the work done so far is kept for the next attempt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import stat as stat_mod
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paramiko

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    PARTS_DIR,
    SUMMARY_NAME,
    VERSION,
    ManifestEntry,
    write_lines,
)
from wpmigrate.full_access.files.manifest_parts import PartWriter, existing_parts
from wpmigrate.full_access.files.resume_index import ResumeIndex, previous_attempts
from wpmigrate.full_access.files.sftp_pipeline import close_async, listdir_raw, remote_chunks
from wpmigrate.full_access.files.sftp_session import (
    Session,
    SftpConnector,
    SftpFactory,
    SinkError,
    Stopped,
)
from wpmigrate.full_access.files.skip_rules import (
    DEFAULT_SKIP,
    SKIP_REASONS,
    Skip,
    SkipRules,
    classify_entry,
)
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle

BIG_FILE = 16 * 1024 * 1024
_SAMPLE_LIMIT = 200


@dataclass
class _Stats:
    files: int = 0
    bytes: int = 0
    transferred_files: int = 0
    transferred_bytes: int = 0
    resumed_files: int = 0
    resumed_bytes: int = 0
    reconnects: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    samples: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Item:
    rel: str
    size: int
    mtime: int
    mode: int


class _Exporter:
    def __init__(self, connect: SftpFactory, remote_root: str, out_dir: StoragePath, *, workers: int,
                 skip: Iterable[str], progress: Progress | None, retries: int, backoff: float,
                 part_files: int, part_seconds: float, progress_seconds: float, big_file_slots: int,
                 io_timeout: float, connect_timeout: float) -> None:
        self.root = remote_root.rstrip("/") or "/"
        self.out_dir = out_dir
        self.files_root = out_dir / FILES_DIR
        self.workers = max(1, workers)
        self.skip = SkipRules(skip)
        self.part_files, self.part_seconds = part_files, part_seconds
        self.stats = _Stats()
        self.big_slots = threading.BoundedSemaphore(max(1, big_file_slots))
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sftp = SftpConnector(connect, retries=retries, backoff=backoff, io_timeout=io_timeout,
                                  connect_timeout=connect_timeout, stop=self.stop,
                                  on_reconnect=self.count_reconnect)
        self.progress = ProgressThrottle(progress, progress_seconds, self.lock)
        self.errors: list[BaseException] = []
        self.queue: queue.Queue[_Item | None] = queue.Queue(maxsize=self.workers * 64)
        self.made_dirs: set[str] = set()
        self.index: ResumeIndex | None = None
        self.parts: PartWriter | None = None

    # ----------------------------------------------------------------- bookkeeping
    def remote(self, rel: str) -> str:
        if not rel:
            return self.root
        return f"/{rel}" if self.root == "/" else f"{self.root}/{rel}"

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

    # ----------------------------------------------------------------- walking
    def put(self, item: _Item | None) -> None:
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def walk(self) -> None:
        session = self.sftp.session()
        try:
            try:
                root_attr = session.run(self.root, lambda c, _a: c.stat(self.root))
            except (FileNotFoundError, PermissionError) as exc:
                raise MigrationError(ErrorCode.EXPORT_FAILED, f"cannot read {self.root} on the source: {exc}",
                                     permanent=True) from exc
            if not stat_mod.S_ISDIR(root_attr.st_mode or 0):
                raise MigrationError(ErrorCode.EXPORT_FAILED, f"{self.root} is not a directory on the source")
            stack = [""]
            while stack:
                rel_dir = stack.pop()
                subdirs = self.walk_dir(session, rel_dir)
                stack.extend(sorted(subdirs, reverse=True))  # depth-first, alphabetical
        finally:
            session.drop()

    def walk_dir(self, session: Session, rel_dir: str) -> list[str]:
        seen: set[bytes] = set()  # names already handled: a re-listing after a drop skips them
        subdirs: list[str] = []

        def listing(client: paramiko.SFTPClient, _attempt: int) -> None:
            for raw, attr in listdir_raw(client, self.remote(rel_dir)):
                if raw in seen:
                    continue
                seen.add(raw)
                self.classify(rel_dir, raw, attr, subdirs)

        try:
            session.run(self.remote(rel_dir), listing)
        except FileNotFoundError:
            self.note_skip(Skip("vanished", rel_dir or "."))
        except PermissionError as exc:
            self.note_skip(Skip("unreadable", rel_dir or ".", str(exc)))
        return subdirs

    def classify(self, rel_dir: str, raw: bytes, attr: paramiko.SFTPAttributes, subdirs: list[str]) -> None:
        mode = attr.st_mode
        rel = classify_entry(rel_dir, raw, mode, self.skip)
        if isinstance(rel, Skip):
            self.note_skip(rel)
        elif stat_mod.S_ISDIR(mode or 0):
            subdirs.append(rel)
        else:
            self.put(_Item(rel, attr.st_size or 0, int(attr.st_mtime or 0), stat_mod.S_IMODE(mode or 0)))

    # ----------------------------------------------------------------- transferring
    def work(self) -> None:
        session = self.sftp.session()
        try:
            while not self.stop.is_set():
                try:
                    item = self.queue.get(timeout=0.2)  # a timeout: the walker may die without a sentinel
                except queue.Empty:
                    continue
                if item is None:
                    return
                self.process(session, item)
        except Stopped:
            pass
        except BaseException as exc:
            with self.lock:
                self.errors.append(exc)
            self.stop.set()
        finally:
            session.drop()

    def process(self, session: Session, item: _Item) -> None:
        dest = self.files_root / item.rel
        prev = self.index.reusable(item.rel, item.size, item.mtime, dest) if self.index else None
        if prev is not None:
            entry = ManifestEntry(item.rel, item.size, item.mtime, prev.sha256, item.mode)
            self.record(entry, transferred=False)
            return
        current = [item]

        def fetch(client: paramiko.SFTPClient, attempt: int) -> tuple[int, str]:
            if attempt:  # the file may have changed or gone while we were reconnecting
                a = client.stat(self.remote(item.rel))
                mode = a.st_mode or 0
                if not stat_mod.S_ISREG(mode):
                    raise FileNotFoundError(f"{item.rel} is no longer a regular file")
                current[0] = _Item(item.rel, a.st_size or 0, int(a.st_mtime or 0), stat_mod.S_IMODE(mode))
            if current[0].size < BIG_FILE:
                return self.fetch(client, current[0], dest)
            with self.big_slots:
                return self.fetch(client, current[0], dest)

        try:
            size, sha = session.run(item.rel, fetch)
        except FileNotFoundError:
            self.note_skip(Skip("vanished", item.rel))
            return
        except PermissionError as exc:
            self.note_skip(Skip("unreadable", item.rel, str(exc)))
            return
        it = current[0]
        self.record(ManifestEntry(item.rel, size, it.mtime, sha, it.mode), transferred=True)

    def fetch(self, client: paramiko.SFTPClient, item: _Item, dest: StoragePath) -> tuple[int, str]:
        parent = dest.parent
        key = str(parent)
        digest = hashlib.sha256()
        size = 0
        src = client.open(self.remote(item.rel), "rb")  # "r": SSH_FXF_READ only
        try:
            try:
                if key not in self.made_dirs:
                    parent.mkdir(parents=True, exist_ok=True)
                    with self.lock:
                        self.made_dirs.add(key)
                out = dest.open("wb")
            except OSError as exc:
                raise SinkError(f"cannot write {dest}: {exc}") from exc
            ok = False
            try:
                for data in remote_chunks(client, src, item.size):
                    digest.update(data)
                    size += len(data)
                    try:
                        out.write(data)
                    except OSError as exc:
                        raise SinkError(f"cannot write {dest}: {exc}") from exc
                ok = True
            finally:
                try:
                    out.close()
                except OSError as exc:
                    if ok:
                        raise SinkError(f"cannot write {dest}: {exc}") from exc
                if not ok:  # no record points at it; remove the partial copy if we can
                    with contextlib.suppress(Exception):
                        dest.unlink()
        finally:
            close_async(src)
        return size, digest.hexdigest()

    def record(self, entry: ManifestEntry, *, transferred: bool) -> None:
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

    # ----------------------------------------------------------------- orchestration
    def prepare(self) -> int:
        """Load what previous attempts stored; return this attempt's number."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        attempt, self.index = previous_attempts(self.out_dir)
        parts_dir = self.out_dir / PARTS_DIR
        parts_dir.mkdir(parents=True, exist_ok=True)
        self.parts = PartWriter(parts_dir, attempt, self.part_files, self.part_seconds)
        return attempt

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        attempt = self.prepare()
        assert self.parts is not None
        threads = [threading.Thread(target=self.work, name=f"wpmigrate-sftp-{i}", daemon=True)
                   for i in range(self.workers)]
        for t in threads:
            t.start()
        walk_error: BaseException | None = None
        try:
            self.walk()
            for _ in threads:
                self.put(None)
        except Stopped:
            pass
        except BaseException as exc:
            walk_error = exc
            self.stop.set()
        finally:
            for t in threads:
                t.join()
            self.parts.flush()  # keep what this attempt finished, even when failing
            if self.index:
                self.index.close()
        error = walk_error or (self.errors[0] if self.errors else None)
        if error is not None:
            self.emit(force=True)
            if isinstance(error, MigrationError):
                error.details.setdefault("stored_files", self.stats.files)
                raise error
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"file export failed: {type(error).__name__}: "
                                 f"{error}", permanent=False) from error
        return self.finish(attempt, started)

    def finish(self, attempt: int, started: float) -> dict[str, Any]:
        assert self.parts is not None
        parts = list(self.parts.written)

        def lines() -> Iterator[bytes]:
            for part in parts:
                with part.open("rb") as fh:
                    yield from fh

        count, manifest_sha = write_lines(self.out_dir / MANIFEST_NAME, lines())
        if count != self.stats.files:
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"manifest has {count} records, expected "
                                 f"{self.stats.files}", permanent=False)
        s = self.stats
        summary: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "attempt": attempt,
            "remote_root": self.root,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 3),
            "manifest": MANIFEST_NAME, "manifest_sha256": manifest_sha, "files_dir": FILES_DIR,
            "files": s.files, "bytes": s.bytes,
            "transferred_files": s.transferred_files, "transferred_bytes": s.transferred_bytes,
            "resumed_files": s.resumed_files, "resumed_bytes": s.resumed_bytes,
            "reconnects": s.reconnects,
            "skipped": dict(s.skipped), "skipped_samples": list(s.samples),
            "skip_patterns": list(self.skip.patterns),
        }
        with (self.out_dir / SUMMARY_NAME).open("wb") as fh:
            fh.write(json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
        # The manifest now holds everything; parts of every attempt are redundant.
        for _a, _s, part in existing_parts(self.out_dir / PARTS_DIR):
            with contextlib.suppress(Exception):
                part.unlink()
        self.emit(force=True)
        return summary


def export_files(
    connect: SftpFactory,
    remote_root: str,
    out_dir: StoragePath,
    *,
    workers: int = 4,
    skip: Iterable[str] = DEFAULT_SKIP,
    progress: Progress | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    part_files: int = 500,
    part_seconds: float = 5.0,
    progress_seconds: float = 2.0,
    big_file_slots: int = 2,
    io_timeout: float = 120.0,
    connect_timeout: float = 60.0,
) -> dict[str, Any]:
    """Copy the source's wp-content (``remote_root``) into ``out_dir``; return the summary.

    ``connect`` must return a new, connected ``SFTPClient`` on its own SSH connection
    at every call (it is called once per worker, plus once for the walker, and again
    after a drop); the export closes the client and its transport when done with it.
    ``progress`` receives small dicts from worker threads, at most every
    ``progress_seconds`` (calls are serialised).

    Raises ``MigrationError``: ``EXPORT_FAILED`` (``permanent=False`` after the
    retries on dropped connections; what was stored is reused by the next call),
    ``INVALID_CREDENTIALS`` if authentication fails.
    """
    exporter = _Exporter(connect, remote_root, out_dir, workers=workers, skip=skip, progress=progress,
                         retries=retries, backoff=backoff, part_files=part_files,
                         part_seconds=part_seconds, progress_seconds=progress_seconds,
                         big_file_slots=big_file_slots, io_timeout=io_timeout,
                         connect_timeout=connect_timeout)
    return exporter.run()
