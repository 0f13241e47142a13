"""Export a source's wp-content over SFTP into the artifact store, resumably.

How it works:
- One walker (the calling thread, with its own SFTP session) lists one directory at
  a time with raw ``READDIR`` requests and feeds a bounded queue; ``workers`` threads,
  each with its own session from ``connect``, download files from it. Memory is
  bounded by the queue, the directory stack and one directory's names, never by the
  tree size.
- Each file is streamed to ``out_dir/files/<path>`` while its sha256 is computed, with
  up to 64 READ requests (2 MiB) in flight per worker (see ``_remote_chunks`` for why
  not paramiko's ``prefetch``); at most ``big_file_slots`` files of 16 MiB or more at
  once, so big videos do not starve the small files of CPU.
- Progress is persisted as numbered manifest *parts* (``files-manifest.parts/
  a<attempt>-<seq>.jsonl``, a new object every ``part_files`` records or
  ``part_seconds``): S3 cannot append, and a crashed attempt must leave what it
  finished. A record is written only after its file is completely stored.
- A retried export reads the previous parts and manifest into a temporary SQLite
  index (on local disk, not in memory) and reuses a stored file when the source's
  size and mtime equal the recorded ones and the stored object has the recorded
  size (the rsync quick check: reading the source to hash it would cost the
  transfer we want to avoid). The record, with its sha256, is carried over.
- At the end this attempt's parts are merged into ``files-manifest.jsonl``, then
  ``files-summary.json`` is written (last: it marks a complete attempt; the caller
  should still use the returned summary), then the parts are deleted (best effort).
  ``skipped.excluded`` counts the top-most excluded entries: a skipped directory
  counts once and is never listed.
- Read-only on the source: only OPENDIR/READDIR/STAT/OPEN(read)/READ/CLOSE requests.
- Symlinks and special files are never followed or copied (a symlink could point
  anywhere on the source host); they are counted and sampled in the summary, as are
  names we refuse (``..``, backslash, NUL, not UTF-8).
- A dropped connection is retried ``retries`` times per operation with exponential
  backoff on a fresh session, then raised as ``EXPORT_FAILED`` (transient); the
  work done so far is kept for the next attempt.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import queue
import re
import socket
import sqlite3
import stat as stat_mod
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_DATA,
    CMD_HANDLE,
    CMD_NAME,
    CMD_OPENDIR,
    CMD_READ,
    CMD_READDIR,
    CMD_STATUS,
    SFTPError,
    int64,
)

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.files.manifest import (
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    PARTS_DIR,
    SUMMARY_NAME,
    VERSION,
    ManifestEntry,
    ManifestError,
    StoragePath,
    UnsafePath,
    iter_manifest,
    read_json,
    safe_name,
    write_lines,
)

log = logging.getLogger(__name__)

SftpFactory = Callable[[], paramiko.SFTPClient]
Progress = Callable[[dict[str, Any]], None]

# Patterns are matched against the path relative to wp-content, component by
# component (fnmatch, case-sensitive; ``*`` never crosses ``/``); ``**`` matches any
# number of components. A matching directory is not even listed.
DEFAULT_SKIP: tuple[str, ...] = (
    # Caches: rebuilt by their plugins on the target; stale copies can serve old pages.
    "cache", "et-cache", "litespeed", "wflogs",
    # Core updater scratch space (WordPress itself empties it).
    "upgrade", "upgrade-temp-backup",
    # Backup plugins' archives: often larger than the site, and a copy of the site.
    "backup*", "ai1wm-backups", "updraft", "wpvividbackups",
    "uploads/backwpup-*", "uploads/backupbuddy_backups", "uploads/pb_backupbuddy",
    # Logs at the top level (WP_DEBUG_LOG writes debug.log here).
    "*.log",
    # Drop-ins bound to the source host's cache backend: on a host without that
    # backend they take the site down; the platform installs its own.
    "object-cache.php", "advanced-cache.php",
    # Managed hosts' must-use plugins, which only work on their own platform.
    "mu-plugins/wpengine-common", "mu-plugins/wpe-*", "mu-plugins/kinsta-mu-plugins*",
    "mu-plugins/gd-system-plugin*", "mu-plugins/endurance-*",
    # Version control metadata and desktop junk, anywhere: never used by WordPress.
    "**/.git", "**/.svn", "**/.hg", "**/.DS_Store",
)
# Deliberately NOT skipped: node_modules (some plugins enqueue assets from it),
# uploads/*/cache-like plugin folders (can hold generated-but-referenced files),
# *.log below the top level (a plugin may ship one). Losing a file the site uses is
# worse than copying a few extra megabytes.

_REQUEST = 32 * 1024  # READ size every server accepts (paramiko's MAX_REQUEST_SIZE)
_READ_AHEAD = 64  # READs in flight per worker: 2 MiB, paramiko's default channel window
BIG_FILE = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
_SAMPLE_LIMIT = 200


# --------------------------------------------------------------------------- skip rules

class SkipRules:
    """Compiled skip patterns (see ``DEFAULT_SKIP``)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._anchored: dict[int, list[tuple[str, ...]]] = {}
        anywhere: list[str] = []
        self._general: list[tuple[str, ...]] = []
        for pattern in self.patterns:
            parts = tuple(p for p in pattern.strip("/").split("/") if p)
            if not parts:
                continue
            if "**" not in parts:
                self._anchored.setdefault(len(parts), []).append(parts)
            elif parts[0] == "**" and len(parts) == 2 and parts[1] != "**":
                anywhere.append(parts[1])
            else:
                self._general.append(parts)
        # One regex for the "anywhere" basenames: checked for every entry, so keep it cheap.
        self._anywhere = re.compile("|".join(fnmatch.translate(p) for p in anywhere)) if anywhere else None

    def __call__(self, rel: str) -> str | None:
        """Return the matching pattern, or None."""
        parts = rel.split("/")
        if self._anywhere is not None and self._anywhere.match(parts[-1]):
            return "**/" + parts[-1]
        for cand in self._anchored.get(len(parts), ()):
            if all(fnmatch.fnmatchcase(p, c) for p, c in zip(parts, cand, strict=True)):
                return "/".join(cand)
        for cand in self._general:
            if _match_parts(tuple(parts), cand):
                return "/".join(cand)
        return None


def _match_parts(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match_parts(parts[1:], pattern[1:])


# --------------------------------------------------------------------------- SFTP helpers

def _listdir_raw(sftp: paramiko.SFTPClient, path: str) -> Iterator[tuple[bytes, paramiko.SFTPAttributes]]:
    """Yield (raw name, lstat attributes) of a remote directory, one READDIR batch at a time.

    paramiko's ``listdir_iter`` decodes names as strict UTF-8, so a single Latin-1
    file name (common on old sites) would abort the whole listing; here names stay
    bytes and the caller decides. Uses paramiko's internal ``_request``.
    """
    t, msg = sftp._request(CMD_OPENDIR, path)
    if t != CMD_HANDLE:
        raise SFTPError("Expected handle")
    handle = msg.get_binary()
    try:
        while True:
            try:
                t, msg = sftp._request(CMD_READDIR, handle)
            except EOFError:  # SSH_FX_EOF status: end of directory (a dropped link is SSHException)
                return
            if t != CMD_NAME:
                raise SFTPError("Expected name")
            for _ in range(msg.get_int()):
                raw = msg.get_binary()
                msg.get_binary()  # longname
                attr = paramiko.SFTPAttributes._from_msg(msg)
                if raw not in (b".", b".."):
                    yield raw, attr
    finally:
        with contextlib.suppress(Exception):
            sftp._request(CMD_CLOSE, handle)


def _close_client(client: paramiko.SFTPClient | None) -> None:
    """Close the SFTP channel and its SSH connection (each factory call made its own)."""
    if client is None:
        return
    transport = None
    with contextlib.suppress(Exception):
        transport = client.get_channel().get_transport()
    with contextlib.suppress(Exception):
        client.close()
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.close()


class _Replies:
    """Receives the READ replies paramiko dispatches while we wait (its async-reply protocol)."""

    def __init__(self) -> None:
        self.replies: dict[int, tuple[int, Message]] = {}

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self.replies[num] = (t, msg)


def _remote_chunks(sftp: paramiko.SFTPClient, src: paramiko.SFTPFile, size: int) -> Iterator[bytes]:
    """The remote file's bytes, with up to ``_READ_AHEAD`` READ requests in flight.

    paramiko's ``prefetch`` is not used: unbounded it requests the whole file at once
    (closing early then buffers every outstanding reply: gigabytes for a big video);
    bounded, its helper thread races the reader and, under the GIL with several
    workers, throughput collapsed to a few MB/s in our benchmark. Here the calling
    thread sends the requests and reads the replies itself (paramiko's internal
    ``_async_request``/``_read_response``, the same ones ``prefetch`` uses); memory
    is at most ``_READ_AHEAD`` x 32 KiB per worker.

    One extra READ at the listed size goes out with the others: its EOF ends the
    file without another round trip (a small file costs OPEN, READs, CLOSE), and
    data there means the file grew since it was listed, so we read on to EOF.
    """
    replies = _Replies()
    pending: deque[tuple[int, int, int]] = deque()  # (request number, offset, length)
    offset = 0
    probe_sent = False
    while True:
        while len(pending) < _READ_AHEAD and not probe_sent:
            length = min(_REQUEST, size - offset) if offset < size else _REQUEST
            probe_sent = offset >= size
            num = sftp._async_request(replies, CMD_READ, src.handle, int64(offset), length)
            pending.append((num, offset, length))
            offset += length
        if not pending:
            return
        num, at, length = pending.popleft()
        while num not in replies.replies:
            sftp._read_response()  # one reply, dispatched to its owner; SSHException if the link dropped
        t, msg = replies.replies.pop(num)
        if t == CMD_STATUS:
            try:
                sftp._convert_status(msg)
            except EOFError:  # the end (the probe, or a file that shrank); later replies are EOF too
                return
            raise SFTPError("unexpected status reply to READ")
        if t != CMD_DATA:
            raise SFTPError("Expected data")
        data = msg.get_binary()
        yield data
        if at >= size:  # the probe found data: the file grew; the rest in order, to EOF
            src.seek(at + len(data))
            while data := src.read(_CHUNK):
                yield data
            return
        if len(data) < length:  # a short read (servers may do this): fetch the gap in order
            src.seek(at + len(data))
            yield from _read_exact(src, length - len(data))


def _read_exact(src: paramiko.SFTPFile, length: int) -> Iterator[bytes]:
    while length > 0:
        data = src.read(min(length, _CHUNK))
        if not data:
            return
        length -= len(data)
        yield data


def _call_with_timeout(connect: SftpFactory, timeout: float) -> paramiko.SFTPClient:
    """``connect()``, or ``TimeoutError`` (transient) after ``timeout`` seconds.

    paramiko waits forever for a server that accepted the TCP connection and then
    went silent during the handshake or authentication (no ``auth_timeout`` by
    default); with the connect lock held that would hang the whole export. The
    stuck attempt is left behind in a daemon thread; if it ever succeeds its
    connection is closed.
    """
    result: dict[str, Any] = {}
    done = threading.Event()
    guard = threading.Lock()

    def run() -> None:
        try:
            client, error = connect(), None
        except BaseException as exc:
            client, error = None, exc
        with guard:
            if result.get("abandoned"):
                _close_client(client)
                return
            result.update(client=client, error=error)
        done.set()

    threading.Thread(target=run, name="wpmigrate-sftp-connect", daemon=True).start()
    if not done.wait(timeout):
        with guard:
            if not done.is_set():
                result["abandoned"] = True
                raise TimeoutError(f"SFTP connect did not finish within {timeout:g}s")
    if result["error"] is not None:
        raise result["error"]
    return result["client"]


def _dropped_during_auth(exc: paramiko.AuthenticationException) -> bool:
    """paramiko reports a connection lost in the middle of authentication as an
    ``AuthenticationException`` too ("Authentication failed: transport shut down or
    saw EOF"); that one is a network failure to retry, not wrong credentials."""
    text = str(exc)
    return "transport shut down" in text or "saw EOF" in text


def _no_delay(client: paramiko.SFTPClient) -> None:
    """Turn off Nagle on our side of the connection.

    Per small file we send READ, READ (the EOF probe) and CLOSE back to back; with
    Nagle the later small packets wait for the server's delayed ACK. Measured on
    127.0.0.1: 6.1 -> 2.5 ms per small file with one worker; over a WAN the stall
    can reach the delayed-ACK timeout (40 ms) per file.
    """
    with contextlib.suppress(Exception):  # a proxy-command channel has no TCP socket: fine
        sock = client.get_channel().get_transport().sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _SinkError(Exception):
    """Not about the remote file (artifact store write, local setup): never 'vanished'."""


class _Stopped(Exception):
    """Another thread failed; stop quietly."""


_TRANSIENT = (OSError, EOFError, paramiko.SSHException, SFTPError, socket.timeout, _SinkError)


# --------------------------------------------------------------------------- resume index

class _ResumeIndex:
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

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


# --------------------------------------------------------------------------- part writer

class _PartWriter:
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


_PART_RE = re.compile(r"^a(\d{5})-(\d{6})\.jsonl$")


def _existing_parts(parts_dir: StoragePath) -> list[tuple[int, int, StoragePath]]:
    if not parts_dir.exists():
        return []
    found = []
    for p in parts_dir.iterdir():
        m = _PART_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), p))
    return sorted(found, key=lambda t: (t[0], t[1]))


# --------------------------------------------------------------------------- exporter

@dataclass
class _Stats:
    files: int = 0
    bytes: int = 0
    transferred_files: int = 0
    transferred_bytes: int = 0
    resumed_files: int = 0
    resumed_bytes: int = 0
    reconnects: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("excluded", "symlinks", "special", "unsafe_names", "vanished", "unreadable"), 0))
    samples: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Item:
    rel: str
    size: int
    mtime: int
    mode: int


class _Session:
    """One thread's SFTP session, reopened after a drop."""

    def __init__(self, exporter: _Exporter) -> None:
        self._exp = exporter
        self.client: paramiko.SFTPClient | None = None

    def get(self) -> paramiko.SFTPClient:
        if self.client is None:
            self.client = self._exp.connect_once()
        return self.client

    def drop(self) -> None:
        _close_client(self.client)
        self.client = None


class _Exporter:
    def __init__(self, connect: SftpFactory, remote_root: str, out_dir: StoragePath, *, workers: int,
                 skip: Iterable[str], progress: Progress | None, retries: int, backoff: float,
                 part_files: int, part_seconds: float, progress_seconds: float, big_file_slots: int,
                 io_timeout: float, connect_timeout: float) -> None:
        self.connect = connect
        self.root = remote_root.rstrip("/") or "/"
        self.out_dir = out_dir
        self.files_root = out_dir / FILES_DIR
        self.workers = max(1, workers)
        self.skip = SkipRules(skip)
        self.progress_fn, self.progress_seconds = progress, progress_seconds
        self.retries, self.backoff = max(0, retries), backoff
        self.part_files, self.part_seconds = part_files, part_seconds
        self.stats = _Stats()
        self.io_timeout, self.connect_timeout = io_timeout, connect_timeout
        self.big_slots = threading.BoundedSemaphore(max(1, big_file_slots))
        self.lock = threading.Lock()
        self.connect_lock = threading.Lock()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.queue: queue.Queue[_Item | None] = queue.Queue(maxsize=self.workers * 64)
        self.made_dirs: set[str] = set()
        self._last_progress = float("-inf")
        self.index: _ResumeIndex | None = None
        self.parts: _PartWriter | None = None

    # ----------------------------------------------------------------- bookkeeping
    def remote(self, rel: str) -> str:
        if not rel:
            return self.root
        return f"/{rel}" if self.root == "/" else f"{self.root}/{rel}"

    def note_skip(self, reason: str, rel: str, detail: str = "") -> None:
        with self.lock:
            self.stats.skipped[reason] += 1
            if len(self.stats.samples) < _SAMPLE_LIMIT:
                sample = {"path": rel, "reason": reason}
                if detail:
                    sample["detail"] = detail
                self.stats.samples.append(sample)

    def emit(self, current: str = "", force: bool = False) -> None:
        if self.progress_fn is None:
            return
        with self.lock:
            now = time.monotonic()
            if not force and now - self._last_progress < self.progress_seconds:
                return
            self._last_progress = now
            s = self.stats
            event = {"phase": "export_files", "files": s.files, "bytes": s.bytes,
                     "transferred_files": s.transferred_files, "transferred_bytes": s.transferred_bytes,
                     "resumed_files": s.resumed_files, "skipped": sum(s.skipped.values()),
                     "current": current}
            self.progress_fn(event)

    def connect_once(self) -> paramiko.SFTPClient:
        # Serialised: a factory built on an Airflow hook need not be thread-safe.
        with self.connect_lock:
            client = _call_with_timeout(self.connect, self.connect_timeout)
        _no_delay(client)
        # A source that stops answering without closing the connection (a hung host, a
        # stateful firewall forgetting us) must become a retryable error, not a hang.
        client.get_channel().settimeout(self.io_timeout)
        return client

    def with_retries(self, session: _Session, what: str,
                     op: Callable[[paramiko.SFTPClient, int], Any]) -> Any:
        """Run ``op(client, attempt)``; on a transient error reconnect and retry with backoff."""
        for attempt in range(self.retries + 1):
            if self.stop.is_set():
                raise _Stopped
            try:
                try:
                    client = session.get()
                except (FileNotFoundError, PermissionError) as exc:  # e.g. the factory's key file
                    raise _SinkError(f"cannot connect: {exc}") from exc
                return op(client, attempt)
            except (FileNotFoundError, PermissionError):  # about the remote file: the caller decides
                raise
            except paramiko.AuthenticationException as exc:
                if not _dropped_during_auth(exc):
                    raise MigrationError(ErrorCode.INVALID_CREDENTIALS, f"SFTP authentication failed: {exc}",
                                         permanent=True) from exc
                failure: BaseException = exc
            except paramiko.BadHostKeyException as exc:
                raise MigrationError(ErrorCode.EXPORT_FAILED, f"SFTP host key mismatch: {exc}",
                                     permanent=True) from exc
            except _TRANSIENT as exc:
                failure = exc
            session.drop()
            if attempt >= self.retries:
                raise MigrationError(
                    ErrorCode.EXPORT_FAILED,
                    f"{what}: failed after {self.retries + 1} attempts: {type(failure).__name__}: {failure}",
                    permanent=False, details={"path": what},
                ) from failure
            delay = self.backoff * (2 ** attempt)
            log.warning("%s: %s: %s; reconnecting in %.1fs", what, type(failure).__name__, failure, delay)
            with self.lock:
                self.stats.reconnects += 1
            if self.stop.wait(delay):
                raise _Stopped from failure
        raise AssertionError("unreachable")

    # ----------------------------------------------------------------- walking
    def put(self, item: _Item | None) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def walk(self) -> None:
        session = _Session(self)
        try:
            try:
                root_attr = self.with_retries(session, self.root, lambda c, _a: c.stat(self.root))
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

    def walk_dir(self, session: _Session, rel_dir: str) -> list[str]:
        seen: set[bytes] = set()  # names already handled: a re-listing after a drop skips them
        subdirs: list[str] = []

        def listing(client: paramiko.SFTPClient, _attempt: int) -> None:
            for raw, attr in _listdir_raw(client, self.remote(rel_dir)):
                if raw in seen:
                    continue
                seen.add(raw)
                self.classify(rel_dir, raw, attr, subdirs)

        try:
            self.with_retries(session, self.remote(rel_dir), listing)
        except FileNotFoundError:
            self.note_skip("vanished", rel_dir or ".")
        except PermissionError as exc:
            self.note_skip("unreadable", rel_dir or ".", str(exc))
        return subdirs

    def classify(self, rel_dir: str, raw: bytes, attr: paramiko.SFTPAttributes, subdirs: list[str]) -> None:
        shown = raw.decode("utf-8", "backslashreplace")
        try:
            name = safe_name(raw.decode("utf-8"))
        except (UnicodeDecodeError, UnsafePath) as exc:
            self.note_skip("unsafe_names", f"{rel_dir}/{shown}" if rel_dir else shown, str(exc))
            return
        rel = f"{rel_dir}/{name}" if rel_dir else name
        mode = attr.st_mode
        if mode is None:
            self.note_skip("special", rel, "no file type reported")
            return
        if stat_mod.S_ISLNK(mode):
            self.note_skip("symlinks", rel)
            return
        if not (stat_mod.S_ISDIR(mode) or stat_mod.S_ISREG(mode)):
            self.note_skip("special", rel, oct(stat_mod.S_IFMT(mode)))
            return
        pattern = self.skip(rel)
        if pattern:
            self.note_skip("excluded", rel + ("/" if stat_mod.S_ISDIR(mode) else ""), pattern)
            return
        if stat_mod.S_ISDIR(mode):
            subdirs.append(rel)
        else:
            self.put(_Item(rel, attr.st_size or 0, int(attr.st_mtime or 0), stat_mod.S_IMODE(mode)))

    # ----------------------------------------------------------------- transferring
    def work(self) -> None:
        session = _Session(self)
        try:
            while not self.stop.is_set():
                try:
                    item = self.queue.get(timeout=0.2)  # a timeout: the walker may die without a sentinel
                except queue.Empty:
                    continue
                if item is None:
                    return
                self.process(session, item)
        except _Stopped:
            pass
        except BaseException as exc:
            with self.lock:
                self.errors.append(exc)
            self.stop.set()
        finally:
            session.drop()

    def stored_size(self, dest: StoragePath) -> int | None:
        try:
            return dest.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def process(self, session: _Session, item: _Item) -> None:
        dest = self.files_root / item.rel
        prev = self.index.get(item.rel) if self.index else None
        if (prev is not None and prev.size == item.size and prev.mtime == item.mtime
                and self.stored_size(dest) == item.size):
            entry = ManifestEntry(item.rel, item.size, item.mtime, prev.sha256, item.mode)
            self.record(entry, transferred=False)
            return
        current = [item]

        def fetch(client: paramiko.SFTPClient, attempt: int) -> tuple[int, str]:
            if attempt:  # the file may have changed or gone while we were reconnecting
                a = client.stat(self.remote(item.rel))
                if not stat_mod.S_ISREG(a.st_mode or 0):
                    raise FileNotFoundError(f"{item.rel} is no longer a regular file")
                current[0] = _Item(item.rel, a.st_size or 0, int(a.st_mtime or 0),
                                   stat_mod.S_IMODE(a.st_mode))
            if current[0].size < BIG_FILE:
                return self.fetch(client, current[0], dest)
            with self.big_slots:
                return self.fetch(client, current[0], dest)

        try:
            size, sha = self.with_retries(session, item.rel, fetch)
        except FileNotFoundError:
            self.note_skip("vanished", item.rel)
            return
        except PermissionError as exc:
            self.note_skip("unreadable", item.rel, str(exc))
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
                raise _SinkError(f"cannot write {dest}: {exc}") from exc
            ok = False
            try:
                for data in _remote_chunks(client, src, item.size):
                    digest.update(data)
                    size += len(data)
                    try:
                        out.write(data)
                    except OSError as exc:
                        raise _SinkError(f"cannot write {dest}: {exc}") from exc
                ok = True
            finally:
                try:
                    out.close()
                except OSError as exc:
                    if ok:
                        raise _SinkError(f"cannot write {dest}: {exc}") from exc
                if not ok:  # no record points at it; remove the partial copy if we can
                    with contextlib.suppress(Exception):
                        dest.unlink()  # type: ignore[attr-defined]
        finally:
            # CLOSE without waiting for its reply (a later read consumes it): one round
            # trip less per file; nothing to confirm on a read-only handle.
            with contextlib.suppress(Exception):
                src._close(async_=True)
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
        parts_dir = self.out_dir / PARTS_DIR
        existing = _existing_parts(parts_dir)
        previous_summary = read_json(self.out_dir / SUMMARY_NAME) or {}
        manifest = self.out_dir / MANIFEST_NAME
        attempt = max([a for a, _s, _p in existing] + [int(previous_summary.get("attempt", 0))]) + 1
        sources: list[StoragePath] = ([manifest] if manifest.exists() else []) + [p for _a, _s, p in existing]
        if sources:
            index = _ResumeIndex()
            for src in sources:
                try:
                    index.load(iter_manifest(src))
                except ManifestError as exc:  # e.g. a part cut short by a crash: use what parsed
                    log.warning("ignoring the rest of %s: %s", src, exc)
            self.index = index
            log.info("resuming: %d files recorded by previous attempts", index.count)
        parts_dir.mkdir(parents=True, exist_ok=True)
        self.parts = _PartWriter(parts_dir, attempt, self.part_files, self.part_seconds)
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
        except _Stopped:
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
        for _a, _s, part in _existing_parts(self.out_dir / PARTS_DIR):
            with contextlib.suppress(Exception):
                part.unlink()  # type: ignore[attr-defined]
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
