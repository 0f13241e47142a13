"""An item's discussion settings (``comment_status``, ``ping_status``): read from the source,
settled across the site where one page cannot tell, and what the target must then hold.

REST records carry both (view context: an anonymous visitor sees them). With the API
closed, the rendered page tells what WordPress prints:

- Comments: ``comment_form()`` prints its form (``#respond``, ``form.comment-form`` posting
  to ``wp-comments-post.php``; block themes' comments form block calls it) only while
  comments are open. A page showing the comments area without the form (a block theme's
  comments block, a classic theme's ``#comments``, "Comments are closed.") has them
  closed. A page showing neither depends on its template (classic themes print nothing
  for an item closed and without comments): ``NOT_SHOWN``, closed when another item of
  its kind shows the form (its template prints it when open), else unknown.
- Pings: WordPress sends ``X-Pingback`` (and classic themes print ``<link rel="pingback">``)
  only on a single item whose pings are open. An item without it is ``NOT_SHOWN``: closed
  when some other item of the site announces pingbacks (the announcement works there);
  when none does (a hardened site strips the header), nothing tells, so the ping status
  is unknown: the target keeps its default and verification reports it, never guesses.

Unknown is None: the import leaves the target's default, verification warns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bs4 import BeautifulSoup

OPEN = "open"
CLOSED = "closed"
STATUSES = (OPEN, CLOSED)
# Read from a page that shows no sign either way: settled across the site's items.
NOT_SHOWN = "not_shown"
SETTINGS = ("comment_status", "ping_status")
PINGBACK_HEADER = "x-pingback"
_COMMENT_FORM = ("#respond form", "form#commentform", "form.comment-form",
                 "form[action*='wp-comments-post.php']")
# Where themes show comments: present without the form means closed.
_COMMENTS_AREA = ("#comments", ".comments-area", ".wp-block-comments", ".wp-block-post-comments",
                  ".no-comments", ".comments-closed")


def from_rest(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(comment_status, ping_status) of a REST record; None where it holds no valid value."""
    return _valid(record.get("comment_status")), _valid(record.get("ping_status"))


def _valid(value: Any) -> str | None:
    return value if value in STATUSES else None


def from_page(html: str, headers: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(comment_status, ping_status) a rendered single page shows: ``open``, ``closed``, or
    ``NOT_SHOWN`` (see the module docstring)."""
    soup = BeautifulSoup(html or "", "html.parser")
    if any(soup.select_one(rule) for rule in _COMMENT_FORM):
        comments = OPEN
    elif any(soup.select_one(rule) for rule in _COMMENTS_AREA):
        comments = CLOSED
    else:
        comments = NOT_SHOWN
    header = any(name.lower() == PINGBACK_HEADER and value for name, value in (headers or {}).items())
    announced = header or soup.find("link", rel="pingback") is not None
    return comments, OPEN if announced else NOT_SHOWN


class Discussed(Protocol):
    """What settling reads of an item (a ``ScrapedItem``, or verification's light copy)."""

    @property
    def kind(self) -> str: ...
    @property
    def comment_status(self) -> str | None: ...
    @property
    def ping_status(self) -> str | None: ...


@dataclass
class SiteDiscussion:
    """What the site's items show as a whole: the kinds whose template shows the comment
    form, and whether any item announces pingbacks. Settles ``NOT_SHOWN``."""

    form_kinds: set[str] = field(default_factory=set)
    pings_announced: bool = False

    @classmethod
    def of(cls, items: Iterable[Discussed]) -> SiteDiscussion:
        site = cls()
        for item in items:
            site.observe(item)
        return site

    def observe(self, item: Discussed) -> None:
        if item.comment_status == OPEN:
            self.form_kinds.add(item.kind)
        self.pings_announced = self.pings_announced or item.ping_status == OPEN

    def comment_status(self, item: Discussed) -> str | None:
        return _settled(item.comment_status, item.kind in self.form_kinds)

    def ping_status(self, item: Discussed) -> str | None:
        return _settled(item.ping_status, self.pings_announced)

    def settings(self, item: Discussed) -> dict[str, str]:
        """The settings the target item must hold (unknown ones left out)."""
        values = {"comment_status": self.comment_status(item), "ping_status": self.ping_status(item)}
        return {k: v for k, v in values.items() if v is not None}


def _settled(value: str | None, shown_elsewhere: bool) -> str | None:
    if value == NOT_SHOWN:
        return CLOSED if shown_elsewhere else None
    return value if value in STATUSES else None
