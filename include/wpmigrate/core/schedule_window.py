"""When may a migration start? ``now``, the platform's off-peak window, or a fixed time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def _parse_window(window: str) -> tuple[time, time]:
    start, end = (time.fromisoformat(part.strip()) for part in window.split("-"))
    return start, end


def in_window(moment: datetime, window: str, tz: str) -> bool:
    start, end = _parse_window(window)
    local = moment.astimezone(ZoneInfo(tz)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # the window wraps midnight


def earliest_start(schedule: str, now: datetime, window: str, tz: str) -> datetime:
    """The first moment at or after ``now`` when the run may do its work (aware UTC)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if schedule == "now":
        return now
    if schedule != "off_peak":
        return max(now, datetime.fromisoformat(schedule.replace("Z", "+00:00")))
    if in_window(now, window, tz):
        return now
    zone = ZoneInfo(tz)
    start, _ = _parse_window(window)
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), start, tzinfo=zone)
    if candidate <= local_now:
        candidate += timedelta(days=1)
    return candidate.astimezone(ZoneInfo("UTC"))
