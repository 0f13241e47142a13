"""The adaptive sizing policy (grow while fast, shrink on slow answers, timeouts, 5xx and
413, and never again above a size that failed) and the retry loop around it."""

from __future__ import annotations

import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.client import CompanionUnavailable
from wpmigrate.full_access.companion.transfer import AdaptiveSize, host_limits, with_retries

KIB = 1024


def test_grows_while_fast_up_to_the_maximum() -> None:
    s = AdaptiveSize(256 * KIB, minimum=64 * KIB, maximum=2048 * KIB, target_seconds=4)
    seen = []
    for _ in range(6):
        s.succeeded(0.1)
        seen.append(s.value)
    assert seen == [512 * KIB, 1024 * KIB, 2048 * KIB, 2048 * KIB, 2048 * KIB, 2048 * KIB]
    assert s.grown == 3 and s.shrunk == 0


def test_steady_in_the_comfort_zone_and_shrinks_when_slow() -> None:
    s = AdaptiveSize(1024 * KIB, minimum=64 * KIB, maximum=8192 * KIB, target_seconds=4)
    s.succeeded(3.0)  # between half the target and the target: keep
    assert s.value == 1024 * KIB
    s.succeeded(5.0)
    assert s.value == 512 * KIB
    for _ in range(10):
        s.succeeded(9.0)
    assert s.value == 64 * KIB  # never below the minimum


def test_a_short_use_does_not_grow() -> None:
    s = AdaptiveSize(1024 * KIB, minimum=64 * KIB, maximum=8192 * KIB, target_seconds=4)
    s.succeeded(0.01, used=10)  # the last bytes of a file: says nothing about bigger chunks
    assert s.value == 1024 * KIB
    s.succeeded(0.01, used=1024 * KIB)
    assert s.value == 2048 * KIB


def test_failure_halves_and_lowers_the_ceiling_below_the_failed_size() -> None:
    s = AdaptiveSize(4096 * KIB, minimum=64 * KIB, maximum=65536 * KIB, target_seconds=4)
    s.failed(too_big=True)  # e.g. 413 at 4 MiB
    assert s.value == 2048 * KIB and s.maximum == 2048 * KIB
    for _ in range(5):
        s.succeeded(0.01)
    assert s.value == 2048 * KIB  # stays under what failed
    s.failed(too_big=False)  # a dropped connection or a busy host: smaller, ceiling unchanged
    assert s.maximum == 2048 * KIB and s.value == 1024 * KIB
    for _ in range(10):
        s.failed(too_big=True)
    assert s.value == s.maximum == 64 * KIB  # never below the minimum


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        AdaptiveSize(1, minimum=0, maximum=1, target_seconds=1)
    assert AdaptiveSize(10**9, minimum=1, maximum=100, target_seconds=1).value == 100


def test_host_limits_of_a_small_shared_host() -> None:
    lim = host_limits({"max_execution_time": 30, "memory_limit": 128 << 20})
    assert lim.target_seconds == 7.5 and lim.max_chunk_bytes == 32 << 20 and lim.max_page_bytes == 16 << 20
    tiny = host_limits({"max_execution_time": 5, "memory_limit": 64 << 20})
    assert tiny.target_seconds == 1.25 and tiny.max_chunk_bytes == 16 << 20 and tiny.max_page_bytes == 8 << 20
    free = host_limits({"max_execution_time": 0, "memory_limit": -1})
    assert free.target_seconds == 10 and free.max_chunk_bytes == 64 << 20


def test_retries_shrink_then_succeed() -> None:
    s = AdaptiveSize(1024 * KIB, minimum=64 * KIB, maximum=8192 * KIB, target_seconds=100)
    asked: list[int] = []
    sleeps: list[float] = []

    def call() -> str:
        asked.append(s.value)
        if s.value > 300 * KIB:
            raise CompanionUnavailable("status", "HTTP 413", 413)
        return "ok"

    assert with_retries(call, sizes=[s], what="x", sleep=sleeps.append) == "ok"
    assert asked == [1024 * KIB, 512 * KIB, 256 * KIB]
    assert sleeps == [0.5, 1.0] and s.maximum == 256 * KIB


def test_retries_give_up_as_a_transient_export_failure() -> None:
    s = AdaptiveSize(128 * KIB, minimum=64 * KIB, maximum=8192 * KIB, target_seconds=100)

    def call() -> str:
        raise CompanionUnavailable("timeout", "timed out")

    with pytest.raises(MigrationError) as info:
        with_retries(call, sizes=[s], what="rows of t", attempts=3, sleep=lambda _s: None)
    assert info.value.code == ErrorCode.EXPORT_FAILED and not info.value.permanent
    assert s.value == 64 * KIB
