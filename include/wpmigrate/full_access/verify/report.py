"""The verification report: sections with bounded problem lists, and the report that
collects them (``REPORT_KIND``, read by ``core.report_html`` and the portal)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from wpmigrate.full_access.db.sql import as_str

REPORT_KIND = "wpmigrate.verification"
REPORT_VERSION = 1

Section = dict[str, Any]


def report_text(value: object) -> str:
    """A database value as report text; undecodable bytes (a snippet cut in the middle
    of a character, a latin1 value) become U+FFFD instead of failing the check."""
    return as_str(value, errors="replace")


class ProblemList:
    """A problem list that keeps the first ``limit`` entries and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[dict[str, Any]] = []
        self.total = 0

    def add(self, item: dict[str, Any]) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(item)

    def count_only(self, n: int) -> None:
        """Problems that exist but are not listed (the list is long enough)."""
        self.total += max(0, n)


def section(
    title: str,
    problems: ProblemList,
    *,
    checked: int,
    warnings: ProblemList | None = None,
    notes: Sequence[str] = (),
    skipped: str | None = None,
    **extra: Any,
) -> Section:
    if skipped:
        status = "skipped"
    elif problems.total:
        status = "fail"
    elif warnings and warnings.total:
        status = "warn"
    else:
        status = "pass"
    out: Section = {
        "title": title,
        "status": status,
        "ok": status != "fail",
        "checked": checked,
        "problem_count": problems.total,
        "problems": problems.items,
        "problems_truncated": problems.total > len(problems.items),
        "warning_count": warnings.total if warnings else 0,
        "warnings": warnings.items if warnings else [],
        "notes": list(notes),
    }
    if skipped:
        out["skipped_reason"] = skipped
    out.update(extra)
    return out


def error_section(name: str, exc: Exception) -> Section:
    """A check that could not run proves nothing: its section fails the report."""
    out = section(name, ProblemList(1), checked=0)
    reason = f"check could not run: {exc.__class__.__name__}: {exc}"[:500]
    out.update(status="error", ok=False, problem_count=1, problems=[{"reason": reason}])
    return out


def build_report(
    sections: Mapping[str, Section],
    *,
    started: float,
    source: dict[str, Any],
    target: dict[str, Any],
    old_origins: Sequence[str],
    max_problems: int,
) -> dict[str, Any]:
    """The whole report; ``losses`` lists the first problems of every failed section.
    ``started`` is the ``time.monotonic()`` the run began at."""
    losses: list[dict[str, Any]] = []
    losses_total = 0
    for name, sec in sections.items():
        if sec["ok"]:
            continue
        losses_total += sec["problem_count"]
        for problem in sec["problems"]:
            if len(losses) < max_problems:
                losses.append({"section": name, **problem})
    return {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "mode": "full_access",
        "ok": all(s["ok"] for s in sections.values()),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 3),
        "source": source,
        "target": target,
        "old_origins": list(old_origins),
        "summary": {name: s["status"] for name, s in sections.items()},
        "losses": losses,
        "losses_total": losses_total,
        "sections": dict(sections),
    }
