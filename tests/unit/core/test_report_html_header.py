"""Each mode's report header shows what that report holds: Mode A its databases, prefixes
and duration; Mode B (no database, no duration) its URLs, without empty placeholders."""

from __future__ import annotations

import re

from wpmigrate.core.report_html import render_report_html

SECTION = {"title": "Media", "status": "pass", "checked": 3, "problem_count": 0}


def _header(page: str) -> dict[str, str]:
    return dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]*)</td></tr>", page))


def test_mode_a_header_shows_databases_prefixes_and_duration() -> None:
    page = render_report_html({
        "ok": True, "generated_at": "g", "duration_s": 12.5, "old_origins": ["http://old.example"],
        "source": {"database": "wp_source", "prefix": "wpsrc_"},
        "target": {"url": "http://new.example", "database": "wp_target", "prefix": "wp_"},
        "sections": {"db": {**SECTION, "duration_s": 0.25}}})
    header = _header(page)
    assert header["Source"] == "wp_source (prefix wpsrc_)"
    assert header["Target"] == "http://new.example · wp_target (prefix wp_)"
    assert header["Duration"] == "12.5 s" and "· 0.25 s</p>" in page


def test_mode_b_header_has_no_empty_prefix_or_duration() -> None:
    page = render_report_html({
        "ok": False, "mode": "scrape_rebuild", "generated_at": "g", "old_origins": ["http://old.example"],
        "source": {"url": "http://old.example/"}, "target": {"url": "http://new.example"},
        "sections": {"media": SECTION}})
    header = _header(page)
    assert header["Source"] == "http://old.example/" and header["Target"] == "http://new.example"
    assert "Duration" not in header and "(prefix" not in page and " s</p>" not in page
