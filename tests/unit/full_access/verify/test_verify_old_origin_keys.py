"""The old-origin scan's one explained case: an old URL in serialized array keys alone
(issue 10 item 13: keys are not rewritten by default, and reported when found)."""

from __future__ import annotations

from wpmigrate.full_access.verify.origin_scan import only_in_array_keys

NEEDLES = [b"//old-host", b"\\/\\/old-host"]


def test_url_only_in_a_key_is_explained() -> None:
    assert only_in_array_keys(b'a:1:{s:20:"http://old-host/page";s:3:"yes";}', NEEDLES)
    assert only_in_array_keys(b'a:1:{s:20:"HTTP://OLD-HOST/PAGE";i:1;}', NEEDLES)  # any case
    inner = b'a:1:{s:15:"http://old-host";i:1;}'
    assert only_in_array_keys(b'a:1:{i:0;s:%d:"%s";}' % (len(inner), inner), NEEDLES)  # nested


def test_url_in_a_value_is_not_explained() -> None:
    assert not only_in_array_keys(b'a:1:{s:20:"http://old-host/page";s:15:"http://old-host";}', NEEDLES)
    assert not only_in_array_keys(b'a:1:{i:0;s:15:"http://old-host";}', NEEDLES)
    assert not only_in_array_keys(b's:15:"http://old-host";', NEEDLES)
    # Not serialized, broken, or an opaque C: payload: a loss.
    assert not only_in_array_keys(b'{"http://old-host": 1}', NEEDLES)
    assert not only_in_array_keys(b's:2:"http://old-host";', NEEDLES)
    opaque = b'a:2:{s:15:"http://old-host";i:1;i:0;C:1:"X":15:{http://old-host}}'
    assert not only_in_array_keys(opaque, NEEDLES)
    # A property name is not an array key (objects' names are never rewritten either).
    assert not only_in_array_keys(b'O:1:"X":1:{s:15:"http://old-host";i:1;}', NEEDLES)
