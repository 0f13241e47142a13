"""Progress percent and current step of a run, from its task states (what the portal
shows). Weights follow the seed's progress points for Mode A (section 5.3)."""

from __future__ import annotations

from collections.abc import Mapping

FULL_ACCESS_WEIGHTS: dict[str, int] = {
    "validate_source": 5,
    "wait_for_window": 0,
    "provision_target": 10,
    "export_database": 15,
    "export_files": 15,
    "import_database": 20,
    "import_files": 15,
    "verify": 15,
    "notify": 5,
}
DONE = {"success", "skipped"}


def progress(states: Mapping[str, str | None], weights: Mapping[str, int] = FULL_ACCESS_WEIGHTS
             ) -> tuple[int, str | None]:
    """``(percent 0-100, current step)``; the current step is the first running task,
    else the first not yet done in weight order."""
    total = sum(weights.values())
    done = sum(w for task, w in weights.items() if states.get(task) in DONE)
    running = [t for t in weights if states.get(t) in ("running", "deferred", "up_for_reschedule",
                                                       "up_for_retry")]
    pending = [t for t in weights if states.get(t) not in DONE]
    current = running[0] if running else (pending[0] if pending else None)
    return round(100 * done / total), current
