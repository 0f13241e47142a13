"""Site statistics: the pure parts (the sandbox test is in tests/integration)."""

from __future__ import annotations

from wpmigrate.full_access.stats import count_serialized_array


def test_count_serialized_array() -> None:
    assert count_serialized_array(b'a:2:{i:0;s:19:"akismet/akismet.php";i:1;s:9:"hello.php";}') == 2
    assert count_serialized_array(b"a:0:{}") == 0
    assert count_serialized_array(None) == 0
    assert count_serialized_array(b"not serialized") == 0
