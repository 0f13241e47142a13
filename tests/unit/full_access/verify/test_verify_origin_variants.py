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
        for sep in ("//", "\\/\\/", "%2F%2F", "%2f%2f")
        for h in ("old.example", "www.old.example")
    }
    for v in variants:  # every variant is found by searching the cover
        assert any(c in v for c in cover)
