"""The database through the companion plugin, into the artifacts ``export_database`` writes.

Same layout and manifest (``db.exporter.manifest_document``): one ``NNNN-table.schema.sql``
and one ``NNNN-table.rows.msgpack`` (``RowWriter``) per table, ``manifest.json`` last.
Values are the raw stored bytes (the plugin reads with ``character_set_results =
binary``, TIMESTAMPs in UTC, as ``export_database`` does) and integers are ints, so for
the same source every row artifact is byte for byte the same as the SQL route's.

- Tables come page by page (``rows``), paged by primary key (``WHERE pk > last ORDER BY
  pk``); without one, by the first unique key whose columns are NOT NULL (InnoDB
  stores such a table in that key's order); with neither, by offset in the table's
  storage order (what a plain scan reads): not stable if the table changes meanwhile.
- Each page is written to the ``RowWriter`` as it arrives: client memory is one page
  (bounded by ``max_bytes``, plus one row that may exceed it).
- No snapshot across HTTP requests: each page is its own read-only transaction, so the
  manifest says ``consistent: false``; a busy source may move between tables.
- The plugin is active while it exports, so ``active_plugins`` lists it; the exported
  row leaves it out (``drop_companion``), as the option was before the install, and the
  manifest's ``adjusted`` says so. Nothing else is changed.
- Resumable at table granularity: a finished table leaves ``<stem>.done.json`` (its
  manifest record); a retried export keeps those tables whose artifact still has the
  recorded size and redoes the others.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.full_access.companion.client import CompanionClient, CompanionUnavailable
from wpmigrate.full_access.companion.package import PLUGIN_BASENAME
from wpmigrate.full_access.companion.transfer import AdaptiveSize, HostLimits, host_limits, with_retries
from wpmigrate.full_access.db.exporter import (
    column_meta,
    manifest_document,
    table_file_stem,
    table_record,
    write_manifest,
)
from wpmigrate.full_access.db.row_stream import RowWriter, Value
from wpmigrate.full_access.db.table_prefix import select_site_tables, unprefixed, validate_prefix
from wpmigrate.full_access.files.manifest import read_json
from wpmigrate.full_access.progress_throttle import Progress, ProgressThrottle

# What mysqlclient returns as int (connect._INT_TYPES), by information_schema DATA_TYPE.
INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "bigint", "year"}
SNAPSHOT = "none: each page is one read-only transaction (HTTP route, companion plugin)"
DONE_SUFFIX = ".done.json"


_LIST_HEAD = re.compile(rb"a:(\d+):\{")
_LIST_ITEM = re.compile(rb'i:(\d+);s:(\d+):"')


def without_plugin(value: bytes, basename: str = PLUGIN_BASENAME) -> bytes | None:
    """``active_plugins`` (a PHP serialized list of strings, as WordPress writes it) without
    ``basename``, re-indexed; None when the value is not such a list or does not hold it."""
    head = _LIST_HEAD.match(value)
    if head is None:
        return None
    pos, items = head.end(), []
    for _ in range(int(head.group(1))):
        item = _LIST_ITEM.match(value, pos)
        if item is None:
            return None
        start = item.end()
        end = start + int(item.group(2))
        if value[end:end + 2] != b'";':
            return None
        items.append(value[start:end])
        pos = end + 2
    target = basename.encode()
    if value[pos:] != b"}" or target not in items:
        return None
    kept = [i for i in items if i != target]
    return (b"a:%d:{" % len(kept) + b"".join(b'i:%d;s:%d:"%s";' % (k, len(v), v) for k, v in enumerate(kept))
            + b"}")


def _decoder(columns: list[dict[str, Any]]) -> list[bool]:
    return [c["data_type"] in INT_TYPES for c in columns]


def _decode_row(raw: list[Any], ints: list[bool]) -> tuple[Value, ...]:
    out: list[Value] = []
    for v, is_int in zip(raw, ints, strict=True):
        if v is None:
            out.append(None)
        else:
            b = base64.b64decode(v, validate=True)
            out.append(int(b) if is_int else b)
    return tuple(out)


class _TablePager:
    """Pages of one table, adaptively sized, retried on transient failures."""

    def __init__(self, client: CompanionClient, table: str, key: list[str], names: list[str],
                 rows: AdaptiveSize, page_bytes: AdaptiveSize, attempts: int, backoff: float) -> None:
        self.client, self.table, self.key, self.names = client, table, key, names
        self.rows, self.page_bytes = rows, page_bytes
        self.attempts, self.backoff = attempts, backoff

    def pages(self) -> Iterator[list[list[Any]]]:
        after: list[Any] | None = None
        offset: int | None = None if self.key else 0
        while True:
            def call(after: list[Any] | None = after, offset: int | None = offset) -> dict[str, Any]:
                return self.client.rows(self.table, limit=self.rows.value, max_bytes=self.page_bytes.value,
                                        after=after, offset=offset)
            page = with_retries(call, sizes=[self.rows, self.page_bytes], what=f"rows of {self.table}",
                                attempts=self.attempts, backoff=self.backoff)
            if page.get("columns") != self.names:
                raise MigrationError(ErrorCode.EXPORT_FAILED, f"{self.table}: columns changed during "
                                     "the export", permanent=False, details={"table": self.table})
            yield page["rows"]
            nxt = page["next"]
            if nxt is None:
                return
            if self.key:
                if not isinstance(nxt, list) or len(nxt) != len(self.key):
                    raise CompanionUnavailable("cut", f"rows of {self.table}: bad next key")
                after = nxt
            else:
                if not isinstance(nxt, dict) or not isinstance(nxt.get("offset"), int):
                    raise CompanionUnavailable("cut", f"rows of {self.table}: bad next offset")
                offset = nxt["offset"]


def export_database_via_companion(
    client: CompanionClient,
    out_dir: StoragePath,
    *,
    preflight: dict[str, Any] | None = None,
    table_prefix: str | None = None,
    limits: HostLimits | None = None,
    initial_rows: int = 200,
    initial_page_bytes: int = 256 << 10,
    max_rows: int = 20_000,
    drop_companion: bool = True,
    attempts: int = 8,
    backoff: float = 0.5,
    progress: Progress | None = None,
    progress_interval: float = 1.0,
) -> dict[str, Any]:
    """Export the site's tables through the plugin to ``out_dir``; return the manifest
    (also ``out_dir/manifest.json``, written last). ``preflight``: the plugin's answer,
    if the caller already has it; ``table_prefix`` defaults to the site's own;
    ``drop_companion``: leave the plugin out of the exported ``active_plugins``.

    Raises ``MigrationError``: ``INVALID_CREDENTIALS`` (plugin refused or timed out,
    permanent), ``EXPORT_FAILED`` (transient after retries; a retry resumes)."""
    pre = preflight or client.preflight()
    prefix = validate_prefix(table_prefix or pre["table_prefix"])
    limits = limits or host_limits(pre)
    rows_size = AdaptiveSize(initial_rows, minimum=1, maximum=max_rows, target_seconds=limits.target_seconds)
    bytes_size = AdaptiveSize(initial_page_bytes, minimum=16 << 10, maximum=limits.max_page_bytes,
                              target_seconds=limits.target_seconds)
    throttle = ProgressThrottle(progress, progress_interval)
    info = {t["name"]: t for t in pre["tables"]}
    views = list(pre.get("views", []))
    site = select_site_tables([*info, *views], prefix)
    skipped = [{"name": t, "reason": "view: not exported (recreate it on the target if needed)"}
               for t in site if t not in info]
    tables = [t for t in site if t in info]
    started = datetime.now(UTC)
    current: dict[str, Any] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest_tables: dict[str, Any] = {}
        resumed = 0
        for index, table in enumerate(tables):
            current = {"table": table}
            stem = table_file_stem(index, table)
            schema_file, data_file = f"{stem}.schema.sql", f"{stem}.rows.msgpack"
            done = read_json(out_dir / (stem + DONE_SUFFIX))
            if (done and done.get("data_file") == data_file
                    and _size(out_dir / data_file) == done.get("bytes")):
                manifest_tables[table] = done
                resumed += 1
                throttle({"phase": "export", "table": table, "rows_done": done["rows"],
                          "rows_total": done["rows"], "resumed": True}, force=True)
                continue
            drop = drop_companion and unprefixed(table, prefix) == "options"
            record = _export_table(client, out_dir, table, info[table], schema_file, data_file,
                                   _TablePager, rows_size, bytes_size, attempts, backoff, throttle, drop)
            with (out_dir / (stem + DONE_SUFFIX)).open("wb") as fh:
                fh.write(json.dumps(record).encode("utf-8"))
            manifest_tables[table] = record
        db = pre["db"]
        manifest = manifest_document(
            server_version=db["server_version"], charset=db["charset"], collation=db["collation"],
            table_prefix=prefix, exported_at=started, snapshot=SNAPSHOT, tables=manifest_tables,
            skipped=skipped)
        manifest["route"] = "wp_admin"
        manifest["resumed_tables"] = resumed
        manifest["adjusted"] = [{"table": t, **a} for t, r in manifest_tables.items()
                                for a in r.get("adjusted", [])]
        manifest["requests"] = client.requests
        manifest["page_sizes"] = {"rows": rows_size.value, "bytes": bytes_size.value,
                                  "grown": rows_size.grown + bytes_size.grown,
                                  "shrunk": rows_size.shrunk + bytes_size.shrunk}
        write_manifest(out_dir, manifest)
        return manifest
    except CompanionUnavailable as exc:
        raise MigrationError(ErrorCode.EXPORT_FAILED, f"database export through the plugin failed: {exc}",
                             permanent=False, details=current) from exc
    except MigrationError as exc:
        exc.details.update({k: v for k, v in current.items() if k not in exc.details})
        raise
    except OSError as exc:  # artifact store (disk full, S3 hiccup): worth a retry
        raise MigrationError(ErrorCode.EXPORT_FAILED, f"writing the export failed: {exc}",
                             permanent=False, details=current) from exc


def _size(path: StoragePath) -> int | None:
    try:
        return int(path.stat().st_size)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _export_table(client: CompanionClient, out_dir: StoragePath, table: str, info: dict[str, Any],
                  schema_file: str, data_file: str, pager_cls: type[_TablePager], rows_size: AdaptiveSize,
                  bytes_size: AdaptiveSize, attempts: int, backoff: float,
                  throttle: ProgressThrottle, drop_companion: bool = False) -> dict[str, Any]:
    schema = with_retries(lambda: client.schema(table), sizes=[], what=f"schema of {table}",
                          attempts=attempts, backoff=backoff)
    create = str(schema["create"])
    cols = schema["columns"]
    meta: dict[str, Any] = {
        "engine": info.get("engine") or "",
        "consistent": False,  # no snapshot across HTTP requests (see the module docstring)
        "rows_estimate": int(info["rows"] if info.get("rows") is not None
                             else info.get("rows_estimate") or 0),
        "primary_key": list(info["primary_key"]),
        "columns": [column_meta(c["name"], c["data_type"], c["type"], c["charset"],
                                "GENERATED" if c["generated"] else "") for c in cols],
    }
    exported = [c for c in cols if not c["generated"]]
    names = [c["name"] for c in exported]
    ints = _decoder(exported)
    key = list(info["primary_key"]) or list(info.get("unique_key") or [])
    total = meta["rows_estimate"]
    with (out_dir / schema_file).open("wb") as fh:
        fh.write(create.encode("utf-8"))
    throttle({"phase": "export", "table": table, "rows_done": 0, "rows_total": total}, force=True)
    pager = pager_cls(client, table, key, names, rows_size, bytes_size, attempts, backoff)
    adjusted: list[dict[str, Any]] = []
    drop = drop_companion and {"option_name", "option_value"} <= set(names)
    name_idx = names.index("option_name") if drop else -1
    value_idx = names.index("option_value") if drop else -1
    with RowWriter(out_dir / data_file, names) as writer:
        for page in pager.pages():
            for raw in page:
                row = _decode_row(raw, ints)
                if drop and row[name_idx] == b"active_plugins" and isinstance(row[value_idx], bytes):
                    value = row[value_idx]
                    assert isinstance(value, bytes)
                    stripped = without_plugin(value)
                    if stripped is not None:
                        row = (*row[:value_idx], stripped, *row[value_idx + 1:])
                        adjusted.append({"option": "active_plugins", "removed": PLUGIN_BASENAME})
                writer.write(row)
            throttle({"phase": "export", "table": table, "rows_done": writer.rows, "rows_total": total})
    throttle({"phase": "export", "table": table, "rows_done": writer.rows, "rows_total": writer.rows},
             force=True)
    record = table_record(schema_file, data_file, create, writer, meta)
    return {**record, "adjusted": adjusted} if adjusted else record
