"""The verification report as one self-contained HTML page for people.

Every value may come from an untrusted source site (titles, option names, URLs),
so everything goes through ``html.escape`` - there is no raw-HTML path. No
scripts, no external resources: the page can be stored as an artifact and opened
anywhere, and a strict CSP is declared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

MAX_CELL_CHARS = 500

_STATUS_LABEL = {
    "pass": "PASS", "warn": "PASS (with notes)", "fail": "FAIL", "skipped": "SKIPPED", "error": "ERROR",
}
# Tables the verifier attaches to sections, with their column order.
_DETAIL_TABLES: Sequence[tuple[str, str]] = (
    ("tables", "Row counts"),
    ("counts", "Counts"),
    ("columns_with_hits", "Columns with old-origin references"),
    ("candidates_per_table", "Serialized candidates per table"),
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2327;
max-width:1200px}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{border:1px solid #dcdcde;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f7f7}td{word-break:break-word}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:3px;font-weight:600;font-size:12px}
.pass{background:#d1e7dd;color:#0a3622}.warn{background:#fff3cd;color:#664d03}
.fail,.error{background:#f8d7da;color:#58151c}.skipped{background:#e2e3e5;color:#2b2f32}
.verdict{font-size:1.3rem;padding:.6rem 1rem;border-radius:4px;margin:1rem 0}
.muted{color:#646970}ul{margin:.3rem 0 1rem}
"""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    if len(value) > MAX_CELL_CHARS:
        value = value[:MAX_CELL_CHARS] + "…"
    return value


def _e(value: Any) -> str:
    return escape(_text(value), quote=True)


def _badge(status: str) -> str:
    cls = status if status in _STATUS_LABEL else "skipped"
    return f'<span class="badge {cls}">{_e(_STATUS_LABEL.get(status, status))}</span>'


def _table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    rows = list(rows)
    if not rows:
        return '<p class="muted">None.</p>'
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="mono">{_e(row.get(c))}</td>' for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _mapping_rows(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [{"name": k, "value": v} for k, v in value.items()]
    if isinstance(value, list):
        return [v if isinstance(v, Mapping) else {"value": v} for v in value]
    return []


def _section_html(key: str, section: Mapping[str, Any]) -> str:
    parts = [
        f'<h2 id="{_e("s-" + key)}">{_e(section.get("title", key))} '
        f'{_badge(str(section.get("status")))}</h2>',
        f'<p class="muted">Checked: {_e(section.get("checked"))}'
        f' · Problems: {_e(section.get("problem_count"))}'
        f' · Warnings: {_e(section.get("warning_count", 0))}'
        + (f' · {_e(section["duration_s"])} s' if section.get("duration_s") is not None else "")
        + "</p>",
    ]
    if section.get("skipped_reason"):
        parts.append(f"<p>Skipped: {_e(section['skipped_reason'])}</p>")
    notes = section.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    problems = section.get("problems") or []
    if problems:
        more = ""
        if section.get("problem_count", 0) > len(problems):
            more = f" (first {len(problems)} of {_e(section['problem_count'])})"
        parts.append(f"<h3>Problems{more}</h3>" + _table(problems))
    warnings = section.get("warnings") or []
    if warnings:
        parts.append("<h3>Warnings</h3>" + _table(warnings))
    for field, title in _DETAIL_TABLES:
        if section.get(field):
            parts.append(f"<h3>{_e(title)}</h3>" + _table(_mapping_rows(section[field])))
    return "\n".join(parts)


def _database(side: Mapping[str, Any]) -> str:
    """``"wp_db (prefix wp_)"``, or "" for a side known without its database (Mode B)."""
    if not side.get("database"):
        return ""
    prefix = f" (prefix {_text(side.get('prefix'))})" if side.get("prefix") is not None else ""
    return f"{_text(side['database'])}{prefix}"


def render_report_html(report: Mapping[str, Any]) -> str:
    """A complete HTML document for a verification report (see ``verify.verify_full_access``)."""
    ok = bool(report.get("ok"))
    sections: Mapping[str, Any] = report.get("sections") or {}
    source = report.get("source") or {}
    target = report.get("target") or {}
    title = "Migration verification: " + ("PASSED" if ok else "FAILED")

    summary_rows = "".join(
        f'<tr><td><a href="#{_e("s-" + key)}">{_e(s.get("title", key))}</a></td>'
        f"<td>{_badge(str(s.get('status')))}</td><td>{_e(s.get('checked'))}</td>"
        f"<td>{_e(s.get('problem_count'))}</td><td>{_e(s.get('warning_count', 0))}</td></tr>"
        for key, s in sections.items()
    )
    losses = report.get("losses") or []
    losses_html = ""
    if losses:
        total = report.get("losses_total", len(losses))
        losses_html = f"<h2>Losses ({_e(total)})</h2>" + _table(losses)

    # Each mode's report has its own shape (Mode A: databases and table prefixes; Mode B:
    # the source's URL only): the header shows what this report holds, nothing empty.
    meta = [
        ("Source", " · ".join(filter(None, (_text(source.get("url")), _database(source))))),
        ("Target", " · ".join(filter(None, (_text(target.get("url")), _database(target))))),
        ("Old origins", ", ".join(_text(o) for o in report.get("old_origins") or [])),
        ("Generated", report.get("generated_at")),
    ]
    if report.get("duration_s") is not None:
        meta.append(("Duration", f"{_text(report.get('duration_s'))} s"))
    if source.get("from"):  # a route without a database connection compares with its export
        meta.insert(1, ("Source side", source["from"]))
    release = report.get("source_release") or {}
    left = ""
    if release.get("companion") not in (None, "not_used"):
        meta.append(("Companion plugin", "removed from the source" if release.get("removed")
                     else _text(release.get("companion"))))
        if not release.get("removed") and release.get("action_needed"):
            left = (f'<div class="verdict fail">Action needed on the source: '
                    f'{_e(release["action_needed"])}</div>')

    meta_html = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in meta)
    body = "\n".join(_section_html(key, s) for key, s in sections.items())
    verdict_cls = "pass" if ok else "fail"
    verdict = "No loss found." if ok else "The target differs from the source."
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<div class="verdict {verdict_cls}">{_e(verdict)}</div>
<table>{meta_html}</table>
{left}
<h2>Summary</h2>
<table><thead><tr><th>Check</th><th>Result</th><th>Checked</th><th>Problems</th><th>Warnings</th></tr></thead>
<tbody>{summary_rows}</tbody></table>
{losses_html}
{body}
</body></html>
"""
