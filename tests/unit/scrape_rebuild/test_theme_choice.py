"""The theme decision: the conf's select_theme among the target's looks, or the source's
look (home page plus stylesheets) matched against them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild.polite_http import FetchResult, SkipUrl
from wpmigrate.scrape_rebuild.theme_choice import auto_match, select_theme, stylesheets
from wpmigrate.scrape_rebuild.theme_match import ThemeCandidate

CANDIDATES = [
    ThemeCandidate("twentytwentythree", None, {"base": "#ffffff", "contrast": "#000000"}),
    ThemeCandidate("twentytwentythree", "Pilgrimage", {"base": "#1b1031", "contrast": "#ffffff"}),
]


def test_select_theme_names_a_variation_or_the_theme() -> None:
    assert select_theme("twentytwentythree/Pilgrimage", CANDIDATES) == {
        "theme": "twentytwentythree", "variation": "Pilgrimage", "label": "twentytwentythree/Pilgrimage",
        "confidence": 1.0, "by": "select_theme"}
    assert select_theme("twentytwentythree", CANDIDATES)["variation"] is None


def test_select_theme_the_target_lacks_is_invalid_conf() -> None:
    with pytest.raises(MigrationError, match="offers") as err:
        select_theme("astra", CANDIDATES)
    assert err.value.code == ErrorCode.INVALID_CONF


class _Fetcher:
    def __init__(self, bodies: dict[str, tuple[str, str]]) -> None:
        self.bodies = bodies
        self.asked: list[str] = []

    def get(self, url: str, **_: Any) -> FetchResult:
        self.asked.append(url)
        if url not in self.bodies:
            raise SkipUrl(url, "robots")
        ctype, body = self.bodies[url]
        return FetchResult(url, 200, httpx.Headers({"content-type": ctype}), body.encode())


HOME = ('<html><head><link rel="stylesheet" href="/a.css"><link rel="stylesheet" href="/gone.css">'
        "</head><body><p>x</p></body></html>")


def test_stylesheets_fetched_relative_to_the_page_and_missing_ones_left_out() -> None:
    fetcher = _Fetcher({"https://old.example/a.css": ("text/css", "body{color:#000}")})
    assert list(stylesheets(fetcher, HOME, "https://old.example/")) == ["body{color:#000}"]
    assert fetcher.asked == ["https://old.example/a.css", "https://old.example/gone.css"]


def test_auto_match_reads_the_look_from_home_page_and_css() -> None:
    fetcher = _Fetcher({"https://old.example/": ("text/html", HOME),
                        "https://old.example/a.css": ("text/css", "body{--wp--preset--color--base:#1b1031;"
                                                                  "--wp--preset--color--contrast:#fff}")})
    choice = auto_match(fetcher, "https://old.example/", CANDIDATES)
    assert choice["label"] == "twentytwentythree/Pilgrimage" and choice["by"] == "preset palette"
    assert choice["look"]["preset_palette"] == {"base": "#1b1031", "contrast": "#ffffff"}
