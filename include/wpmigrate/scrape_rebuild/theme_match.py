"""Mode B theme matching: how the source looks (palette, fonts, layout) against the
themes and style variations the target offers, with a recorded confidence.

Block themes print their palette as CSS custom properties
(``--wp--preset--color--<slug>: <value>``) in the global-styles inline CSS, so a
WordPress source usually tells its palette by role; other sites give only the colors
their CSS uses, which are compared by perceptual distance (CIE76 in Lab space).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from wpmigrate.core.contracts import RankedTheme, ThemeChoice

ROLES = ("base", "contrast", "primary", "secondary", "tertiary")
_PRESET_COLOR = re.compile(r"--wp--preset--color--([a-z0-9-]+)\s*:\s*([^;}\s]+)", re.I)
_PRESET_FONT = re.compile(r"--wp--preset--font-family--([a-z0-9-]+)\s*:\s*([^;}]+)", re.I)
_HEX = re.compile(r"#(?:[0-9a-f]{6}|[0-9a-f]{3})\b", re.I)
_RGB = re.compile(r"rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})", re.I)
_FONT_FAMILY = re.compile(r"font-family\s*:\s*([^;}]+)", re.I)
_GENERIC_FONTS = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "inherit",
                  "initial", "-apple-system", "blinkmacsystemfont", "var"}


@dataclass(frozen=True)
class ThemeCandidate:
    """One look the target can take: a theme, or one of its style variations."""

    theme: str
    variation: str | None
    palette: Mapping[str, str]
    fonts: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.theme}/{self.variation}" if self.variation else self.theme


@dataclass
class SourceLook:
    preset_palette: dict[str, str] = field(default_factory=dict)
    colors: list[tuple[str, int]] = field(default_factory=list)  # (hex, uses), most used first
    fonts: list[str] = field(default_factory=list)
    has_sidebar: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"preset_palette": self.preset_palette, "colors": self.colors[:12], "fonts": self.fonts[:6],
                "has_sidebar": self.has_sidebar}


def normalise_hex(value: str) -> str | None:
    value = value.strip().lower()
    if m := _HEX.fullmatch(value):
        h = m.group(0)[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return "#" + h
    if m := _RGB.match(value):
        r, g, b = (min(255, int(x)) for x in m.groups())
        return f"#{r:02x}{g:02x}{b:02x}"
    return None


def _lab(hex_color: str) -> tuple[float, float, float]:
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(int(hex_color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: str, b: str) -> float:
    """Perceptual distance of two colors (CIE76): ~2 is barely visible, 100 is black/white."""
    return math.dist(_lab(a), _lab(b))


def _font_key(family: str) -> str:
    first = family.split(",")[0].strip().strip("'\"").lower()
    if first.startswith("var("):  # a reference to a preset, not a family name
        return ""
    return re.sub(r"[^a-z0-9]+", "-", first).strip("-")


def extract_look(html: str, css_texts: Iterable[str] = ()) -> SourceLook:
    """What a page looks like, from its HTML (inline styles and ``<style>``) and any
    stylesheets the caller fetched."""
    soup = BeautifulSoup(html, "lxml")
    css = [tag.get_text() for tag in soup.find_all("style")]
    css += [str(tag["style"]) for tag in soup.find_all(style=True)]
    css += list(css_texts)
    text = "\n".join(css)

    look = SourceLook()
    for slug, value in _PRESET_COLOR.findall(text):
        if (color := normalise_hex(value)) and slug.lower() not in look.preset_palette:
            look.preset_palette[slug.lower()] = color
    # Colors by how often the CSS uses them, presets' own declarations excluded.
    uses: Counter[str] = Counter()
    for raw in _HEX.findall(_PRESET_COLOR.sub("", text)) + [
            f"rgb({r},{g},{b})" for r, g, b in _RGB.findall(_PRESET_COLOR.sub("", text))]:
        if color := normalise_hex(raw):
            uses[color] += 1
    look.colors = uses.most_common()
    fonts: list[str] = [_font_key(v) for _, v in _PRESET_FONT.findall(text)]
    fonts += [_font_key(v) for v in _FONT_FAMILY.findall(_PRESET_FONT.sub("", text))]
    look.fonts = [f for f, _ in Counter(f for f in fonts if f and f not in _GENERIC_FONTS).most_common()]
    look.has_sidebar = bool(soup.select("aside, #secondary, .sidebar, .widget-area, [role=complementary]"))
    return look


def candidates_from_theme_dir(theme_dir: Path) -> list[ThemeCandidate]:
    """A block theme's default look and its ``styles/*.json`` variations (a variation's
    palette overrides the theme's, slug by slug)."""
    base = json.loads((theme_dir / "theme.json").read_text())
    palette = _palette(base)
    fonts = _fonts(base)
    found = [ThemeCandidate(theme_dir.name, None, palette, fonts)]
    for path in sorted((theme_dir / "styles").glob("*.json")):
        variation = json.loads(path.read_text())
        found.append(ThemeCandidate(theme_dir.name, variation.get("title", path.stem),
                                    {**palette, **_palette(variation)}, _fonts(variation) or fonts))
    return found


def candidates_from_rest(stylesheet: str, theme_json: Mapping[str, Any] | None,
                         variations: Iterable[Mapping[str, Any]]) -> list[ThemeCandidate]:
    """The same from the target's REST API: ``/wp/v2/global-styles/themes/{stylesheet}``
    (the theme's settings) and ``.../variations``."""
    palette = _palette(theme_json or {})
    fonts = _fonts(theme_json or {})
    found = [ThemeCandidate(stylesheet, None, palette, fonts)]
    for variation in variations:
        found.append(ThemeCandidate(stylesheet, variation.get("title"), {**palette, **_palette(variation)},
                                    _fonts(variation) or fonts))
    return found


def _palette(theme_json: Mapping[str, Any]) -> dict[str, str]:
    entries = (theme_json.get("settings") or {}).get("color", {}).get("palette", [])
    if isinstance(entries, dict):  # REST shape: {"theme": [...], "default": [...]}
        entries = entries.get("theme", [])
    return {e["slug"]: c for e in entries if (c := normalise_hex(str(e.get("color", ""))))}


def _fonts(theme_json: Mapping[str, Any]) -> tuple[str, ...]:
    families = (theme_json.get("settings") or {}).get("typography", {}).get("fontFamilies", [])
    if isinstance(families, dict):
        families = families.get("theme", [])
    return tuple(_font_key(f.get("fontFamily", "")) or f.get("slug", "") for f in families)


def _palette_distance(look: SourceLook, candidate: ThemeCandidate) -> float:
    shared = [r for r in candidate.palette if r in look.preset_palette]
    if shared:  # the source names its roles: compare role by role, core roles first
        weights = [2.0 if r in ROLES[:2] else 1.0 for r in shared]
        total = sum(w * delta_e(look.preset_palette[r], candidate.palette[r]) for r, w in zip(
            shared, weights, strict=True))
        return total / sum(weights)
    colors = [c for c, _ in look.colors[:12]]
    if not colors or not candidate.palette:
        return 100.0
    # No roles: every palette color should appear among the page's most used colors.
    gaps = [min(delta_e(p, c) for c in colors) for p in candidate.palette.values()]
    return sum(gaps) / len(gaps)


def match_theme(look: SourceLook, candidates: Iterable[ThemeCandidate]) -> ThemeChoice:
    """The closest candidate, a confidence in [0, 1] and the ranking, for the report."""
    ranking = []
    for candidate in candidates:
        distance = _palette_distance(look, candidate)
        font_bonus = 3.0 if look.fonts and set(look.fonts[:3]) & set(candidate.fonts) else 0.0
        ranking.append((max(0.0, distance - font_bonus), candidate))
    if not ranking:
        raise ValueError("the target offers no theme to choose from")
    ranking.sort(key=lambda item: item[0])
    best_distance, best = ranking[0]
    runner_up = ranking[1][0] if len(ranking) > 1 else best_distance + 50
    # Close in absolute terms (a few delta-E) and well ahead of the runner-up.
    closeness = math.exp(-best_distance / 15)
    separation = min(1.0, (runner_up - best_distance) / 10 + 0.5)
    return {
        "theme": best.theme,
        "variation": best.variation,
        "label": best.label,
        "confidence": round(closeness * separation, 3),
        "distance": round(best_distance, 2),
        "by": "preset palette" if look.preset_palette else "css colors",
        "ranking": [RankedTheme(label=c.label, distance=round(d, 2)) for d, c in ranking[:5]],
    }
