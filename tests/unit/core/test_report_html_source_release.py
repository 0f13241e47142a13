"""The HTML report says what the source side was and what the migration left on the source."""

from __future__ import annotations

from wpmigrate.core.report_html import render_report_html


def _report(**extra: object) -> dict:
    return {"ok": True, "generated_at": "2026-12-05T00:00:00+00:00", "duration_s": 1.0,
            "source": {"database": "tgt", "prefix": "_wpm_rep_abc123_"}, "target": {}, "sections": {},
            **extra}


def test_removed_companion_and_export_source_are_shown() -> None:
    page = render_report_html(_report(
        source={"database": "tgt", "prefix": "_wpm_rep_abc123_", "from": "export artifacts (route wp_admin)"},
        source_release={"route": "wp_admin", "companion": "removed", "removed": True}))
    assert "export artifacts (route wp_admin)" in page
    assert "removed from the source" in page and "Action needed" not in page


def test_a_plugin_left_behind_asks_for_action_escaped() -> None:
    page = render_report_html(_report(source_release={
        "route": "wp_admin", "companion": "left_installed", "removed": False,
        "action_needed": "Delete <b>wpmigrate-companion</b> by hand"}))
    assert "Action needed on the source" in page
    assert "&lt;b&gt;wpmigrate-companion&lt;/b&gt;" in page and "<b>wpmigrate" not in page


def test_routes_without_a_plugin_say_nothing_about_it() -> None:
    page = render_report_html(_report(source_release={"route": "sftp_db", "companion": "not_used",
                                                      "removed": True}))
    assert "Companion plugin" not in page and "Action needed" not in page
