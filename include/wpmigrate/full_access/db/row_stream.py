"""Per-table row artifact: a msgpack stream of rows, sha256 computed while writing.

File layout: one msgpack map (the header: format, version, columns) followed by one
msgpack array per row; each value is nil, an integer or bin (raw bytes). Nothing else
is ever needed: the export keeps every non-integer value as the server's raw bytes.

No compression on purpose: export throughput is bound by Python and the source
server, gzip would cost more CPU than the row encoding itself, zstd is not in the
3.11 standard library, and artifacts live only a few days. The manifest carries a
``codec`` field so a codec can be added without breaking old artifacts.

Paths are pathlib.Path or universal-pathlib / Airflow ObjectStoragePath objects: we use
only ``/``, ``open("wb"/"rb")``, ``exists()`` and ``mkdir()`` so S3 works the same as disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import IO, Any

import msgpack

from wpmigrate.core.storage import StoragePath

FORMAT = "wpmigrate-rows"
VERSION = 1
CODEC = "none"
_FLUSH_BYTES = 1 << 20  # write in ~1 MiB pieces: few calls to S3 multipart writers
_READ_BYTES = 1 << 20
# A single LONGTEXT value may be large; the unpacker only allocates what it needs.
_MAX_BUFFER = (1 << 31) - 1

Value = None | int | bytes
Row = tuple[Value, ...]


class ArtifactCorrupt(Exception):
    """The artifact's content does not match its recorded sha256 or format."""


class RowWriter:
    """Streaming writer; use as a context manager. ``rows``, ``bytes`` and ``sha256``
    are final after ``close()``."""

    def __init__(self, path: StoragePath, columns: Sequence[str]) -> None:
        self._fh: IO[bytes] = path.open("wb")
        self._hash = hashlib.sha256()
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)
        self._buf = bytearray()
        self.rows = 0
        self.bytes = 0
        self.sha256 = ""
        self._closed = False
        self._buf += self._packer.pack({"format": FORMAT, "version": VERSION, "columns": list(columns)})

    def write(self, row: Sequence[Value]) -> None:
        self._buf += self._packer.pack(row)
        self.rows += 1
        if len(self._buf) >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            data = bytes(self._buf)
            self._hash.update(data)
            self._fh.write(data)
            self.bytes += len(data)
            self._buf.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
        finally:
            self._fh.close()
        self.sha256 = self._hash.hexdigest()

    def abort(self) -> None:
        self._closed = True
        self._fh.close()

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class RowReader:
    """Streaming reader: ``columns`` from the header, iterate for rows. When
    ``expected_sha256`` is given, a mismatch raises ArtifactCorrupt after the last row,
    before iteration ends, so a caller never commits a half-verified table."""

    def __init__(self, path: StoragePath, expected_sha256: str | None = None) -> None:
        self._path = path
        self._expected = expected_sha256
        self._fh: IO[bytes] = path.open("rb")
        self._hash = hashlib.sha256()
        self._unpacker = msgpack.Unpacker(raw=False, use_list=False, max_buffer_size=_MAX_BUFFER)
        self.columns: list[str] = []
        self.bytes = 0
        self._eof = False
        header = self._next_object()
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            self.close()
            raise ArtifactCorrupt(f"{path}: not a {FORMAT} artifact")
        if header.get("version") != VERSION:
            self.close()
            raise ArtifactCorrupt(f"{path}: unsupported version {header.get('version')}")
        self.columns = list(header["columns"])

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._fh.read(_READ_BYTES)
        if not data:
            self._eof = True
            return False
        self._hash.update(data)
        self.bytes += len(data)
        self._unpacker.feed(data)
        return True

    def _next_object(self) -> Any:
        while True:
            try:
                return next(self._unpacker)
            except StopIteration:
                if not self._fill():
                    raise
            except msgpack.ExtraData as exc:  # pragma: no cover - defensive
                raise ArtifactCorrupt(f"{self._path}: {exc}") from exc

    def __iter__(self) -> Iterator[Row]:
        try:
            while True:
                try:
                    row = self._next_object()
                except StopIteration:
                    break
                except (ValueError, msgpack.UnpackException) as exc:
                    raise ArtifactCorrupt(f"{self._path}: {exc}") from exc
                yield row
            if self._unpacker.tell() != self.bytes:
                raise ArtifactCorrupt(f"{self._path}: truncated row at end of file")
            if self._expected and self._hash.hexdigest() != self._expected:
                raise ArtifactCorrupt(
                    f"{self._path}: sha256 {self._hash.hexdigest()} != manifest {self._expected}"
                )
        finally:
            self.close()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def sha256_of(path: StoragePath) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_BYTES):
            h.update(chunk)
    return h.hexdigest()
