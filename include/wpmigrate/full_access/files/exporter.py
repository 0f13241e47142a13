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
import queue
import stat as stat_mod
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import paramiko

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.files.export_ledger import ExportLedger
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    ManifestEntry,
)
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
    Skip,
    SkipRules,
    classify_entry,
)
from wpmigrate.full_access.progress_throttle import Progress

BIG_FILE = 16 * 1024 * 1024


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
        self.ledger = ExportLedger(out_dir, progress=progress, progress_seconds=progress_seconds,
                                   part_files=part_files, part_seconds=part_seconds)
        self.lock = self.ledger.lock
        self.big_slots = threading.BoundedSemaphore(max(1, big_file_slots))
        self.stop = threading.Event()
        self.sftp = SftpConnector(connect, retries=retries, backoff=backoff, io_timeout=io_timeout,
                                  connect_timeout=connect_timeout, stop=self.stop,
                                  on_reconnect=self.ledger.count_reconnect)
        self.errors: list[BaseException] = []
        self.queue: queue.Queue[_Item | None] = queue.Queue(maxsize=self.workers * 64)

    # ----------------------------------------------------------------- bookkeeping
    def remote(self, rel: str) -> str:
        if not rel:
            return self.root
        return f"/{rel}" if self.root == "/" else f"{self.root}/{rel}"

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
            self.ledger.note_skip(Skip("vanished", rel_dir or "."))
        except PermissionError as exc:
            self.ledger.note_skip(Skip("unreadable", rel_dir or ".", str(exc)))
        return subdirs

    def classify(self, rel_dir: str, raw: bytes, attr: paramiko.SFTPAttributes, subdirs: list[str]) -> None:
        mode = attr.st_mode
        rel = classify_entry(rel_dir, raw, mode, self.skip)
        if isinstance(rel, Skip):
            self.ledger.note_skip(rel)
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
        dest = self.ledger.destination(item.rel)
        prev = self.ledger.reusable(item.rel, item.size, item.mtime, dest)
        if prev is not None:
            entry = ManifestEntry(item.rel, item.size, item.mtime, prev.sha256, item.mode)
            self.ledger.record(entry, transferred=False)
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
            self.ledger.note_skip(Skip("vanished", item.rel))
            return
        except PermissionError as exc:
            self.ledger.note_skip(Skip("unreadable", item.rel, str(exc)))
            return
        it = current[0]
        self.ledger.record(ManifestEntry(item.rel, size, it.mtime, sha, it.mode), transferred=True)

    def fetch(self, client: paramiko.SFTPClient, item: _Item, dest: StoragePath) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        src = client.open(self.remote(item.rel), "rb")  # "r": SSH_FXF_READ only
        try:
            try:
                self.ledger.make_parent(dest)
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

    # ----------------------------------------------------------------- orchestration
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        attempt = self.ledger.prepare()
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
            self.ledger.close()
        error = walk_error or (self.errors[0] if self.errors else None)
        if error is not None:
            self.ledger.fail(error, "file export")
        return self.ledger.finish(attempt, started, source={"remote_root": self.root},
                                  extra={"skip_patterns": list(self.skip.patterns)})


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
