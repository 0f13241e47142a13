"""What a post's rendered page tells about how its path is built, for a source whose REST
API is closed: the same facts a REST record gives (``permalinks.PostSample``), read as a
visitor sees them.

- the id: the ``postid-N`` body class, else the shortlink ``<link rel="shortlink"
  href="/?p=N">``;
- the date: the entry's, as the scrape reads it and gives it to the target's post
  (``extract.published_date``: the Post Date block, ``time.published``, then meta tags),
  site-local as the permalink's date tags are;
- the slug: not printed anywhere, so the last path segment stands for it unless it is the
  id or a date value (structures end with the slug or the id; ``/%postname%/%year%/`` is
  not learnt, and its samples disagree);
- the categories: category links (``/category/parent/child/``, the full path a
  ``%category%`` segment spells) and the entry's ``category-<slug>`` classes;
- the author: the ``rel="author"`` link's last segment (``/author/<slug>/``).

A fact the page does not show is left empty: ``permalinks.structure_of`` then keeps that
segment literal, and the samples disagree unless it really is literal.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.extract import published_date
from wpmigrate.scrape_rebuild.html.page_markers import attr_values, page_markers
from wpmigrate.scrape_rebuild.permalinks import PostSample, date_values

_CATEGORY_BASE = "category"  # WordPress's default category base
_CATEGORY_CLASS = "category-"


def sample_from_html(soup: BeautifulSoup, url: str) -> PostSample | None:
    """A sample from a single post's page at ``url`` (its canonical URL), None without an id."""
    markers = page_markers(soup)
    post_id = markers.ids.get("postid")
    if post_id is None and markers.shortlink.get("p", "").isdigit():
        post_id = int(markers.shortlink["p"])
    if post_id is None:
        return None
    parts = urlsplit(url)
    date = published_date(soup) or ""
    if parts.query:  # plain permalinks (?p=123): nothing a structure can reproduce
        return PostSample(path="?" + parts.query, date=date, slug="", post_id=post_id)
    return PostSample(path=parts.path, date=date, slug=_slug_of(parts.path, post_id, date),
                      post_id=post_id, category_paths=_category_paths(soup), author=_author(soup))


def _slug_of(path: str, post_id: int, date: str) -> str:
    """The last segment, unless it is the id or a date value (``/archives/123``: no slug; a
    literal base before it stays literal)."""
    segments = [unquote(s) for s in path.split("/") if s]
    last = segments[-1] if segments else ""
    return "" if last in {str(post_id), *date_values(date).values()} else last


def _category_paths(soup: BeautifulSoup) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for link in soup.find_all("a", href=True):
        rel = attr_values(link, "rel")
        if "tag" not in rel and "category" not in rel:
            continue
        segments = [unquote(s) for s in urlsplit(str(link["href"])).path.split("/") if s]
        if _CATEGORY_BASE in segments:
            rest = segments[segments.index(_CATEGORY_BASE) + 1:]
            if rest:
                found["/".join(rest)] = None
    for tag in soup.select(".hentry, .type-post"):
        for name in attr_values(tag, "class"):
            if name.startswith(_CATEGORY_CLASS) and len(name) > len(_CATEGORY_CLASS):
                found[name[len(_CATEGORY_CLASS):]] = None
    return tuple(found)


def _author(soup: BeautifulSoup) -> str:
    for link in soup.find_all("a", href=True):
        if "author" in attr_values(link, "rel"):
            segments = [s for s in urlsplit(str(link["href"])).path.split("/") if s]
            if segments:
                return segments[-1]
    return ""
