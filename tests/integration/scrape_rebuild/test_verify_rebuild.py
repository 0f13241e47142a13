"""Mode B verification finds each kind of loss on a real target (the e2e tests show it
passing on a good migration; these show that it can fail)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.records import MediaFile, ScrapedItem
from wpmigrate.scrape_rebuild.scrape import normalised_text
from wpmigrate.scrape_rebuild.verify_rebuild import source_links, verify_rebuild

pytestmark = pytest.mark.sandbox
SCREENSHOT = "/wp-content/themes/twentytwentythree/screenshot.png"


def _item(url: str, title: str, content: str) -> ScrapedItem:
    return ScrapedItem(kind="page", source_url=url, title=title, content_html=content,
                       slug=url.rsplit("/", 2)[-2])


def test_each_kind_of_loss_is_reported(fresh_target) -> None:
    sb = fresh_target
    src, tgt = "http://old.example", sb.target.url
    sample = httpx.get(f"{tgt}/sample-page/", timeout=30)
    title, content = extract_main(sample.text, str(sample.url))
    shot = (Path(sb.target.wp_content).parent / SCREENSHOT.lstrip("/")).read_bytes()
    good_sha = hashlib.sha256(shot).hexdigest()
    scraped = [
        _item(f"{src}/same/", title, content),                      # everything matches
        _item(f"{src}/renamed/", "Another title", content),          # title differs
        _item(f"{src}/edited/", title, content + "<p>One more paragraph.</p>"),  # text differs
        _item(f"{src}/unmapped/", "Lost", "<p>x</p>"),               # no target URL
        _item(f"{src}/gone/", "Gone", "<p>x</p>"),                   # target URL answers 404
    ]
    url_map = {f"{src}/{k}/": f"{tgt}/sample-page/" for k in ("same", "renamed", "edited")}
    url_map[f"{src}/gone/"] = f"{tgt}/no-such-page-here/"
    media = [MediaFile(f"{src}/a.png", good_sha, len(shot), "image/png", "a", "a.png"),
             MediaFile(f"{src}/b.png", "0" * 64, len(shot), "image/png", "b", "b.png"),
             MediaFile(f"{src}/c.svg", "1" * 64, 10, "image/svg+xml", "c", "c.svg")]
    media_map = {f"{src}/a.png": tgt + SCREENSHOT, f"{src}/b.png": tgt + SCREENSHOT}
    with httpx.Client(timeout=30) as client:
        report = verify_rebuild(client=client, scraped=scraped, url_map=url_map, media=media,
                                media_url_map=media_map, source_origins=[src], extract=extract_main,
                                normalise=normalised_text,
                                refused_media={f"{src}/c.svg": "target refused media 'c.svg'"})
    assert report["ok"] is False
    found = {(loss["check"], loss["url"]) for loss in report["losses"]}
    assert found == {("title", f"{src}/renamed/"), ("text", f"{src}/edited/"),
                     ("missing", f"{src}/unmapped/"), ("http_status", f"{src}/gone/"),
                     ("media_hash", f"{src}/b.png"),
                     ("media_missing", f"{src}/c.svg")}
    assert report["counts"]["pages_verified"] == 1 and report["counts"]["media_verified"] == 1
    assert any("refused" in loss["detail"] for loss in report["losses"] if loss["check"] == "media_missing")
    assert report["sections"]["content"]["status"] == "fail"
    assert report["sections"]["media"]["problem_count"] == 2


def test_source_links_catch_every_way_of_pointing_back() -> None:
    html = ('<a href="http://old.example/about/">a</a><img src="//old.example/x.png">'
            '<img srcset="https://new.example/y.png 1x, https://old.example/y@2x.png 2x">'
            '<div style="background:url(https://old.example/bg.jpg)"></div><a href="/relative/">ok</a>'
            '<a href="https://new.example/fine/">fine</a>')
    found = source_links(html, "https://new.example/page/", ["http://old.example"])
    assert len(found) == 4 and not any("fine" in f or "relative" in f for f in found)
