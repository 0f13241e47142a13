"""Title comparison of the HTTP check (pure)."""

from __future__ import annotations

import pytest

from wpmigrate.full_access.verify.http_checks import normalise_title, title_matches


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("Don't stop -- \"believing\"...", "Don&#8217;t stop &#8212; &#8220;believing&#8221;&#8230;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("Tom & Jerry", "Tom &#038; Jerry"),
        ("Wordpress tips", "WordPress tips"),  # capital_P_dangit
        ("2x4 (c) 2024", "2&#215;4 &#169; 2024"),
        ("東京のカフェ ☕ Café", "東京のカフェ ☕ Café"),
        ("  spaced   out ", "spaced out"),
    ],
)
def test_title_normalisation_undoes_wptexturize(source: str, rendered: str) -> None:
    assert normalise_title(source) == normalise_title(rendered)


def test_title_matches_document_title_and_protected_prefix() -> None:
    assert title_matches("Hello world", ["Hello world &#8211; My Site"])
    assert title_matches("Hello world", [None, "Protected: Hello world"], protected=True)
    assert not title_matches("Hello world", ["Hello", "Another post &#8211; My Site"])
    assert title_matches("", ["anything"])  # untitled posts have nothing to compare
