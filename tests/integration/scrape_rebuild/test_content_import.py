"""Mode B import into the real sandbox target: scraped records (with real image files
from the sandbox source) become pages, posts, terms and media; every source reference is
rewritten to the target; a second run changes nothing."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re

import httpx
import pytest
from bs4 import BeautifulSoup

from tests.support import wordpress_checks as wc
from wpmigrate.scrape_rebuild.content_import import import_content, redirect_map, write_redirect_map
from wpmigrate.scrape_rebuild.records import MediaFile, ScrapedItem, Term
from wpmigrate.target.wp_rest import WordPressRestTarget

pytestmark = pytest.mark.sandbox

UPLOADS = "/wp-content/uploads/2021/03/"
FILES = {  # name -> mime: an original, one of its size variants (srcset), two PNGs
    "hero-sunset.jpg": "image/jpeg", "hero-sunset-300x188.jpg": "image/jpeg",
    "gallery-2.png": "image/png", "logo.png": "image/png",
}


@pytest.fixture
def target(rest_target) -> WordPressRestTarget:
    return rest_target


def _media(src: str) -> tuple[list[MediaFile], dict[str, bytes]]:
    files, blobs = [], {}
    for name, mime in FILES.items():
        url = f"{src}{UPLOADS}{name}"
        data = httpx.get(url, timeout=30).content
        sha = hashlib.sha256(data).hexdigest()
        blobs[f"media/{sha}"] = data
        files.append(MediaFile(source_url=url, sha256=sha, size=len(data), mime=mime,
                               artifact_uri=f"media/{sha}", filename=name, alt=f"alt {name}", title=name))
    return files, blobs


def _records(src: str) -> list[ScrapedItem]:
    up = f"{src}{UPLOADS}"
    guides = Term("category", "Guides", "guides")
    advanced = Term("category", "Advanced & more", "advanced", parent_slug="guides")
    post = ScrapedItem(
        kind="post", source_url=f"{src}/2021/03/first-roast/", title="First roast 🔥", slug="first-roast",
        date="2021-03-04T10:20:30", date_gmt="2021-03-04T09:20:30", excerpt="Roasting.",
        terms=[advanced, guides, Term("post_tag", "beans", "beans")], featured_image_url=f"{up}logo.png",
        content_html=(
            '<figure class="wp-block-image size-large">'
            f'<img alt="" class="wp-image-11" src="{up}hero-sunset.jpg"'
            f' srcset="{up}hero-sunset.jpg 1600w, {up}hero-sunset-300x188.jpg 300w" sizes="100vw"/></figure>'
            f'<p>Meet <a href="{src}/about-us/our-team/#lead">the team</a>, read the'
            f' <a href="{src}/category/guides/">guides</a> or <a href="https://example.org/" target="_blank">'
            f'elsewhere</a>.</p><p><img src="//{src.split("://")[1]}{UPLOADS}gallery-2.png"'
            ' class="wp-image-12"/><img src="https://example.org/x.png" class="wp-image-13 big"/></p>'))
    # Children listed before their parent; About links forward to the post (created later).
    team = ScrapedItem(kind="page", source_url=f"{src}/about-us/our-team/", title="Our Team", slug="our-team",
                       parent_url=f"{src}/about-us/", menu_order=2, date="2020-01-02T03:04:05",
                       content_html='<p>Back to <a href="/about-us">about</a>.</p>')
    lead = ScrapedItem(kind="page", source_url=f"{src}/about-us/our-team/leadership/", title="Leadership",
                       slug="leadership", parent_url=f"{src}/about-us/our-team/",
                       content_html="<p>Leads.</p>")
    about = ScrapedItem(kind="page", source_url=f"{src}/about-us/", title="About Us", slug="about-us",
                        content_html=f'<p>Our <a href="{src}/2021/03/first-roast">first roast</a>.</p>'
                                     f'<img src="{up}logo.png" alt="logo"/>')
    orphan = ScrapedItem(kind="page", source_url=f"{src}/old/child/", title="Orphan", slug="orphan",
                         parent_url=f"{src}/old/", content_html="<p>alone</p>")
    return [lead, team, post, about, orphan]


def _counts(sb) -> dict[str, int]:
    tgt = wc.db(sb, "target")
    tables = ("posts", "postmeta", "terms", "term_taxonomy", "term_relationships")
    return {t: wc.rows(tgt, f"SELECT COUNT(*) FROM wp_{t}")[0][0] for t in tables}


def test_import_rebuilds_content_with_target_references(fresh_target, target) -> None:
    sb = fresh_target
    src, tgt = sb.source.url, sb.target.url
    media, blobs = _media(src)
    records = _records(src)

    opened: list[str] = []

    def open_media(media_file: MediaFile) -> bytes:
        opened.append(media_file.artifact_uri)
        return blobs[media_file.artifact_uri]

    def run():
        return import_content(target, records, media, open_media=open_media, source_home=src, target_home=tgt)

    result = run()
    # Three source attachments: hero-sunset-300x188.jpg is a size of hero-sunset.jpg.
    assert result.counts["media"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert result.counts["pages"]["created"] == 4 and result.counts["posts"]["created"] == 1
    assert result.counts["categories"]["created"] == 2 and result.counts["tags"]["created"] == 1
    assert any("/old/child/" in w and "top level" in w for w in result.warnings)
    assert any("/category/guides/" in w for w in result.warnings)  # kept its path on the target

    # Media: every file the source showed is served byte-identical by the target, at its path.
    for media_file in media:
        mapped = result.media_map[media_file.source_url]
        assert httpx.get(mapped["url"], timeout=30).content == blobs[media_file.artifact_uri]
        assert mapped["url"] == tgt + media_file.source_url[len(src):]
    hero_id = result.media_map[f"{src}{UPLOADS}hero-sunset.jpg"]["id"]
    hero_media = target.request_json("GET", f"media/{hero_id}", params={"context": "edit"}, what="hero")
    # The size is the source's file, recorded as a size; the target generated none of its own.
    sizes = {k: v["file"] for k, v in hero_media["media_details"]["sizes"].items() if k != "full"}
    assert sizes == {"300x188": "hero-sunset-300x188.jpg"}
    assert result.media_map[f"{src}{UPLOADS}hero-sunset-300x188.jpg"]["id"] == hero_media["id"]

    rest = {}
    for kind in ("pages", "posts"):
        for item in target.request_json("GET", kind, params={"context": "edit", "per_page": 100}, what=kind):
            rest[item["slug"]] = item
    about, team, lead, orphan, post = (rest[s] for s in ("about-us", "our-team", "leadership", "orphan",
                                                         "first-roast"))
    parents = (team["parent"], lead["parent"], orphan["parent"], about["parent"])
    assert parents == (about["id"], team["id"], 0, 0)
    assert team["menu_order"] == 2 and team["date"] == "2020-01-02T03:04:05"
    assert post["title"]["raw"] == "First roast 🔥" and post["date"] == "2021-03-04T10:20:30"
    assert post["featured_media"] == result.media_map[f"{src}{UPLOADS}logo.png"]["id"]
    cats = {c["slug"]: c for c in target.request_json("GET", "categories", params={"per_page": 100},
                                                      what="categories")}
    assert cats["advanced"]["parent"] == cats["guides"]["id"]
    assert html.unescape(cats["advanced"]["name"]) == "Advanced & more"  # WordPress stores names escaped
    assert sorted(post["categories"]) == sorted([cats["advanced"]["id"], cats["guides"]["id"]])
    assert len(post["tags"]) == 1

    # Content: no reference to the source left; attachment classes name target attachments.
    source_host = src.split("://")[1]
    hero = result.media_map[f"{src}{UPLOADS}hero-sunset.jpg"]
    assert f"wp-image-{hero['id']}" in post["content"]["raw"] and "wp-image-11" not in post["content"]["raw"]
    gallery = result.media_map[f"{src}{UPLOADS}gallery-2.png"]
    assert f'class="wp-image-{gallery["id"]}"' in post["content"]["raw"]
    # Not an imported file: the source id is dropped rather than left naming some target attachment.
    assert '<img class="big" src="https://example.org/x.png"/>' in post["content"]["raw"]
    for item in (about, team, lead, orphan, post):
        assert source_host not in item["content"]["raw"]
        page = httpx.get(item["link"], timeout=30)
        assert page.status_code == 200 and source_host not in page.text
    assert 'rel="noopener"' in post["content"]["raw"]

    # Internal links, forward ones included, answer on the target.
    links = set()
    for item in (about, team, post):
        for a in BeautifulSoup(item["content"]["raw"], "html.parser").find_all("a", href=True):
            if a["href"].startswith(tgt):
                links.add(a["href"])
    assert f"{team['link']}#lead" in links and post["link"] in links and about["link"] in links
    assert f"{tgt}/category/guides/" in links
    for link in links:
        assert httpx.get(link, timeout=30).status_code == 200, link
    # The srcset served is the target's copy of the source's candidates.
    served = httpx.get(post["link"], timeout=30).text
    srcset = next(s for s in re.findall(r'srcset="([^"]+)"', served) if "hero-sunset" in s)
    assert result.media_map[f"{src}{UPLOADS}hero-sunset-300x188.jpg"]["url"] in srcset

    # A retried import creates nothing and changes nothing.
    before = _counts(sb)
    opened.clear()
    again = run()
    assert _counts(sb) == before and opened == []  # found by upload path, no file read
    for kind in ("media", "pages", "posts", "categories", "tags"):
        assert again.counts[kind]["created"] == again.counts[kind]["updated"] == 0, (kind, again.counts)
    assert again.url_map == result.url_map and again.media_map == result.media_map

    # Redirects: one per source URL (same-path ones marked), loadable as CSV or JSON.
    entries = redirect_map(result.url_map)
    by_path = {e["from_path"]: e for e in entries}
    assert by_path["/2021/03/first-roast/"]["to_url"] == post["link"]
    assert by_path["/old/child/"]["to_url"] == orphan["link"] and by_path["/old/child/"]["status"] == 301
    assert by_path["/about-us/"]["same_path"] is True  # a domain-level rule covers it
    assert by_path["/2021/03/first-roast/"]["same_path"] is False
    assert len(entries) == len(result.url_map)
    with_media = redirect_map(result.url_map, {k: v["url"] for k, v in result.media_map.items()})
    media_entries = [e for e in with_media if e["kind"] == "media"]
    assert len(media_entries) == len(result.media_map) and all(e["to_url"].startswith(sb.target.url)
                                                                for e in media_entries)
    out = io.StringIO()
    assert write_redirect_map(out, entries) == len(entries)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0].keys() == {"kind", "from_path", "from_url", "to_url", "status", "same_path"}
    assert len(rows) == len(entries)
    out = io.StringIO()
    write_redirect_map(out, entries, "json")
    assert json.loads(out.getvalue())["redirects"] == entries


def test_a_file_the_target_refuses_is_reported_and_the_rest_goes_on(fresh_target, target) -> None:
    """WordPress refuses SVG uploads by default (upload_mimes): the page still arrives, the
    PNG beside it too, and the refusal is recorded with WordPress's reason for the report."""
    sb = fresh_target
    src = sb.source.url
    png = httpx.get(f"{src}{UPLOADS}logo.png", timeout=30).content
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="9" height="9"/></svg>'
    blobs = {"png": png, "svg": svg}

    def file(name: str, data: bytes, mime: str) -> MediaFile:
        return MediaFile(source_url=f"{src}/files/{name}", sha256=hashlib.sha256(data).hexdigest(),
                         size=len(data), mime=mime, artifact_uri=name.rsplit(".", 1)[1], filename=name)

    media = [file("logo.png", png, "image/png"), file("mark.svg", svg, "image/svg+xml")]
    page = ScrapedItem(kind="page", source_url=f"{src}/brand/", title="Brand", slug="brand",
                       content_html=f'<p><img src="{src}/files/logo.png"/>'
                                    f'<img src="{src}/files/mark.svg"/></p>')
    result = import_content(target, [page], media, open_media=lambda f: blobs[f.artifact_uri],
                            source_home=src, target_home=sb.target.url)
    assert list(result.refused_media) == [f"{src}/files/mark.svg"]
    assert "not allowed to upload this file type" in result.refused_media[f"{src}/files/mark.svg"]
    assert f"{src}/files/logo.png" in result.media_map and result.counts["pages"]["created"] == 1
    served = httpx.get(result.url_map[f"{src}/brand/"], timeout=30)
    assert served.status_code == 200 and result.media_map[f"{src}/files/logo.png"]["url"] in served.text
