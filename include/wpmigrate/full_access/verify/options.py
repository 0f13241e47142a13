"""What a verification run compares and how far it goes; given to every check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from wpmigrate.full_access.db.sql import Connection


@dataclass(frozen=True)
class VerifyOptions:
    source_conn: Connection
    target_conn: Connection
    source_prefix: str
    target_prefix: str
    old_origins: tuple[str, ...]
    target_url: str | None
    # ``files.manifest.ManifestEntry`` objects or dicts (path, sha256, size); streamed once.
    files_manifest: Iterable[Any] | None
    # str, pathlib.Path or ObjectStoragePath of the target's wp-content.
    target_wp_content: Any | None
    service_users: tuple[str, ...]
    # (unprefixed table, column) -> why the import leaves it alone (shown in the report).
    skip_columns: Mapping[tuple[str, str], str]
    http_client: httpx.Client | None
    php_binary: str | None
    http_limit: int | None
    http_workers: int
    page_size: int
    max_problems: int
    hits_per_column: int
    # The site's base tables, listed once when the run starts.
    source_tables: tuple[str, ...]
    target_tables: frozenset[str]
    # Where a redirect off the target may lead although not public (the SSRF guard's
    # allow-list); the target's own origin is reached whatever its address.
    http_allowed_networks: tuple[Any, ...] = ()

    def source_table(self, name: str) -> str:
        return self.source_prefix + name

    def target_table(self, name: str) -> str:
        return self.target_prefix + name
