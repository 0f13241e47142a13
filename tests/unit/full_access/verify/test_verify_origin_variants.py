"""The old-origin scan's spellings of an origin (pure)."""

from __future__ import annotations

from wpmigrate.full_access.verify.origin_variants import covering_variants, origin_variants


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
                    "\\\\\\/\\\\\\/")
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
    """What db_checks.old_origins does in SQL: lower-case both, then a byte search."""
    cover = covering_variants(v.lower() for v in origin_variants(origin))
    return any(c.encode() in text.lower().encode() for c in cover)


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
