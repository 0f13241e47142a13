"""Mode B: the text fields outside a page's content keep no link to the source (issue 9,
item 4): term descriptions, media alt text, captions and titles, menu labels and the menu
links the scrape did not import. Verification reads them back from the real sandbox target
and names any that still does (shown able to fail on a field planted there)."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from wpmigrate.scrape_rebuild.content_import import import_content, origin_text_rewriter
from wpmigrate.scrape_rebuild.records import MediaFile, ScrapedItem, Term
from wpmigrate.scrape_rebuild.site_rebuild import ensure_menu
from wpmigrate.scrape_rebuild.verify_rebuild import text_field_leftovers
from wpmigrate.target.wp_rest import WordPressRestTarget

pytestmark = pytest.mark.sandbox

LOGO = "/wp-content/uploads/2021/03/logo.png"


@pytest.fixture
def imported(fresh_target, rest_target: WordPressRestTarget):
    sb = fresh_target
    src, tgt = sb.source.url, sb.target.url
    data = httpx.get(f"{src}{LOGO}", timeout=30).content
    media = [MediaFile(source_url=f"{src}{LOGO}", sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       mime="image/png", artifact_uri="logo", filename="logo.png",
                       title=f"Logo from {src}/about/", alt=f"Our logo, see {src}/",
                       caption=f"<p>Drawn for <a href=\"{src}/\">{src}</a></p>")]
    category = Term("category", "News", "news", description=f'Read <a href="{src}/news/">all news</a> here')
    items = [ScrapedItem(kind="post", source_url=f"{src}/2024/05/hello/", title="Hello",
                         content_html="<p>Hi.</p>", slug="hello", date="2024-05-06T07:08:09",
                         excerpt=f"Excerpt naming {src}/2024/05/hello/", terms=[category])]
    result = import_content(rest_target, items, media, open_media=lambda f: data, source_home=src,
                            target_home=tgt)
    menu = ensure_menu(rest_target, [
        {"title": "Hello", "url": f"{src}/2024/05/hello/"},
        {"title": f"Archive of {src}", "url": f"{src}/category/news/"},  # not imported: no url_map entry
    ], result.url_map, rewrite_text=origin_text_rewriter([src], tgt))
    return sb, result, menu


def test_text_fields_name_the_target_not_the_source(imported, rest_target) -> None:
    sb, result, menu = imported
    host = sb.source.url.split("//", 1)[1]
    category = rest_target.request_json("GET", "categories", what="categories", params={"slug": "news"})[0]
    assert host not in category["description"] and sb.target.url in category["description"]
    media = rest_target.request_json("GET", f"media/{result.media_map[f'{sb.source.url}{LOGO}']['id']}",
                                     what="media", params={"context": "edit"})
    fields = [media["alt_text"], media["caption"]["raw"], media["title"]["raw"]]
    assert all(host not in f for f in fields) and all(sb.target.url in f for f in fields), fields
    assert "<a " not in media["caption"]["raw"]  # rendered HTML from the source arrives as text
    post = rest_target.request_json("GET", "posts", what="posts",
                                    params={"slug": "hello", "context": "edit"})[0]
    assert host not in post["excerpt"]["raw"]
    nav = rest_target.request_json("GET", f"navigation/{menu['id']}", what="menu", params={"context": "edit"})
    assert host not in nav["content"]["raw"] and f"{sb.target.url}/category/news/" in nav["content"]["raw"]
    assert menu["unmapped"] == [f"{sb.source.url}/category/news/"]  # still reported
    with httpx.Client(timeout=30) as client:
        assert list(text_field_leftovers(client, sb.target.url, [sb.source.url])) == []


def test_verification_finds_a_field_that_names_the_source(imported, rest_target) -> None:
    sb, _result, _menu = imported
    rest_target.request_json("POST", "tags", what="tag", json={
        "name": "planted", "slug": "planted", "description": f"Still at {sb.source.url}/old/"})
    with httpx.Client(timeout=30) as client:
        found = list(text_field_leftovers(client, sb.target.url, [sb.source.url]))
    assert len(found) == 1 and "tags description" in found[0]["detail"], found
