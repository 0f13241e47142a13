"""The artifact store's path type, as the library sees it.

Artifacts live on local disk in tests and on S3 in production: the Airflow layer hands the
library ``ObjectStoragePath`` objects (a UPath), tests hand it ``pathlib.Path``. This
protocol is what the library uses of either, so it stays free of Airflow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, Protocol

from wpmigrate.core.errors import ErrorCode, MigrationError


class StoragePath(Protocol):
    """What we need from ``pathlib.Path`` / ``ObjectStoragePath`` (a UPath)."""

    @property
    def name(self) -> str: ...
    @property
    def parent(self) -> StoragePath: ...
    def __truediv__(self, other: str) -> StoragePath: ...
    def open(self, mode: str) -> IO[bytes]: ...  # binary modes only
    def exists(self) -> bool: ...
    def is_file(self) -> bool: ...
    def is_dir(self) -> bool: ...
    def stat(self) -> Any: ...
    def mkdir(self, *, parents: bool = ..., exist_ok: bool = ...) -> None: ...
    def iterdir(self) -> Iterator[StoragePath]: ...
    def unlink(self) -> None: ...
    # ``Any``: pathlib takes ``str | PurePath``, UPath its own type; both accept their kind.
    def replace(self, target: Any) -> Any: ...
    def rename(self, target: Any) -> Any: ...


def _plain_segment(name: object) -> str:
    """One path segment that names a child of its parent and nothing else."""
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:80] + "..."
        raise MigrationError(ErrorCode.INVALID_CONF, f"{shown} is not a plain path segment "
                             "(empty, '.', '..', or holds '/', '\\' or NUL)")
    return name


def join_under(root: StoragePath, *segments: str) -> StoragePath:
    """``root / segment / ...``, refused (``INVALID_CONF``, permanent) unless every segment is
    one plain name and the joined path stays under ``root``: a tenant id ``..`` would put
    ``file:///tmp/wpmigrate-artifacts/../<uuid>`` outside the artifact root."""
    path = root
    for segment in segments:
        path = path / _plain_segment(segment)
    base = str(root).rstrip("/")
    if segments and not str(path).startswith(base + "/"):
        raise MigrationError(ErrorCode.INVALID_CONF, f"{str(path)[:200]} is not under {base[:200]}")
    return path
