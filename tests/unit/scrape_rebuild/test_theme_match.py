"""Theme matching against the real Twenty Twenty-Three theme Debian ships (its default
look and its style variations, each with its own palette)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from wpmigrate.scrape_rebuild.theme_match import (
    ThemeCandidate,
    candidates_from_theme_dir,
    delta_e,
    extract_look,
    match_theme,
)

TT3 = Path("/usr/share/wordpress/wp-content/themes/twentytwentythree")
CANDIDATES = candidates_from_theme_dir(TT3)


def _preset_page(candidate: ThemeCandidate) -> str:
    props = ";".join(f"--wp--preset--color--{slug}: {color}" for slug, color in candidate.palette.items())
    return (f'<html><head><style id="global-styles-inline-css">body{{{props}}}</style></head>'
            "<body><main><p>Hello</p></main></body></html>")


def _nudged(color: str, rng: random.Random) -> str:
    return "#" + "".join(f"{min(255, max(0, int(color[i:i + 2], 16) + rng.randint(-4, 4))):02x}"
                         for i in (1, 3, 5))


def _css_page(candidate: ThemeCandidate, rng: random.Random) -> str:
    """A non-WordPress page styled with (nearly) the candidate's colors, no presets."""
    p = {slug: _nudged(c, rng) for slug, c in candidate.palette.items()}
    rules = [f"body {{ background: {p.get('base')}; color: {p.get('contrast')} }}",
             f"a {{ color: {p.get('primary')} }}", f".button {{ background-color: {p.get('secondary')} }}",
             f"footer {{ background: {p.get('tertiary')} }}"]
    return f"<html><head><style>{' '.join(rules)}</style></head><body><p>x</p></body></html>"


def test_the_debian_theme_offers_variations() -> None:
    assert len(CANDIDATES) >= 5
    assert len({tuple(sorted(c.palette.items())) for c in CANDIDATES}) == len(CANDIDATES)


@pytest.mark.parametrize("candidate", CANDIDATES, ids=lambda c: c.label)
def test_preset_palette_picks_its_own_variation(candidate: ThemeCandidate) -> None:
    result = match_theme(extract_look(_preset_page(candidate)), CANDIDATES)
    assert result["label"] == candidate.label
    assert result["confidence"] > 0.7
    assert result["by"] == "preset palette"


@pytest.mark.parametrize("candidate", CANDIDATES, ids=lambda c: c.label)
def test_plain_css_colors_pick_the_closest_variation(candidate: ThemeCandidate) -> None:
    result = match_theme(extract_look(_css_page(candidate, random.Random(candidate.label))), CANDIDATES)
    assert result["label"] == candidate.label, result["ranking"]
    assert result["by"] == "css colors"


def test_an_unrelated_palette_has_low_confidence() -> None:
    page = "<style>body{background:#7a3b12;color:#c0c0c0} a{color:#123456}</style>"
    result = match_theme(extract_look(page), CANDIDATES)
    assert result["confidence"] < 0.5


def test_layout_and_fonts_are_read() -> None:
    look = extract_look('<style>h1{font-family:"Source Serif Pro", serif}</style>'
                        '<div id="primary"></div><aside class="widget-area"></aside>')
    assert look.has_sidebar and look.fonts == ["source-serif-pro"]


def test_color_distance_is_perceptual() -> None:
    assert delta_e("#000000", "#ffffff") > 99
    assert delta_e("#336699", "#336699") == 0
    assert delta_e("#336699", "#35679a") < 2
