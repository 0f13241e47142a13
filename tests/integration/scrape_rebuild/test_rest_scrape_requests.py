"""Mode B with the source's REST API open is gentle with it (issue 9, item 6): the scrape
(discover, then each batch's scrape_content and download_media in a task of its own, as
the DAG runs them, each fetcher seeded with the robots.txt answers discovery kept) asks for
the REST list pages, each media file once, robots.txt once, the API index and the home
page (the menu), and no page's HTML per item; the items it makes from the REST records
equal what the HTML scrape makes of the same pages. (In the DAG, discover is given the
source probe's home page and API index, and asks for neither: bench/scrape_vs_wget.py.)

The source's request log is the judge; the floor is the REST list pages a complete
listing needs at per_page=100, plus one GET per media file, plus robots.txt.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.support.discovery_scope import default_scope
from wpmigrate.scrape_rebuild.batches import plan_batches, scrape_batch_items, site_record
from wpmigrate.scrape_rebuild.discovery import discover
from wpmigrate.scrape_rebuild.media_download import download_all
from wpmigrate.scrape_rebuild.polite_http import USER_AGENT, PoliteFetcher
from wpmigrate.scrape_rebuild.records import DiscoveredItem, MediaFile, ScrapedItem, from_dict, to_json
from wpmigrate.scrape_rebuild.scrape import normalised_text, scrape_item
from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts
from wpmigrate.web.url_guard import guarded_client
from wpmigrate.web.url_keys import canonical_url
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox

LOOPBACK = ("127.0.0.0/8",)
UA = USER_AGENT.replace(")", "; gentle-test)")  # this test's requests, told apart in the log
COLLECTIONS = ("categories", "tags", "users", "pages", "posts", "media")


@dataclass
class Run:
    requests: list[dict[str, Any]]  # the source's request log lines of the scrape
    by_task: dict[str, int]
    scraped: list[ScrapedItem]
    media: list[MediaFile]
    media_tried: set[str]
    download_tasks: int  # download_media tasks that asked the source for anything


def _fetcher_tasks(site: dict[str, Any] | None = None) -> Iterator[PoliteFetcher]:
    while True:
        with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
            yield PoliteFetcher(client, user_agent=UA, robots=(site or {}).get("robots"))


def _log(sb: SandboxState, since: float) -> list[dict[str, Any]]:
    time.sleep(0.3)  # router.php appends its line at request shutdown
    lines = Path(sb.source.request_log).read_text().splitlines()
    return [e for e in map(json.loads, filter(None, lines)) if e["ua"] == UA and e["t"] >= since]


def _type(uri: str) -> str:
    path, _, query = uri.partition("?")
    route = dict(parse_qsl(query)).get("rest_route") or (path.removeprefix("/wp-json")
                                                         if path.startswith("/wp-json") else None)
    if path == "/robots.txt":
        return "robots"
    if route is not None:
        if route.strip("/") == "":
            return "rest index"
        return "rest list" if route.count("/") <= 3 else "rest item"
    if path.startswith("/wp-content/uploads/"):
        return "media"
    return "sitemap" if "sitemap" in path else "html"


@pytest.fixture(scope="module")
def run(sandbox: SandboxState, tmp_path_factory: pytest.TempPathFactory) -> Run:
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    store = tmp_path_factory.mktemp("media")
    tasks = _fetcher_tasks()
    started = time.time()
    by_task: dict[str, int] = {}
    fetcher = next(tasks)
    result = discover(fetcher, sandbox.source.url + "/", **default_scope(max_depth=5))
    site = json.loads(json.dumps({**site_record(result, fetcher.stats()), "robots": fetcher.robots_rules()},
                                 default=str))  # as the discover task writes site.json
    by_task["discover"] = fetcher.request_count
    tasks = _fetcher_tasks(site)
    batches = [[to_json(i) for i in b.items] for b in plan_batches(result.items)]
    scraped: list[ScrapedItem] = []
    refs = []
    by_task["scrape_content"] = 0
    for lines in batches:  # each mapped task reads its batch's JSON lines with a fetcher of its own
        fetcher = next(tasks)
        done = scrape_batch_items(fetcher, [from_dict(DiscoveredItem, json.loads(x)) for x in lines], site)
        by_task["scrape_content"] += fetcher.request_count
        assert not done.skipped
        scraped += done.scraped
        refs.append(done.media_refs)
    media: list[MediaFile] = []
    tried: set[str] = set()
    by_task["download_media"] = downloads = 0
    for batch_refs in refs:
        fetcher = next(tasks)
        for record in download_all(fetcher.open_stream, batch_refs, store):
            tried.add(record.source_url if isinstance(record, MediaFile) else record.url)
            if isinstance(record, MediaFile):
                media.append(record)
        by_task["download_media"] += fetcher.request_count
        downloads += bool(fetcher.request_count)
    return Run(_log(sandbox, started), by_task, scraped, media, tried, downloads)


def _rest_list_pages(sb: SandboxState) -> int:
    pages = 0
    with httpx.Client(timeout=30.0) as client:
        for kind in COLLECTIONS:
            resp = client.get(f"{sb.source.url}/wp-json/wp/v2/{kind}",
                              params={"per_page": 1, "_fields": "id"})
            resp.raise_for_status()
            pages += -(-int(resp.headers["x-wp-total"]) // 100)
    return pages


def test_rest_open_scrape_asks_the_floor_plus_three_fixed_requests(sandbox: SandboxState, run: Run) -> None:
    by_type = Counter(_type(e["uri"]) for e in run.requests)
    assert len(run.requests) == sum(run.by_task.values())  # the log and the fetchers agree
    assert run.by_task["scrape_content"] == 0  # every item from its REST record
    item_paths = {urlsplit(i.source_url).path for i in run.scraped}
    assert len(item_paths) == len(run.scraped) > 20
    assert not [e for e in run.requests if e["uri"].partition("?")[0] in item_paths]  # no per-item HTML
    assert [e["uri"] for e in run.requests if _type(e["uri"]) == "html"] == ["/"]  # the menu
    media_uris = [e["uri"] for e in run.requests if _type(e["uri"]) == "media"]
    assert len(media_uris) == len(set(media_uris)) == len(run.media_tried)  # each file once

    floor = {"rest list": _rest_list_pages(sandbox), "media": len(run.media_tried), "robots": 1}
    # Fixed, whatever the site's size: the home page (menu, identity) and the API index
    # (name, tagline). robots.txt is read once: the download_media tasks (here the media
    # batch only: content batches leave listed attachments and their variants to it) start
    # from what discovery read.
    fixed = {"html": 1, "rest index": 1}
    assert run.download_tasks == 1
    assert by_type == Counter(floor) + Counter(fixed), by_type
    # So the per-item part is the floor exactly, and the two fixed requests are the ones the
    # DAG's discover does not make either when the source probe's are fresh.
    assert len(run.requests) == sum(floor.values()) + 2


def test_every_media_file_the_items_show_is_downloaded(sandbox: SandboxState, run: Run) -> None:
    downloaded = {canonical_url(m.source_url, m.source_url) for m in run.media}
    # An upload shown with a query (``photo.jpg?w=604``) is its file without it.
    hosts = source_hosts(sandbox.source.url)
    shown = {file_url(url, hosts) for item in run.scraped for url in item.media_urls}
    assert shown and shown <= downloaded


def test_rest_items_equal_the_html_scrape(sandbox: SandboxState, run: Run) -> None:
    with httpx.Client(timeout=30.0) as client:
        for rest in run.scraped:
            response = client.get(rest.source_url)
            response.raise_for_status()
            html = scrape_item(DiscoveredItem(rest.source_url, "unknown", "crawl"), response.text,
                               further_page=lambda url: client.get(url).text)
            where = rest.source_url
            if rest.password_protected:  # a visitor sees the password form: flagged both ways
                assert html.password_protected, where
                continue
            assert (html.kind, html.source_id, html.source_url) == (
                rest.kind, rest.source_id, rest.source_url)
            assert html.title == rest.title, where  # both empty for the untitled post
            assert html.slug == rest.slug and html.parent_url == rest.parent_url, where
            assert {(t.taxonomy, t.slug, t.name, t.parent_slug) for t in html.terms} == {
                (t.taxonomy, t.slug, t.name, t.parent_slug) for t in rest.terms}, where
            assert normalised_text(html.content_html) == normalised_text(rest.content_html), where
            assert html.media_urls == rest.media_urls and html.featured_image_url == rest.featured_image_url
            if rest.kind == "post":
                assert html.author_name == rest.author_name and rest.author_name, where
                assert html.date and rest.date and html.date[:16] == rest.date[:16], where
                assert html.date_gmt and rest.date_gmt and html.date_gmt[:16] == rest.date_gmt[:16], where
            assert rest.seo_title is None  # the page's <title> costs a request per item: not read
