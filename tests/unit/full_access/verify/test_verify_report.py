"""The verification report model and the skip-column reasons (pure)."""

from __future__ import annotations

import time

from wpmigrate.full_access.verify.db_checks import skip_reasons
from wpmigrate.full_access.verify.report import (
    REPORT_KIND,
    ProblemList,
    build_report,
    error_section,
    section,
)
from wpmigrate.rewrite.url_rewrite import DEFAULT_SKIP_COLUMNS


def test_problem_list_keeps_the_first_and_counts_all() -> None:
    problems = ProblemList(2)
    for i in range(3):
        problems.add({"i": i})
    problems.count_only(5)
    problems.count_only(-1)  # never lowers the count
    assert problems.items == [{"i": 0}, {"i": 1}]
    assert problems.total == 8


def test_section_status() -> None:
    none, one = ProblemList(5), ProblemList(5)
    one.add({"reason": "x"})
    assert section("t", none, checked=1)["status"] == "pass"
    assert section("t", none, checked=1, warnings=one)["status"] == "warn"
    failed = section("t", one, checked=1, extra=3)
    assert (failed["status"], failed["ok"], failed["extra"]) == ("fail", False, 3)
    skipped = section("t", one, checked=0, skipped="why")
    assert (skipped["status"], skipped["skipped_reason"]) == ("skipped", "why")


def test_report_lists_losses_of_failed_sections_only() -> None:
    many = ProblemList(10)
    for i in range(4):
        many.add({"i": i})
    warn = ProblemList(10)
    warn.add({"w": 1})
    sections = {
        "a": section("A", many, checked=4),
        "b": section("B", ProblemList(10), checked=1, warnings=warn),
        "c": error_section("c", RuntimeError("boom")),
    }
    report = build_report(sections, started=time.monotonic(), source={}, target={},
                          old_origins=["https://old.example"], max_problems=3)
    assert report["kind"] == REPORT_KIND and report["ok"] is False
    assert report["summary"] == {"a": "fail", "b": "warn", "c": "error"}
    assert report["losses_total"] == 5
    assert report["losses"] == [{"section": "a", "i": 0}, {"section": "a", "i": 1}, {"section": "a", "i": 2}]
    assert "RuntimeError: boom" in sections["c"]["problems"][0]["reason"]


def test_skip_reasons_explain_the_import_defaults() -> None:
    reasons = skip_reasons(DEFAULT_SKIP_COLUMNS)
    assert set(reasons) == set(DEFAULT_SKIP_COLUMNS)
    assert "identifier" in reasons[("posts", "guid")]
    assert skip_reasons([("links", "link_url")]) == {("links", "link_url"): "never rewritten by the import"}
    assert skip_reasons({("x", "y"): "mine"}) == {("x", "y"): "mine"}
