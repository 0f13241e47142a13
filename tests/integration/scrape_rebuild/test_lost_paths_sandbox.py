"""A lost public path fails verification, on the real sandbox target: a post the target
served at the source's dated path while it kept the source's permalink structure is lost
once the target ignores that structure (reset to its own ``/%postname%/``, an old path
answering 404), and so is a media file whose source upload path the target does not serve."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.records import MediaFile, ScrapedItem
from wpmigrate.scrape_rebuild.scrape import normalised_text
from wpmigrate.scrape_rebuild.site_rebuild import build_site
from wpmigrate.scrape_rebuild.verify_rebuild import verify_rebuild
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpsandbox.source_switches import no_404_guess
from wpsandbox.state import SandboxState

pytestmark = pytest.mark.sandbox
SOURCE = "http://old.example"
DATED = "/%year%/%monthnum%/%day%/%postname%/"
POST_PATH = "/2021/03/04/kept-path/"
OTHER_HOST_FILE = "http://cdn.elsewhere.example/wp-content/uploads/cdn.png"
SCREENSHOT = "/wp-content/themes/twentytwentythree/screenshot.png"
LEARNT = {"structure": DATED, "reason": "all 1 sampled posts agree"}
SITE = {"title": "Platform Target", "tagline": "", "theme": "twentytwentythree", "variation": None}


def _verify(sb: SandboxState, post_url: str, media_source: str) -> dict[str, Any]:
    with httpx.Client(timeout=30) as client:
        page = client.get(post_url, follow_redirects=True)
        title, content = extract_main(page.text, str(page.url))
        shot = (Path(sb.target.wp_content).parent / SCREENSHOT.lstrip("/")).read_bytes()
        media = [MediaFile(SOURCE + SCREENSHOT, hashlib.sha256(shot).hexdigest(), len(shot), "image/png",
                           "screenshot", "screenshot.png"),
                 MediaFile(media_source, hashlib.sha256(shot).hexdigest(), len(shot), "image/png", "photo",
                           "photo.png"),
                 # Another host's file: the source never served it, so no source path to lose.
                 MediaFile(OTHER_HOST_FILE, hashlib.sha256(shot).hexdigest(), len(shot), "image/png", "cdn",
                           "cdn.png")]
        item = ScrapedItem(kind="post", source_url=SOURCE + POST_PATH, title=title, content_html=content,
                           slug="kept-path")
        return verify_rebuild(client=client, scraped=[item], url_map={item.source_url: post_url}, media=media,
                              media_url_map={m.source_url: sb.target.url + SCREENSHOT for m in media},
                              source_origins=[SOURCE], extract=extract_main, normalise=normalised_text,
                              target_home=sb.target.url,
                              discovery={"permalinks": LEARNT})


def test_a_target_ignoring_the_permalink_structure_loses_the_paths_and_fails(
        fresh_target, rest_target: WordPressRestTarget) -> None:
    sb = fresh_target
    build_site(rest_target, **SITE, permalink_structure=DATED)
    post = rest_target.ensure_content("posts", {
        "slug": "kept-path", "title": "Kept path", "status": "publish", "content": "<p>Same path.</p>",
        "date": "2021-03-04T05:06:07"})
    assert post["link"] == sb.target.url + POST_PATH
    # The theme's screenshot stands in for a file kept at its upload path; the second file's
    # source path (a resize hint in its query) is not on the target.
    lost_media = f"{SOURCE}/wp-content/uploads/2008/06/photo.png?w=604"
    with no_404_guess(sb.target.docroot):
        kept = _verify(sb, post["link"], lost_media)
        assert kept["sections"]["paths"]["problem_count"] == 1, kept["sections"]["paths"]  # only the photo
        assert kept["counts"]["same_path"] == 1 and kept["counts"]["media_same_path"] == 1
        assert f"permalink structure {DATED} given to the target" in kept["sections"]["paths"]["notes"][0]

        # The target ignores the structure it was given: its own /%postname%/ again.
        rest_target.request_json("POST", "settings", what="permalinks",
                                 json={"permalink_structure": "/%postname%/"})
        assert httpx.get(sb.target.url + POST_PATH, timeout=30).status_code == 404
        moved = rest_target.request_json("GET", f"posts/{post['id']}", what="post")["link"]
        report = _verify(sb, moved, lost_media)
    assert report["ok"] is False
    paths = report["sections"]["paths"]
    assert paths["status"] == "fail"
    lost = {x["url"]: x["detail"] for x in report["losses"] if x["check"] == "path_lost"}
    assert set(lost) == {SOURCE + POST_PATH, lost_media}, report["losses"]
    assert f"{POST_PATH} answers 404" in lost[SOURCE + POST_PATH] and moved in lost[SOURCE + POST_PATH]
    assert "/wp-content/uploads/2008/06/photo.png answers 404" in lost[lost_media]
    # Everything else about the post is right: only its path was lost.
    assert report["counts"]["posts_verified"] == 1 and report["counts"]["media_verified"] == 3
