"""The site's name, tagline and main navigation from its home page."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.site_header import MAX_MENU_DEPTH, extract_nav_menu
from wpmigrate.scrape_rebuild.site_rebuild import navigation_markup


def test_classic_menu_is_extracted() -> None:
    html = """<nav class="navigation pagination"><a href="/page/2/">2</a></nav>
    <nav id="site-navigation" class="main-navigation"><div class="menu-main-container"><ul id="primary-menu">
      <li><a href="/">Home</a></li>
      <li class="menu-item-has-children"><a href="/about/">About</a>
        <ul class="sub-menu"><li><a href="/about/team/">Team</a></li></ul></li>
    </ul></div></nav>"""
    menu = extract_nav_menu(BeautifulSoup(html, "lxml"), "https://x.test/")
    assert menu == [
        {"title": "Home", "url": "https://x.test/", "children": []},
        {"title": "About", "url": "https://x.test/about/",
         "children": [{"title": "Team", "url": "https://x.test/about/team/", "children": []}]},
    ]


@pytest.mark.parametrize("depth", [1000, 5000])
def test_a_menu_nested_too_deep_keeps_its_links_in_bounded_depth(depth: int) -> None:
    """Discovery reads the menu from the home page: a menu nested 1,000 deep overflowed the
    stack and sank the run. Deeper than MAX_MENU_DEPTH, the submenu's links go in one list."""
    html = ("<header><nav class='main-navigation'>"
            + "".join(f"<ul><li><a href='/m{n}/'>M{n}</a>" for n in range(depth))
            + "</li></ul>" * depth + "</nav></header>")
    menu = extract_nav_menu(BeautifulSoup(html, "lxml"), "https://x.test/")
    levels, titles, items = 0, [], menu
    while items:
        levels += 1
        titles += [i["title"] for i in items]
        items = [c for i in items for c in i["children"]]
    assert levels == MAX_MENU_DEPTH and titles == [f"M{n}" for n in range(depth)]
    assert navigation_markup(menu, {}).count("wp:navigation-link ") == depth - MAX_MENU_DEPTH + 1
