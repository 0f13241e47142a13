"""The PHP unserialize oracle (needs the php CLI, no sandbox)."""

from __future__ import annotations

import shutil

import pytest

from wpmigrate.full_access.verify.php_oracle import PhpUnserializeOracle


@pytest.mark.skipif(shutil.which("php") is None, reason="needs the php CLI")
def test_php_oracle_judges_like_php() -> None:
    good = [
        b'a:1:{s:3:"url";s:21:"https://example.com/x";}',
        b"b:0;", b"N;", b"i:-5;", b"d:0.5;",
        'a:1:{i:0;s:5:"café";}'.encode(),  # 5 bytes, 4 characters
        b'O:9:"NotLoaded":1:{s:1:"a";i:1;}',  # class not loaded: still valid
    ]
    bad = [
        b'a:1:{s:3:"url";s:22:"https://example.com/x";}',  # wrong length
        'a:1:{i:0;s:4:"café";}'.encode(),  # character count instead of bytes
        b'a:2:{i:0;i:1;',  # truncated
        b"s:5:\"abc\";",
    ]
    with PhpUnserializeOracle() as oracle:
        assert oracle.check(good + bad) == [True] * len(good) + [False] * len(bad)
        assert oracle.check([b"x" * 3_000_000 + b"\n\r"]) == [False]  # newlines survive base64
