"""Mode B's theme decision: the portal's ``select_theme`` resolved among what the target
offers, or the source's look (home page and its stylesheets, fetched politely) matched
against those candidates (``theme_match``).

The home page is the one discovery read (not asked again); its stylesheets are fetched
only when the page itself does not name its palette by the roles the candidates use (a
block theme prints ``--wp--preset--color--base`` and the like inline): then the colors
the stylesheets use are all there is to compare."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urljoin

from bs4 import BeautifulSoup

from wpmigrate.core.contracts import ThemeChoice
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher, SkipUrl
from wpmigrate.scrape_rebuild.theme_match import ThemeCandidate, extract_look, match_theme

MAX_STYLESHEETS = 6
MAX_STYLESHEET_BYTES = 2 * 1024 * 1024


def select_theme(selected: str, candidates: Sequence[ThemeCandidate]) -> ThemeChoice:
    """``selected``: ``theme`` or ``theme/Variation title`` as the conf names it."""
    theme, _, variation = selected.partition("/")
    chosen = [c for c in candidates if c.theme == theme and (c.variation or "") == variation]
    if not chosen:
        offered = sorted(c.label for c in candidates)
        raise MigrationError(ErrorCode.INVALID_CONF,
                             f"selected_theme {selected!r} is not on the target; it offers {offered}")
    return {"theme": theme, "variation": variation or None, "label": chosen[0].label,
            "confidence": 1.0, "by": "select_theme"}


def auto_match(fetcher: PoliteFetcher, home_url: str, candidates: Sequence[ThemeCandidate],
               home_page: Mapping[str, str] | None = None) -> ThemeChoice:
    """The candidate closest to how the source's home page looks, with the look itself.
    ``home_page``: ``{url, html}`` as discovery read it (else it is fetched)."""
    if home_page and home_page.get("html"):
        html, base = home_page["html"], home_page.get("url") or home_url
    else:
        home = fetcher.get(home_url, content_types=("text/html",))
        html, base = home.text, home.url
    look = extract_look(html)
    if not any(set(c.palette) & set(look.preset_palette) for c in candidates):
        look = extract_look(html, list(stylesheets(fetcher, html, base)))
    choice = match_theme(look, candidates)
    choice["look"] = look.to_dict()
    return choice


def stylesheets(fetcher: PoliteFetcher, html: str, base: str) -> Iterator[str]:
    """The texts of the page's first stylesheets; one that cannot be fetched is left out
    (the look is then read from the rest)."""
    links = BeautifulSoup(html, "html.parser").select('link[rel~="stylesheet"][href]')
    for link in links[:MAX_STYLESHEETS]:
        try:
            sheet = fetcher.get(urljoin(base, str(link["href"])), max_bytes=MAX_STYLESHEET_BYTES,
                                content_types=("text/css",))
        except (SkipUrl, MigrationError):
            continue
        if sheet.status_code == 200:
            yield sheet.text
