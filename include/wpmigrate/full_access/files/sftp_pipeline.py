"""Raw SFTP requests where paramiko's public API is too slow or too strict.

- ``listdir_raw``: a directory listing whose names stay bytes (paramiko decodes them
  as strict UTF-8, so one Latin-1 name would abort the whole listing).
- ``remote_chunks``: a file's bytes with up to ``READ_AHEAD`` READ requests in flight.
- ``close_async``: CLOSE a read handle without waiting for the reply.

All three use paramiko's internal request methods (the ones its own ``listdir_iter``
and ``prefetch`` use). Its stubs leave private methods out, so they are described by
the Protocols below and reached through a ``cast``. Read-only: only OPENDIR, READDIR,
READ and CLOSE requests.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from typing import Protocol, cast

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

REQUEST = 32 * 1024  # READ size every server accepts (paramiko's MAX_REQUEST_SIZE)
READ_AHEAD = 64  # READs in flight per worker: 2 MiB, paramiko's default channel window
_CHUNK = 1024 * 1024


class _Requests(Protocol):
    """``SFTPClient``'s internal request API (paramiko 3-5)."""

    def _request(self, t: int, *args: object) -> tuple[int, Message]: ...
    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...
    def _read_response(self, waitfor: int | None = None) -> tuple[int | None, Message | None]: ...
    def _convert_status(self, msg: Message) -> None: ...


class _AttributesFromMessage(Protocol):
    def _from_msg(self, msg: Message) -> paramiko.SFTPAttributes: ...


class _AsyncClose(Protocol):
    def _close(self, async_: bool = False) -> None: ...


def _requests(sftp: paramiko.SFTPClient) -> _Requests:
    return cast(_Requests, sftp)


def listdir_raw(sftp: paramiko.SFTPClient, path: str) -> Iterator[tuple[bytes, paramiko.SFTPAttributes]]:
    """Yield (raw name, lstat attributes) of a remote directory, one READDIR batch at a time."""
    raw_sftp = _requests(sftp)
    attributes = cast(_AttributesFromMessage, paramiko.SFTPAttributes)
    t, msg = raw_sftp._request(CMD_OPENDIR, path)
    if t != CMD_HANDLE:
        raise SFTPError("Expected handle")
    handle = msg.get_binary()
    try:
        while True:
            try:
                t, msg = raw_sftp._request(CMD_READDIR, handle)
            except EOFError:  # SSH_FX_EOF status: end of directory (a dropped link is SSHException)
                return
            if t != CMD_NAME:
                raise SFTPError("Expected name")
            for _ in range(msg.get_int()):
                raw = msg.get_binary()
                msg.get_binary()  # longname
                attr = attributes._from_msg(msg)
                if raw not in (b".", b".."):
                    yield raw, attr
    finally:
        with contextlib.suppress(Exception):
            raw_sftp._request(CMD_CLOSE, handle)


class _Replies:
    """Receives the READ replies paramiko dispatches while we wait (its async-reply protocol)."""

    def __init__(self) -> None:
        self.replies: dict[int, tuple[int, Message]] = {}

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self.replies[num] = (t, msg)


def remote_chunks(sftp: paramiko.SFTPClient, src: paramiko.SFTPFile, size: int) -> Iterator[bytes]:
    """The remote file's bytes, with up to ``READ_AHEAD`` READ requests in flight.

    paramiko's ``prefetch`` is not used: unbounded it requests the whole file at once
    (closing early then buffers every outstanding reply: gigabytes for a big video);
    bounded, its helper thread races the reader and, under the GIL with several
    workers, throughput collapsed to a few MB/s in our benchmark. Here the calling
    thread sends the requests and reads the replies itself (paramiko's internal
    ``_async_request``/``_read_response``, the same ones ``prefetch`` uses); memory
    is at most ``READ_AHEAD`` x 32 KiB per worker.

    One extra READ at the listed size goes out with the others: its EOF ends the
    file without another round trip (a small file costs OPEN, READs, CLOSE), and
    data there means the file grew since it was listed, so we read on to EOF.
    """
    raw_sftp = _requests(sftp)
    replies = _Replies()
    pending: deque[tuple[int, int, int]] = deque()  # (request number, offset, length)
    offset = 0
    probe_sent = False
    while True:
        while len(pending) < READ_AHEAD and not probe_sent:
            length = min(REQUEST, size - offset) if offset < size else REQUEST
            probe_sent = offset >= size
            num = raw_sftp._async_request(replies, CMD_READ, src.handle, int64(offset), length)
            pending.append((num, offset, length))
            offset += length
        if not pending:
            return
        num, at, length = pending.popleft()
        while num not in replies.replies:
            raw_sftp._read_response()  # one reply, dispatched to its owner; SSHException if the link dropped
        t, msg = replies.replies.pop(num)
        if t == CMD_STATUS:
            try:
                raw_sftp._convert_status(msg)
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


def close_async(src: paramiko.SFTPFile) -> None:
    """CLOSE without waiting for its reply (a later request consumes it): one round trip
    less per file; nothing to confirm on a read-only handle. Never raises."""
    with contextlib.suppress(Exception):
        cast(_AsyncClose, src)._close(async_=True)
