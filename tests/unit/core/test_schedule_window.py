from datetime import UTC, datetime

import pytest

from wpmigrate.core.schedule_window import earliest_start, in_window


def at(h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, 22, h, m, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [(at(23), True), (at(2), True), (at(5, 59), True), (at(6), False), (at(12), False), (at(22), True)],
)
def test_window_wrapping_midnight(moment: datetime, inside: bool) -> None:
    assert in_window(moment, "22:00-06:00", "UTC") is inside


def test_now_starts_immediately() -> None:
    assert earliest_start("now", at(12), "22:00-06:00", "UTC") == at(12)


def test_off_peak_outside_window_waits_for_its_start() -> None:
    assert earliest_start("off_peak", at(12), "22:00-06:00", "UTC") == at(22)


def test_off_peak_inside_window_starts_now() -> None:
    assert earliest_start("off_peak", at(1), "22:00-06:00", "UTC") == at(1)


def test_off_peak_respects_the_window_timezone() -> None:
    # 22:00 in Johannesburg (UTC+2) is 20:00 UTC.
    assert earliest_start("off_peak", at(12), "22:00-06:00", "Africa/Johannesburg") == at(20)


def test_iso_schedule_in_the_past_means_now() -> None:
    assert earliest_start("2020-01-01T00:00:00Z", at(12), "22:00-06:00", "UTC") == at(12)
    assert earliest_start("2026-11-22T18:30:00+00:00", at(12), "22:00-06:00", "UTC") == at(18, 30)
