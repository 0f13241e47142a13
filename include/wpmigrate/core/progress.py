"""Progress percent and current step of a run, from its task states (what the portal
shows). Weights follow the seed's progress points for Mode A (section 5.3); Mode B's
give the source-bound steps (scraping, media) and the import most of the bar."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FULL_ACCESS_WEIGHTS: dict[str, int] = {
    "validate_source": 5,
    "wait_for_window": 0,
    "provision_target": 10,
    "export_database": 15,
    "export_files": 15,
    "release_source": 0,  # the companion plugin's removal: seconds
    "import_database": 20,
    "import_files": 15,
    "verify": 15,
    "notify": 5,
}
SCRAPE_REBUILD_WEIGHTS: dict[str, int] = {
    "validate_source": 5,
    "wait_for_window": 0,
    "provision_target": 5,
    "discover": 8,
    "scrape_comments": 2,  # a few REST list pages
    "scrape_content": 20,
    "download_media": 15,
    "match_theme": 5,
    "build_site": 5,
    "import_content": 20,
    "verify": 10,
    "notify": 5,
}
DONE = {"success", "skipped"}
_ACTIVE = ("running", "deferred", "up_for_reschedule", "up_for_retry")


def fold_mapped(task_instances: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """``{task_id: state}`` from the REST API's task instances, one state per mapped task:
    done when every instance is, active while any is, else the first other state."""
    by_task: dict[str, list[str | None]] = {}
    for ti in task_instances:
        by_task.setdefault(ti["task_id"], []).append(ti.get("state"))
    folded: dict[str, str | None] = {}
    for task, states in by_task.items():
        if all(s in DONE for s in states):
            folded[task] = "success" if "success" in states else "skipped"
        else:
            active = [s for s in states if s in _ACTIVE]
            folded[task] = active[0] if active else next(s for s in states if s not in DONE)
    return folded


def progress(states: Mapping[str, str | None], weights: Mapping[str, int] = FULL_ACCESS_WEIGHTS
             ) -> tuple[int, str | None]:
    """``(percent 0-100, current step)``; the current step is the first running task,
    else the first not yet done in weight order."""
    total = sum(weights.values())
    done = sum(w for task, w in weights.items() if states.get(task) in DONE)
    running = [t for t in weights if states.get(t) in _ACTIVE]
    pending = [t for t in weights if states.get(t) not in DONE]
    current = running[0] if running else (pending[0] if pending else None)
    return round(100 * done / total), current
