"""The old-origin scan's spellings of an origin (pure)."""

from __future__ import annotations

import re

import pytest

from wpmigrate.full_access.verify.origin_variants import (
    ESCAPE_MARKERS,
    covering_variants,
    escaped_origin_pattern,
    origin_variants,
)


def test_origin_variants_cover_every_spelling() -> None:
    variants = origin_variants("https://www.Old-Site.example/")
    for expected in (
        "http://www.old-site.example", "https://old-site.example", "//old-site.example",
        "https:\\/\\/www.old-site.example", "\\/\\/old-site.example",
        "https%3A%2F%2Fold-site.example", "%2F%2Fwww.old-site.example", "%2f%2fold-site.example",
    ):
        assert expected in variants
    assert len(variants) == len(set(variants))


def test_origin_variants_keep_the_port_and_skip_www_for_ips() -> None:
    variants = origin_variants("http://127.0.0.1:8080")
    assert "//127.0.0.1:8080" in variants
    assert "http%3A%2F%2F127.0.0.1%3A8080" in variants
    assert not any("www." in v for v in variants)


def test_covering_variants_are_minimal_and_complete() -> None:
    variants = origin_variants("https://old.example")
    cover = covering_variants(variants)
    assert set(cover) == {
        f"{sep}{h}"
        for sep in ("//", "\\/\\/", "%2F%2F", "%2f%2f", "\\u002F\\u002F", "\\u002f\\u002f",
                    "\\\\\\/\\\\\\/", "&#x2f;&#x2f;", "&#47;&#47;", "&sol;&sol;")
        for h in ("old.example", "www.old.example")
    }
    for v in variants:  # every variant is found by searching the cover
        assert any(c in v for c in cover)


# Issue 10 item 11: the scan looks for every form the rewriter handles, and more.
ISSUE_10_FORMS = {
    "plain": "http://old-host.example/a",
    "json": "http:\\/\\/old-host.example\\/a",
    "json twice": "http:\\\\\\/\\\\\\/old-host.example\\\\\\/a",
    "u002F": "http:\\u002F\\u002Fold-host.example\\u002Fa",
    "u002f": "http:\\u002f\\u002fold-host.example\\u002fa",
    "urlencoded": "http%3A%2F%2Fold-host.example%2Fa+b",
    "rawurlencoded": "http%3A%2F%2Fold-host.example%2Fa%20b",
    "lower-case hex": "http%3a%2f%2fold-host.example%2fa",
    "upper-case host": "HTTP://OLD-HOST.EXAMPLE/a",
    "upper-case host, json": "HTTPS:\\/\\/WWW.OLD-HOST.EXAMPLE",
    "upper-case host, urlencoded": "HTTPS%3A%2F%2FOLD-HOST.EXAMPLE",
    "protocol-relative u002F": "src=\\u002F\\u002Fold-host.example\\u002Fi.png",
}


def _scan_finds(origin: str, text: str) -> bool:
    """What origin_scan.old_origins does in SQL: lower-case both, then a byte search for
    the variants, and REGEXP for escaped spellings in a value holding an escape marker."""
    low = text.lower().encode()
    cover = covering_variants(v.lower() for v in origin_variants(origin))
    if any(c.encode() in low for c in cover):
        return True
    return any(m.encode() in low for m in ESCAPE_MARKERS) and bool(
        re.search(escaped_origin_pattern([origin]).encode(), low))


def test_scan_finds_every_form_of_issue_10() -> None:
    origin = "http://old-host.example"
    missed = [name for name, text in ISSUE_10_FORMS.items() if not _scan_finds(origin, text)]
    assert missed == []
    assert not _scan_finds("http://old-host.example", "//gold-host.example and http:/old-host.example")


def test_scan_finds_idn_hosts_in_both_forms() -> None:
    for origin in ("https://bücher.example", "https://xn--bcher-kva.example"):
        for text in ("http://bücher.example/x", "//XN--BCHER-KVA.EXAMPLE/y",
                     "http%3A%2F%2Fb%C3%BCcher.example", "https:\\u002F\\u002Fwww.xn--bcher-kva.example"):
            assert _scan_finds(origin, text), (origin, text)


# Slashes as HTML references, and host characters escaped (any mix, any case).
ESCAPED_FORMS = {
    "hex slash": "<a href='https:&#x2F;&#x2F;old.example.com/p'>",
    "decimal slash": "<a href='http:&#47;&#47;old.example.com/p'>",
    "named slash": "u=https:&sol;&sol;old.example.com&sol;",
    "protocol-relative decimal": "src='&#47;&#47;old.example.com/i.png'",
    "zero-padded, no semicolon": "src='&#047&#x002F;old.example.com/i.png'",
    "decimal host letter": "<a href='https://&#111;ld.example.com/'>",
    "upper-case letter code": "<a href='https://&#79;ld.example.com/'>",
    "decimal dot": "<a href='//old&#46;example.com/'>",
    "hex dot": "<a href='https://old&#x2e;example.com/'>",
    "hex dot, upper case": "<a href='HTTPS://OLD&#X2E;EXAMPLE.COM/'>",
    "named dot": "<a href='//old&period;example.com/'>",
    "percent host letter": "go=https://%6Fld.example.com/x",
    "percent, upper-case hex": "go=https://%6Fld%2Eexample.com/x",
    "json slashes, escaped dot": '{"u":"https:\\/\\/old&#46;example.com"}',
    "everything escaped": "&#47;&#x2f;&#111;&#108;&#100;&#46;&#101;&#120;&#97;&#109;&#112;&#108;&#101;&#46;"
                          "&#99;&#111;&#109;",
    "www, mixed slashes": "&#47;/www.old.example.com/",
}


@pytest.mark.parametrize("name", sorted(ESCAPED_FORMS))
def test_scan_finds_escaped_spellings(name: str) -> None:
    assert _scan_finds("https://old.example.com", ESCAPED_FORMS[name])


def test_slash_references_are_listed_variants() -> None:
    variants = origin_variants("https://old.example.com")
    for v in ("https:&#x2f;&#x2f;old.example.com", "&#47;&#47;old.example.com",
              "&sol;&sol;www.old.example.com"):
        assert v in variants


@pytest.mark.parametrize("text", [
    "//old&#46;example.org/", "https://other.example/&#111;ld.example.com", "fish &amp; chips 100%",
    "mailto:info@old&#46;example.com",
])
def test_escaped_pattern_needs_the_old_host_after_a_slash_pair(text: str) -> None:
    assert not _scan_finds("https://old.example.com", text)
