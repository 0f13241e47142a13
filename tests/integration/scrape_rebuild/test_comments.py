"""Mode B comments against the real sandbox: approved comments read from the source's
public REST API (and reported as not read when it is closed), written to the target with
their threading, once (a re-run creates nothing), a refused one recorded; verification
fails when a comment is deleted on the target."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest

from tests.support.wordpress_checks import db, rows
from wpmigrate.scrape_rebuild.comments import REST_CLOSED, SourceComment, read_comments, read_jsonl
from wpmigrate.scrape_rebuild.comments_import import (
    PLACEHOLDER_EMAIL,
    REFUSED_BY_TARGET,
    comment_marker,
    import_comments,
    target_posts,
)
from wpmigrate.scrape_rebuild.content_import import origin_text_rewriter
from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.scrape_rebuild.records import ScrapedItem
from wpmigrate.scrape_rebuild.scrape import normalised_text
from wpmigrate.scrape_rebuild.verify_rebuild import verify_rebuild
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.url_guard import guarded_client
from wpsandbox import build
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox
LOOPBACK = ("127.0.0.0/8",)


def _site(sb: SandboxState) -> dict:
    return {"home": sb.source.url, "rest_available": True, "rest_base": f"{sb.source.url}/wp-json/"}


def _read(site: dict) -> tuple[list[SourceComment], object, int]:
    out = io.StringIO()
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        fetcher = PoliteFetcher(client)
        done = read_comments(fetcher, site, out)
        requests = fetcher.request_count
    return list(read_jsonl(io.StringIO(out.getvalue()))), done, requests


def _approved(sb: SandboxState) -> set[int]:
    conn = db(sb, "source")
    p = sb.source.table_prefix
    try:
        found = rows(conn, f"SELECT c.comment_ID FROM {p}comments c"
                           f" JOIN {p}posts p ON p.ID = c.comment_post_ID"
                           " WHERE c.comment_approved = '1' AND c.comment_type = 'comment'"
                           " AND p.post_status = 'publish' AND p.post_password = ''")
    finally:
        conn.close()
    return {int(r[0]) for r in found}


@pytest.fixture
def rest_open(sandbox: SandboxState) -> Iterator[SandboxState]:
    if not sandbox.source_rest_enabled:
        build.set_source_rest(True, sandbox)
    yield sandbox


def test_every_approved_comment_is_read_with_its_thread(rest_open: SandboxState) -> None:
    sb = rest_open
    comments, done, requests = _read(_site(sb))
    facts = sb.facts["comments"]
    assert {c.source_id for c in comments} == _approved(sb) and done.count == len(comments)
    assert done.skipped is None and requests == 2  # robots.txt + one list page
    by_id = {c.source_id: c for c in comments}
    reply = by_id[facts["reply"]]
    assert reply.parent == facts["top"] and reply.post == by_id[facts["top"]].post
    assert reply.author_name == "Ed Itor" and "about-us" in reply.content_html
    assert facts["pending"] not in by_id and facts["spam"] not in by_id
    assert [c.source_id for c in comments] == sorted(by_id)


def test_closed_rest_api_is_reported_not_scraped(sandbox: SandboxState) -> None:
    sb = sandbox
    comments, done, requests = _read({"home": sb.source.url, "rest_available": False, "rest_base": None})
    assert comments == [] and requests == 0
    assert done.skipped is not None and done.skipped.reason == REST_CLOSED
    build.set_source_rest(False, sb)
    try:  # the API announced, its answer closed (a security plugin): recorded with the status
        comments, done, _ = _read(_site(sb))
    finally:
        build.set_source_rest(True, sb)
    assert comments == [] and done.skipped is not None and done.skipped.reason == REST_CLOSED
    assert "HTTP 4" in done.skipped.detail


def _target_posts(target: WordPressRestTarget, post_ids: set[int]) -> dict[int, int]:
    ids = {}
    for source_id in sorted(post_ids):
        written = target.ensure_content("posts", {"slug": f"commented-{source_id}", "content": "<p>body</p>",
                                                  "title": f"Post {source_id}", "status": "publish"})
        ids[source_id] = written["id"]
    return ids


def test_import_keeps_threading_once_and_records_a_refusal(rest_target: WordPressRestTarget,
                                                           fresh_target: SandboxState) -> None:
    sb, target = fresh_target, rest_target
    src, tgt = sb.source.url, sb.target.url
    comments, _, _ = _read(_site(sb))
    facts = sb.facts["comments"]
    showcase = next(c.post for c in comments if c.source_id == facts["top"])
    post_ids = _target_posts(target, {c.post for c in comments})
    closed = next(p for p in post_ids if p != showcase)  # its comments are refused: comments closed
    target.request_json("POST", f"posts/{post_ids[closed]}", json={"comment_status": "closed"}, what="close")
    url_map = {f"{src}/about-us/": f"{tgt}/about-us-moved/"}

    def run():
        return import_comments(target, comments, post_ids=post_ids, source_home=src, target_home=tgt,
                               url_map=url_map)

    first = run()
    on_closed = {c.source_id for c in comments if c.post == closed}
    assert set(first.refused) == on_closed and first.created == len(comments) - len(on_closed)
    assert {r["reason"] for r in first.refused.values()} == {REFUSED_BY_TARGET}
    assert {r["code"] for r in first.refused.values()} == {"rest_comment_closed"}
    stored = {c["id"]: c for c in target.comments_of(post_ids[showcase])}
    top, reply = stored[first.ids[facts["top"]]], stored[first.ids[facts["reply"]]]
    assert reply["parent"] == top["id"] and top["parent"] == 0
    assert reply["status"] == "approved" and reply["author_name"] == "Ed Itor"
    assert reply["date"] == "2021-03-16T12:00:00"
    assert reply["author_user_agent"] == comment_marker(src, facts["reply"])
    assert reply["author_email"] == PLACEHOLDER_EMAIL.format(id=facts["reply"])
    assert f"{tgt}/about-us-moved/" in reply["content"]["raw"] and src not in reply["content"]["raw"]
    assert top["author_url"] == "https://vera.example.test/" and "👍" in top["content"]["raw"]

    again = run()
    assert again.created == 0 and again.unchanged == first.created and again.ids == first.ids
    assert len(target.comments_of(post_ids[showcase])) == len(stored)


def test_target_posts_found_at_their_mapped_urls(rest_target: WordPressRestTarget,
                                                 fresh_target: SandboxState) -> None:
    target, src = rest_target, "http://old.example"
    a = target.ensure_content("pages", {"slug": "same", "title": "A", "content": "a", "status": "publish"})
    parent = target.ensure_content("pages", {"slug": "parent", "title": "P", "content": "p",
                                             "status": "publish"})
    b = target.ensure_content("pages", {"slug": "same", "title": "B", "content": "b", "status": "publish",
                                        "parent": parent["id"]})
    items = [ScrapedItem(kind="page", source_url=f"{src}/same/", title="A", content_html="", slug="same",
                         source_id=11),
             ScrapedItem(kind="page", source_url=f"{src}/parent/same/", title="B", content_html="",
                         slug="same", source_id=12),
             ScrapedItem(kind="page", source_url=f"{src}/gone/", title="C", content_html="", slug="gone",
                         source_id=13)]
    url_map = {f"{src}/same/": a["link"], f"{src}/parent/same/": b["link"]}
    assert target_posts(target, items, {11, 12, 13}, url_map) == {11: a["id"], 12: b["id"]}


def test_verification_fails_when_a_comment_is_deleted(rest_target: WordPressRestTarget,
                                                      fresh_target: SandboxState) -> None:
    sb, target = fresh_target, rest_target
    src, tgt = sb.source.url, sb.target.url
    comments, _, _ = _read(_site(sb))
    post_ids = _target_posts(target, {c.post for c in comments})
    imported = import_comments(target, comments, post_ids=post_ids, source_home=src, target_home=tgt,
                               url_map={})

    def verify() -> dict:
        with httpx.Client(timeout=30) as client:
            return verify_rebuild(client=client, scraped=[], url_map={}, media=[], media_url_map={},
                                  source_origins=[src], extract=extract_main, normalise=normalised_text,
                                  expected_text=origin_text_rewriter([src], tgt), target_home=tgt,
                                  comments=comments, comments_map=imported.to_dict())

    good = verify()
    assert good["sections"]["comments"]["status"] == "pass", good["sections"]["comments"]
    assert good["counts"]["comments_verified"] == len(comments)
    facts = sb.facts["comments"]
    target.request_json("DELETE", f"comments/{imported.ids[facts['top']]}", params={"force": True},
                        what="delete")
    bad = verify()
    assert bad["ok"] is False and bad["sections"]["comments"]["status"] == "fail"
    checks = {(x["check"], x["detail"].split(":")[0]) for x in bad["losses"]}
    assert ("comment_missing", f"source comment {facts['top']}") in checks
    # Its reply moved to the top level when its parent went: the threading check says so.
    assert ("comment_threading", f"source comment {facts['reply']}") in checks
