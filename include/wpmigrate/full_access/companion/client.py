"""Signed requests to the companion plugin (protocol v1) and what their answers mean.

Every request is ``GET {home}/?wpmigrate-companion={action}&...`` with the signature
headers of ``signing``. Outcomes:
- an answer without ``X-WPM-Protocol`` that is not a server error (the site's normal
  page): the plugin does not answer. It ignores every request it cannot verify, so this
  covers not installed, not active, another secret, a cache in front, and clocks more than
  5 minutes apart: ``EXPORT_FAILED``, permanent, reason ``not_answering`` (a new install helps);
- 410 (idle past its limit; said only to a request that verified):
  ``MigrationError(INVALID_CREDENTIALS)``, permanent, reason ``expired``;
- 5xx, 413, 429, timeouts, dropped connections, a body cut short or failing its
  checksum: ``CompanionUnavailable`` (transient: the transfer layer retries smaller);
- 404 for a file: ``CompanionNotFound``.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.signing import ACTION_PARAM, signed_headers

PROTOCOL_HEADER = "X-WPM-Protocol"
PROTOCOL = "1"
_TRANSIENT_STATUS = {408, 413, 429}
# The plugin ignores a signature more than 300 s off its clock; past this, say so.
_SKEW_WARNING = 240


class CompanionUnavailable(Exception):
    """A transient failure; ``kind`` is timeout | connection | status | cut | checksum."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.status = kind, status

    @property
    def too_big(self) -> bool:
        """The request likely asked for more than the host allows: 413, a timeout, an
        answer cut short, 500 (PHP's time or memory limit) or 504. A 502/503 (busy) or a
        dropped connection says nothing about the size."""
        return self.kind in ("timeout", "cut") or self.status in (413, 500, 504)


class CompanionNotFound(Exception):
    """The plugin says the file or table does not exist (any more)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    data: bytes
    file_size: int
    mtime: int | None


class CompanionClient:
    """One migration's view of its companion plugin. ``http`` is the caller's client (the
    project's guarded transport, timeouts); thread-safe as httpx.Client is."""

    def __init__(self, http: httpx.Client, home_url: str, secret: str) -> None:
        self._http = http
        self._url = home_url.rstrip("/") + "/"
        self._secret = secret
        self.requests = 0

    def __repr__(self) -> str:  # never the secret
        return f"CompanionClient({self._url!r})"

    # ------------------------------------------------------------------ transport
    def _get(self, action: str, params: dict[str, str] | None = None) -> tuple[httpx.Response, bytes]:
        """The checked answer and its body. The body is read as a stream into our own bytes:
        an httpx Response sits in a reference cycle, so a body kept on it (``.content``)
        would stay in memory until the garbage collector runs, chunk after chunk."""
        params = dict(params or {})
        headers = signed_headers(self._secret, action, params)
        self.requests += 1
        request = self._http.build_request("GET", self._url, params={ACTION_PARAM: action, **params},
                                           headers=headers)
        try:
            resp = self._http.send(request, stream=True)
            try:
                body = b"".join(resp.iter_bytes())
            finally:
                resp.close()
        except httpx.TimeoutException as exc:
            raise CompanionUnavailable("timeout", f"{action}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise CompanionUnavailable("connection", f"{action}: {type(exc).__name__}: {exc}") from exc
        status = resp.status_code
        if status >= 500 or status in _TRANSIENT_STATUS:
            raise CompanionUnavailable("status", f"{action}: HTTP {status}{_error_text(resp, body)}", status)
        if resp.headers.get(PROTOCOL_HEADER) is None:
            details: dict[str, Any] = {"action": action, "status": status, "reason": "not_answering"}
            skew = _clock_skew(resp)
            hint = ""
            if skew is not None and abs(skew) > _SKEW_WARNING:
                details["clock_skew_seconds"] = skew
                hint = f"; the source's clock differs from ours by {skew} s, more than the plugin allows"
            raise MigrationError(ErrorCode.EXPORT_FAILED, "the companion plugin is not answering "
                                 f"({action}: HTTP {status}, the site's own answer{hint})",
                                 permanent=True, details=details)
        if status == 410:
            raise MigrationError(ErrorCode.INVALID_CREDENTIALS, "the companion plugin's time is up "
                                 "(idle too long); install it again for a new run", permanent=True,
                                 details={"action": action, "status": status, "reason": "expired"})
        if status == 404:
            raise CompanionNotFound(f"{action}: {params}")
        if status != 200:
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"companion {action}: HTTP {status}"
                                 f"{_error_text(resp, body)}", permanent=True,
                                 details={"action": action, "status": status})
        return resp, body

    def _json(self, action: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        _resp, body = self._get(action, params)
        try:
            data = json.loads(body)
        except ValueError as exc:  # PHP hit its time limit mid-page, or the body was cut
            raise CompanionUnavailable("cut", f"{action}: answer cut short or not JSON") from exc
        if not isinstance(data, dict):
            raise CompanionUnavailable("cut", f"{action}: not a JSON object")
        return data

    # ------------------------------------------------------------------ actions
    def preflight(self) -> dict[str, Any]:
        return self._json("preflight")

    def schema(self, table: str) -> dict[str, Any]:
        return self._json("schema", {"table": table})

    def rows(self, table: str, *, limit: int, max_bytes: int,
             after: list[Any] | None = None, offset: int | None = None) -> dict[str, Any]:
        """One page of raw rows (values: None or base64 of the stored bytes)."""
        params = {"table": table, "limit": str(int(limit)), "max_bytes": str(int(max_bytes))}
        if after is not None:
            params["after"] = json.dumps(after, separators=(",", ":"))
        if offset is not None:
            params["offset"] = str(int(offset))
        page = self._json("rows", params)
        if not isinstance(page.get("rows"), list) or "next" not in page:
            raise CompanionUnavailable("cut", f"rows of {table}: incomplete page")
        if page.get("count") != len(page["rows"]):
            raise CompanionUnavailable("cut", f"rows of {table}: {len(page['rows'])} rows, "
                                       f"announced {page.get('count')}")
        return page

    def files(self, *, limit: int, max_hash_bytes: int, after: str | None = None,
              skip: list[str] | None = None) -> dict[str, Any]:
        params = {"limit": str(int(limit)), "max_hash_bytes": str(int(max_hash_bytes))}
        if after is not None:
            params["after"] = after
        if skip:
            params["skip"] = json.dumps(list(skip), separators=(",", ":"))
        page = self._json("files", params)
        if not isinstance(page.get("entries"), list) or "next" not in page:
            raise CompanionUnavailable("cut", "files: incomplete listing")
        return page

    def chunk(self, path: str, offset: int, length: int) -> Chunk:
        """Bytes ``offset``.. of a file (at most ``length``; fewer at its end or when the
        host caps a chunk), checked against the plugin's sha256 of this body."""
        resp, data = self._get("file", {"path": path, "offset": str(int(offset)), "length": str(int(length))})
        expected = resp.headers.get("X-WPM-Chunk-Sha256", "")
        try:
            size = int(resp.headers["X-WPM-File-Size"])
        except (KeyError, ValueError) as exc:
            raise CompanionUnavailable("cut", f"file {path}: no file size header") from exc
        if hashlib.sha256(data).hexdigest() != expected:
            raise CompanionUnavailable("checksum", f"file {path}: chunk at {offset} failed its sha256")
        mtime = resp.headers.get("X-WPM-File-Mtime")
        return Chunk(data, size, int(mtime) if mtime and mtime.isdigit() else None)


def _clock_skew(resp: httpx.Response) -> int | None:
    """Seconds the source's clock (its ``Date`` header) is ahead of ours, if it sent one."""
    try:
        date = email.utils.parsedate_to_datetime(resp.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return int(date.timestamp() - time.time())


def _error_text(resp: httpx.Response, body: bytes) -> str:
    """The plugin's short JSON error, if it gave one (never a page of HTML)."""
    if resp.headers.get(PROTOCOL_HEADER) is None:
        return ""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {str(err)[:200]}" if err else ""
