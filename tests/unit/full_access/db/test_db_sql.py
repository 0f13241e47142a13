"""The shared SQL helpers and the progress throttle (no database: a recording fake)."""

from __future__ import annotations

from typing import Any

import pytest

from wpmigrate.full_access import progress_throttle as throttle
from wpmigrate.full_access.db.sql import as_str, query, quote_ident, scalar
from wpmigrate.full_access.progress_throttle import ProgressThrottle


class _Cursor:
    def __init__(self, rows: Any, log: list[Any]) -> None:
        self.rows, self.log = rows, log

    def execute(self, stmt: Any, args: Any = None) -> int:
        self.log.append((stmt, args))
        return 0

    def fetchall(self) -> Any:
        return self.rows

    def close(self) -> None:
        self.log.append("closed")


class _Conn:
    def __init__(self, rows: Any) -> None:
        self.rows: Any = rows
        self.log: list[Any] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self.rows, self.log)

    def rollback(self) -> None:
        pass


def test_quote_ident_doubles_backticks() -> None:
    assert quote_ident("wp_posts") == "`wp_posts`"
    assert quote_ident("a`b") == "`a``b`"


def test_as_str() -> None:
    assert as_str(b"caf\xc3\xa9") == "café"
    assert as_str(None) == ""
    assert as_str(7) == "7"
    assert as_str(b"\xff", errors="replace") == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        as_str(b"\xff")


def test_query_closes_its_cursor_and_returns_rows() -> None:
    conn = _Conn(((1, b"a"), (2, b"b")))
    assert query(conn, "SELECT %s", (1,)) == [(1, b"a"), (2, b"b")]
    assert conn.log == [("SELECT %s", (1,)), "closed"]
    conn.rows = None  # a statement without a result set
    assert query(conn, "SET x = 1") == []
    assert scalar(conn, "SELECT 1") is None
    conn.rows = ((5,),)
    assert scalar(conn, "SELECT 5") == 5


def test_throttle_drops_events_within_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: now[0])
    seen: list[dict[str, Any]] = []
    progress = ProgressThrottle(seen.append, 1.0)
    progress({"n": 1})
    progress({"n": 2})
    progress({"n": 3}, force=True)
    now[0] += 1.0
    progress({"n": 4})
    assert [e["n"] for e in seen] == [1, 3, 4]
    ProgressThrottle(None, 0)({"n": 5})  # no callback: nothing to do
