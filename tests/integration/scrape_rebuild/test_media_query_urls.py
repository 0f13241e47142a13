"""Media asked for with a query string, on the real sandbox: content shows the seed's photo
as ``photo.jpg?w=604`` and ``?resize=300,200`` from two posts in different scrape batches,
and a song through core's ``[audio]`` shortcode (``song.mp3?_=1``). Run as the DAG runs it
(discover, each batch's scrape_content and download_media in a task of its own, sharing
only the artifact store), with the REST API open and closed, then imported into the
target: each media file is asked of the source once, and the target's attachments are the
source's, at their upload paths (none in the current month's folder).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import wordpress_checks as wc
from tests.support.discovery_scope import default_scope
from wpmigrate.scrape_rebuild.batches import plan_batches, scrape_batch_items, site_record
from wpmigrate.scrape_rebuild.content_import import ImportResult, import_content
from wpmigrate.scrape_rebuild.discovery import discover
from wpmigrate.scrape_rebuild.media_download import download_all
from wpmigrate.scrape_rebuild.media_url_index import MediaUrlIndex
from wpmigrate.scrape_rebuild.polite_http import USER_AGENT, PoliteFetcher
from wpmigrate.scrape_rebuild.records import DiscoveredItem, MediaFile, ScrapedItem, from_dict, to_json
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.url_guard import guarded_client
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox

LOOPBACK = ("127.0.0.0/8",)
UA = USER_AGENT.replace(")", "; query-media-test)")  # this test's requests, told apart in the log
UPLOADS = "/wp-content/uploads/"


@dataclass
class Run:
    refs_by_batch: dict[str, set[str]]
    scraped: list[ScrapedItem]
    media: list[MediaFile]
    imported: ImportResult
    requests: list[dict[str, Any]]  # the source's request log lines of the run


@contextmanager
def _fetcher(site: dict[str, Any] | None = None) -> Iterator[PoliteFetcher]:
    """One task's fetcher, starting from the robots.txt answers discovery kept."""
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        yield PoliteFetcher(client, user_agent=UA, robots=(site or {}).get("robots"))


def _migrate(sb: SandboxState, target: WordPressRestTarget, work: Path) -> Run:
    started = time.time()
    home = sb.source.url + "/"
    with _fetcher() as fetcher:
        result = discover(fetcher, home, **default_scope(max_depth=5))
        record = {**site_record(result, fetcher.stats()), "robots": fetcher.robots_rules()}
        site = json.loads(json.dumps(record, default=str))  # as the discover task writes site.json
    batches = [(b.name, [to_json(i) for i in b.items]) for b in plan_batches(result.items)]
    scraped: list[ScrapedItem] = []
    refs: dict[str, list[dict[str, Any]]] = {}
    for name, lines in batches:  # each mapped task: its batch's JSON lines, a fetcher of its own
        with _fetcher(site) as fetcher:
            items = [from_dict(DiscoveredItem, json.loads(x)) for x in lines]
            done = scrape_batch_items(fetcher, items, site)
        scraped += done.scraped
        refs[name] = json.loads(json.dumps(done.media_refs))
    media: list[MediaFile] = []
    for name, batch_refs in refs.items():  # download_media: the run's index in the artifact store
        with _fetcher(site) as fetcher:
            for record in download_all(fetcher.open_stream, batch_refs, work / "media",
                                       index=MediaUrlIndex(work / "media-urls", name)):
                if isinstance(record, MediaFile):
                    media.append(record)
    time.sleep(0.3)  # router.php appends its line at request shutdown
    lines = Path(sb.source.request_log).read_text().splitlines()
    requests = [e for e in map(json.loads, filter(None, lines)) if e["ua"] == UA and e["t"] >= started]
    imported = import_content(target, scraped, media, open_media=lambda f: Path(f.artifact_uri).read_bytes(),
                              source_home=home, target_home=sb.target.url)
    return Run({k: {r["url"] for r in v} for k, v in refs.items()}, scraped, media, imported, requests)


def _attached_files(sb: SandboxState, which: str) -> list[str]:
    prefix = sb.source.table_prefix if which == "source" else sb.target.table_prefix
    rows = wc.rows(wc.db(sb, which), f"SELECT m.meta_value FROM {prefix}posts p JOIN {prefix}postmeta m ON "
                                     "m.post_id = p.ID AND m.meta_key = '_wp_attached_file' "
                                     "WHERE p.post_type = 'attachment'")
    return sorted(r[0].decode() if isinstance(r[0], bytes) else r[0] for r in rows)


@pytest.mark.parametrize("rest_open", [True, False], ids=["rest-open", "rest-closed"])
def test_media_asked_for_with_a_query_arrive_once_at_their_upload_paths(
        sandbox: SandboxState, rest_target: WordPressRestTarget, tmp_path: Path, rest_open: bool) -> None:
    sb = sandbox
    photo_path, song_path = (sb.facts["media"][k]["file"] for k in ("photo", "song"))
    photo = f"{sb.source.url}{UPLOADS}{photo_path}"
    build.set_source_rest(rest_open, sb)
    try:
        run = _migrate(sb, rest_target, tmp_path)
    finally:
        build.set_source_rest(True, sb)

    # What the content shows: the photo with resize hints from two batches, the song with
    # the player counter of core's [audio] shortcode.
    shown = {url for item in run.scraped for url in item.media_urls}
    assert {f"{photo}?w=604", f"{photo}?resize=300,200", f"{sb.source.url}{UPLOADS}{song_path}?_=1"} <= shown
    holders = {i.source_url for i in run.scraped if any(u.startswith(photo + "?") for u in i.media_urls)}
    assert len(holders) == 2
    if not rest_open:  # with the API open the media batch owns the listed photo
        assert len([b for b, urls in run.refs_by_batch.items() if photo in urls]) == 2

    # Each media file asked of the source once, never with the query the content added.
    media_requests = [e["uri"] for e in run.requests if e["uri"].startswith(UPLOADS)]
    assert media_requests and not [u for u in media_requests if "?" in u]
    assert [u for u, n in Counter(media_requests).items() if n > 1] == []
    assert media_requests.count(f"{UPLOADS}{photo_path}") == 1

    # The target holds the source's attachments, at their upload paths: no extra one in
    # the current month's folder for a URL with a query.
    assert not run.imported.refused_media
    target_files = _attached_files(sb, "target")
    assert len(target_files) == len(set(target_files))
    if rest_open:
        assert target_files == _attached_files(sb, "source")
    else:  # a visitor finds only the files some page shows: those, and no other
        assert set(target_files) <= set(_attached_files(sb, "source"))
        assert {photo_path, song_path} <= set(target_files)
    assert not [f for f in target_files if f.startswith(time.strftime("%Y/%m/"))]

    # The content keeps the query on the target's copy, which serves the source's bytes.
    source_bytes = httpx.get(photo, timeout=30).content
    moved = f"{sb.target.url}{UPLOADS}{photo_path}"
    served = httpx.get(f"{moved}?w=604", timeout=30)
    assert served.status_code == 200 and hashlib.sha256(served.content).digest() == \
        hashlib.sha256(source_bytes).digest()
    photo_id = run.imported.media_map[photo]["id"]
    with httpx.Client(base_url=sb.target.url, timeout=30) as client:
        shown_with_class, contents = 0, []
        for holder in holders:
            slug = urlsplit(holder).path.strip("/").rsplit("/", 1)[-1]
            post = client.get("/wp-json/wp/v2/posts", params={"slug": slug, "_fields": "content"}).json()[0]
            content = post["content"]["rendered"]
            assert f"{moved}?w=604" in content and sb.source.url not in content, holder
            # The attachment class names the target's attachment (WordPress reads it).
            shown_with_class += f"wp-image-{photo_id}" in content
            contents.append(content)
        assert shown_with_class == 1, contents  # the seed gives the class in the first post only
