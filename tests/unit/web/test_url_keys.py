"""URL normal forms and keys (web.url_keys)."""

from __future__ import annotations

import pytest

from wpmigrate.web.url_keys import canonical_url, dedupe_key, host_key, normalise_url, origin_of, url_key

BASE = "https://source.example/blog/post/"
UP = "https://source.example/wp-content/uploads"


def test_normalise_and_dedupe() -> None:
    assert normalise_url("HTTP://Example.COM:80/a/b/?utm_source=x&id=3#frag") == "http://example.com/a/b/?id=3"
    assert normalise_url("https://x.test:443/caf%c3%a9/") == "https://x.test/caf%C3%A9/"
    assert dedupe_key("https://www.x.test/a/") == dedupe_key("http://x.test/a") == dedupe_key("http://x.test/a/#c")
    assert dedupe_key("http://x.test/?p=1") != dedupe_key("http://x.test/?p=2")


def test_url_key_ignores_scheme_and_trailing_slash_only() -> None:
    assert url_key("http://h/about") == url_key("https://H/about/") == "h/about"
    assert url_key("https://h/?p=1") == "h?p=1"
    # Stricter than dedupe_key: the www. twin and tracking parameters stay distinct.
    assert url_key("https://www.h/about/") != url_key("https://h/about/")
    assert url_key("https://h/a/?utm_source=x") != url_key("https://h/a/")


def test_canonical_url() -> None:
    assert canonical_url("/wp-content/uploads/a.jpg#x", BASE) == f"{UP}/a.jpg"
    assert canonical_url("../../wp-content/uploads/a.jpg", BASE) == f"{UP}/a.jpg"
    assert canonical_url("//source.example/a.png", BASE) == "https://source.example/a.png"
    assert canonical_url("HTTPS://Source.Example:443/Café.png", BASE) == "https://source.example/Caf%C3%A9.png"
    assert canonical_url("https://source.example/Caf%c3%a9.png", BASE) == "https://source.example/Caf%C3%A9.png"
    assert canonical_url("http://source.example:8080/a b.png?v=1", BASE) == "http://source.example:8080/a%20b.png?v=1"
    assert canonical_url("/a\n.png", BASE) == "https://source.example/a.png"
    for bad in ("data:image/png;base64,AA", "javascript:alert(1)", "mailto:a@b", "#top", "", "http://[::1"):
        assert canonical_url(bad, BASE) is None


def test_host_key_is_scheme_and_authority() -> None:
    assert host_key("HTTPS://Example.COM:8443/a/b?c") == "https://example.com:8443"
    assert host_key("http://example.com/") != host_key("https://example.com/")


@pytest.mark.parametrize(
    ("url", "origin"),
    [("https://Example.com/", "https://Example.com"), ("http://h:8080/blog/", "http://h:8080/blog")],
)
def test_origin(url: str, origin: str) -> None:
    assert origin_of(url) == origin
