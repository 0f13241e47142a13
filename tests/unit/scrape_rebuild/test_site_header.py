"""The site's name, tagline and main navigation from its home page."""

from __future__ import annotations

from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.site_header import extract_nav_menu


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
