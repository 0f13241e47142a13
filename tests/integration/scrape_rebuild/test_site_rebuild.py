"""The site shell on the real sandbox target: title and tagline, theme activation through
the platform's endpoint, a style variation's palette on the home page, and the main menu."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild.site_rebuild import (
    MENU_SLUG,
    active_theme,
    build_site,
    ensure_menu,
    target_theme_candidates,
)
from wpmigrate.target.wp_rest import WordPressRestTarget

pytestmark = pytest.mark.sandbox


@pytest.fixture
def target(rest_target) -> WordPressRestTarget:
    return rest_target


def _second_block_theme(sb) -> str:
    """twentytwentytwo when the Debian package is installed, else a minimal block theme
    written into the target (the sandbox installs only twentytwentythree)."""
    themes = Path(sb.target.wp_content) / "themes"
    if (themes / "twentytwentytwo").is_dir():
        return "twentytwentytwo"
    theme = themes / "wpm-plain"
    (theme / "templates").mkdir(parents=True, exist_ok=True)
    (theme / "style.css").write_text("/*\nTheme Name: WPM Plain\nVersion: 1.0\n*/\n")
    (theme / "theme.json").write_text(json.dumps({"version": 2, "settings": {"color": {"palette": [
        {"slug": "base", "color": "#fafafa", "name": "Base"},
        {"slug": "contrast", "color": "#111111", "name": "Contrast"}]}}}))
    (theme / "templates" / "index.html").write_text(
        '<!-- wp:site-title /-->\n<!-- wp:navigation /-->\n<!-- wp:post-content /-->\n')
    return "wpm-plain"


def _base_color(html: str) -> str | None:
    found = re.search(r"--wp--preset--color--base:\s*([^;]+);", html)
    return found.group(1).strip().lower() if found else None


def test_platform_theme_endpoint_keeps_core_reads(fresh_target, target) -> None:
    sb = fresh_target
    themes = target.request_json("GET", "themes", what="themes")
    assert {t["stylesheet"] for t in themes} >= {"twentytwentythree"}
    one = target.request_json("GET", "themes/twentytwentythree", what="theme")
    assert one["status"] == "active"
    # Already active: a no-op answering as core's GET does.
    assert target.activate_theme("twentytwentythree")["status"] == "active"
    with pytest.raises(MigrationError, match="404"):
        target.activate_theme("no-such-theme")
    anonymous = httpx.put(f"{sb.target.url}/wp-json/wp/v2/themes/twentytwentythree",
                          json={"status": "active"}, timeout=30)
    assert anonymous.status_code == 401


def test_build_site_switches_theme_and_applies_a_variation(fresh_target, target) -> None:
    sb = fresh_target
    other = _second_block_theme(sb)
    site = {"title": "Rebuilt Café ☕", "tagline": "Scraped & rebuilt"}

    done = build_site(target, **site, theme=other, variation=None)
    assert done["theme"] == {"stylesheet": other, "activated": True}
    assert done["settings"] == {"title": "Rebuilt Café ☕", "description": "Scraped & rebuilt"}
    assert active_theme(target)["stylesheet"] == other
    again = build_site(target, **site, theme=other, variation=None)
    assert again["settings"] == {} and not again["theme"]["activated"] and not again["styles"]["changed"]

    candidates = target_theme_candidates(target)
    labels = {c.label for c in candidates}
    assert {other, "twentytwentythree", "twentytwentythree/Pitch"} <= labels
    assert active_theme(target)["stylesheet"] == other  # probing restored the active theme
    pitch = next(c for c in candidates if c.label == "twentytwentythree/Pitch")
    default = next(c for c in candidates if c.label == "twentytwentythree")
    assert pitch.palette["base"] != default.palette["base"]

    done = build_site(target, **site, theme="twentytwentythree", variation="Pitch")
    assert done["theme"]["activated"] and done["styles"]["changed"]
    home = httpx.get(sb.target.url + "/", timeout=30).text
    assert _base_color(home) == pitch.palette["base"]
    assert "Rebuilt Café ☕" in home and "Scraped &amp; rebuilt" in home
    again = build_site(target, **site, theme="twentytwentythree", variation="Pitch")
    assert not again["theme"]["activated"] and not again["styles"]["changed"]

    # Back to the theme's own look. WordPress 6.1 keeps the front end's global stylesheet in
    # a one-minute transient per theme that saving styles does not clear: expire it here.
    assert build_site(target, **site, theme="twentytwentythree", variation=None)["styles"]["changed"]
    wc.rows(wc.db(sb, "target"), "DELETE FROM wp_options WHERE option_name LIKE %s",
            ("%transient%global_styles_%",))
    assert _base_color(httpx.get(sb.target.url + "/", timeout=30).text) == default.palette["base"]
    with pytest.raises(ValueError, match="no style variation"):
        build_site(target, title="x", tagline="y", theme="twentytwentythree", variation="Nope")


def test_menu_is_created_once_and_shown_with_target_urls(fresh_target, target) -> None:
    sb = fresh_target
    src, tgt = sb.source.url, sb.target.url
    # Pages the menu links to must exist on the target for the links to work.
    about = target.ensure_content("pages", {"slug": "about-us", "title": "About Us", "content": "<p>a</p>"})
    team = target.ensure_content("pages", {"slug": "our-team", "title": "Our Team", "parent": about["id"],
                                           "content": "<p>t</p>"})
    url_map = {f"{src}/about-us/": about["link"], f"{src}/about-us/our-team/": team["link"]}
    links = [
        {"title": "About <Us> & more", "url": f"{src}/about-us", "children": [
            {"title": "Our Team", "url": f"{src}/about-us/our-team/"}]},
        {"title": "Gone", "url": f"{src}/not-scraped/"},
        {"title": "Elsewhere", "url": "https://example.org/"},
    ]
    first = ensure_menu(target, links, url_map)
    assert first["created"] and first["links"] == 4 and first["header_fallback"]
    assert first["unmapped"] == [f"{src}/not-scraped/"]
    second = ensure_menu(target, links, url_map)
    assert second["id"] == first["id"] and not second["created"] and not second["updated"]
    tgt_db = wc.db(sb, "target")
    navs = wc.rows(tgt_db, "SELECT post_name, post_status FROM wp_posts WHERE post_type = 'wp_navigation'")
    assert navs == [(MENU_SLUG.encode(), b"publish")]

    # twentytwentythree's header navigation block has no ref: it renders this menu.
    home = httpx.get(tgt + "/", timeout=30).text
    nav = re.search(r"<nav[^>]*wp-block-navigation.*?</nav>", home, re.S)
    assert nav is not None
    hrefs = re.findall(r'href="([^"]+)"', nav.group(0))
    assert about["link"] in hrefs and team["link"] in hrefs and "https://example.org/" in hrefs
    assert "About &lt;Us&gt; &amp; more" in nav.group(0)
    for href in (about["link"], team["link"]):
        assert httpx.get(href, timeout=30).status_code == 200

    changed = ensure_menu(target, links[:1], url_map)
    assert changed["updated"] and changed["id"] == first["id"]
