"""Finding the REST API a WordPress site announces."""

from __future__ import annotations

from wpmigrate.web.rest_api_discovery import api_root_from_link_header, is_rest_index


def test_link_header() -> None:
    header = '<https://x.test/wp-json/>; rel="https://api.w.org/"'
    assert api_root_from_link_header(header, "https://x.test/") == "https://x.test/wp-json/"
    # Several links in one header; a relative target resolves against the page.
    header = '<https://x.test/?p=5>; rel=shortlink, </blog/wp-json/>; rel="https://api.w.org/"'
    assert api_root_from_link_header(header, "https://x.test/blog/") == "https://x.test/blog/wp-json/"
    assert api_root_from_link_header('<https://x.test/?p=5>; rel=shortlink', "https://x.test/") is None
    assert api_root_from_link_header("", "https://x.test/") is None


def test_rest_index() -> None:
    assert is_rest_index({"name": "S", "namespaces": ["oembed/1.0", "wp/v2"]})
    assert not is_rest_index({"namespaces": ["oembed/1.0"]})  # core routes switched off
    assert not is_rest_index({"code": "rest_disabled"})
    assert not is_rest_index(["wp/v2"])
    assert not is_rest_index(None)
