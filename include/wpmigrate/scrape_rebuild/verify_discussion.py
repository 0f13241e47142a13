"""Verification of the discussion settings: every page and post on the target holds the
source's ``comment_status`` and ``ping_status``, settled as the import settled them
(``discussion.SiteDiscussion``), read from the target's public REST API as a visitor can.

A difference is a loss (``comment_status_differs`` / ``ping_status_differs``, with both
values): a post that took comments on the source and now refuses them, or the reverse. A
setting the source did not tell (pings with the REST API closed on a site announcing none)
is a warning naming the items that kept the target's default, never a pass in disguise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from wpmigrate.scrape_rebuild.discussion import SETTINGS, SiteDiscussion
from wpmigrate.scrape_rebuild.records import ScrapedItem
from wpmigrate.web.url_keys import url_key

CHECKS = tuple(f"{setting}_differs" for setting in SETTINGS)
UNKNOWN = "discussion_unknown"  # a warning: the source did not show the setting
_FIELDS = ",".join(("link", *SETTINGS))


@dataclass(frozen=True)
class Checked:
    """A page or post the target serves: its source settings as scraped (unsettled)."""

    kind: str
    source_url: str
    target_url: str
    slug: str
    comment_status: str | None
    ping_status: str | None


def checked(item: ScrapedItem, target_url: str) -> Checked:
    return Checked(item.kind, item.source_url, target_url, item.slug, item.comment_status, item.ping_status)


@dataclass
class DiscussionCheck:
    """Collects what ``verify_rebuild`` reads (every scraped item observed, the served ones
    kept light), then checks the served ones against the target."""

    title = "Pages and posts keep the source's comment and ping settings"
    site: SiteDiscussion = field(default_factory=SiteDiscussion)
    items: list[Checked] = field(default_factory=list)

    def observe(self, item: ScrapedItem) -> None:
        self.site.observe(item)

    def served(self, item: ScrapedItem, target_url: str) -> None:
        self.items.append(checked(item, target_url))

    def check(self, client: httpx.Client, target_home: str,
              loss: Callable[[str, str, str], None]) -> list[dict[str, str]]:
        """Reports each difference through ``loss(check, url, detail)``; returns the warnings."""
        warnings = []
        for problem in discussion_problems(client, target_home, self.site, self.items):
            if problem["check"] == UNKNOWN:
                warnings.append({"url": problem["url"], "detail": problem["detail"]})
            else:
                loss(problem["check"], problem["url"], problem["detail"])
        return warnings


def discussion_problems(client: httpx.Client, target_home: str, site: SiteDiscussion,
                        items: Iterable[Checked]) -> Iterator[dict[str, str]]:
    """Losses (``check`` in ``CHECKS``) and warnings (``check``: ``UNKNOWN``), one per item
    and setting; ``site`` has observed every scraped item."""
    base = target_home.rstrip("/")
    for item in items:
        wanted = {"comment_status": site.comment_status(item), "ping_status": site.ping_status(item)}
        unknown = [name for name, value in wanted.items() if value is None]
        if unknown:
            yield {"check": UNKNOWN, "url": item.source_url,
                   "detail": f"{' and '.join(unknown)} not shown by the source: the target's default kept"}
        if len(unknown) == len(wanted):
            continue
        found = _target_record(client, base, item)
        for name, value in wanted.items():
            if value is None:
                continue
            have = found.get(name) if found else None
            if have != value:
                yield {"check": f"{name}_differs", "url": item.source_url,
                       "detail": f"{name}: source {value!r}, target {have!r} ({item.target_url})"
                       if found else f"{name}: source {value!r}, target item not found in its REST API"}


def _target_record(client: httpx.Client, base: str, item: Checked) -> dict[str, Any] | None:
    response = client.get(f"{base}/", params={"rest_route": f"/wp/v2/{item.kind}s", "slug": item.slug,
                                               "_fields": _FIELDS})
    if response.status_code != 200:
        return None
    records = response.json()
    if not isinstance(records, list):
        return None
    for record in records:
        if isinstance(record, dict) and url_key(str(record.get("link") or "")) == url_key(item.target_url):
            return record
    return None
