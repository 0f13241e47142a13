"""Mode B import of the items real blogs hold, into the real sandbox target: untitled, empty,
image-only, password-protected, a title full of entities, an item the target refuses (the
platform mu-plugin's switch: slug ``wpm-refused-by-target``) and one WordPress itself
refuses (nothing in it). No single item sinks the import; verification names every loss
with the target's reason, and the verify task fails on it."""

from __future__ import annotations

import hashlib
import html

import httpx
import pytest
from bs4 import BeautifulSoup

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.report_html import render_report_html
from wpmigrate.scrape_rebuild.content_import import PLACEHOLDER_CONTENT, import_content
from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.records import MediaFile, ScrapedItem, Term
from wpmigrate.scrape_rebuild.scrape import normalised_text
from wpmigrate.scrape_rebuild.verify_rebuild import verify_rebuild
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate_airflow.portal import fail_on_losses

pytestmark = pytest.mark.sandbox

LOGO = "/wp-content/uploads/2021/03/logo.png"
# As the source renders it; the scraper decodes it to the text a visitor reads.
ENTITY_TITLE_HTML = "&lt;img src=x onerror=alert(1)&gt; Tom &amp; Jerry “quotes” 😀"
ENTITY_TITLE = html.unescape(ENTITY_TITLE_HTML)
REFUSED_SLUG = "wpm-refused-by-target"


def _post(src: str, slug: str, title: str, content: str, **extra: object) -> ScrapedItem:
    return ScrapedItem(kind="post", source_url=f"{src}/2024/05/{slug}/", title=title, content_html=content,
                       slug=slug, date="2024-05-06T07:08:09", **extra)  # type: ignore[arg-type]


def _items(src: str) -> list[ScrapedItem]:
    logo = f"{src}{LOGO}"
    entity_term = Term("post_tag", "<b>bold</b> & co", "bold-and-co")
    return [
        _post(src, "untitled", "", "<p>A post nobody named.</p>"),
        _post(src, "no-body", "Nothing to add", ""),
        _post(src, "image-only", "", f'<figure class="wp-block-image"><img src="{logo}" alt=""/></figure>'),
        _post(src, "secret", "Members only", "", password_protected=True),
        _post(src, "entities", ENTITY_TITLE, "<p>Cartoon night.</p>",
              excerpt="<script>alert(2)</script> Cats & mice", terms=[entity_term]),
        _post(src, REFUSED_SLUG, "Refused on purpose", "<p>The platform will not take this.</p>"),
        _post(src, "nothing-at-all", "", ""),  # WordPress itself refuses an empty post
        ScrapedItem(kind="page", source_url=f"{src}/blank-page/", title="", content_html="<p>Page text.</p>",
                    slug="blank-page"),
    ]


@pytest.fixture
def imported(fresh_target, rest_target: WordPressRestTarget):
    sb = fresh_target
    src, tgt = sb.source.url, sb.target.url
    data = httpx.get(f"{src}{LOGO}", timeout=30).content
    media = [MediaFile(source_url=f"{src}{LOGO}", sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       mime="image/png", artifact_uri="logo", filename="logo.png",
                       # As the source's REST API renders it (title.rendered: HTML).
                       title="&lt;svg onload=&quot;x()&quot;&gt; logo", alt="A <logo> & more")]
    items = _items(src)

    def run():
        return import_content(rest_target, items, media, open_media=lambda f: data, source_home=src,
                              target_home=tgt)

    return sb, items, media, run(), run


def _stored(target: WordPressRestTarget, kind: str = "posts") -> dict[str, dict]:
    return {p["slug"]: p for p in target.request_json(
        "GET", kind, what=kind, params={"context": "edit", "per_page": 100, "status": "publish,draft"})}


def test_every_item_arrives_or_is_recorded_with_the_targets_reason(imported, rest_target) -> None:
    sb, _items, _media, result, run = imported
    src = sb.source.url
    refused = result.refused_items
    assert set(refused) == {f"{src}/2024/05/{s}/" for s in ("secret", REFUSED_SLUG, "nothing-at-all")}
    platform = refused[f"{src}/2024/05/{REFUSED_SLUG}/"]
    assert (platform["reason"], platform["status"], platform["code"]) == (
        "refused_by_target", 422, "platform_content_refused")
    assert "platform refuses this item" in platform["message"]
    empty = refused[f"{src}/2024/05/nothing-at-all/"]
    assert (empty["status"], empty["code"]) == (400, "empty_content")
    assert empty["message"] == "Content, title, and excerpt are empty."
    assert refused[f"{src}/2024/05/secret/"]["reason"] == "password_protected"
    assert not set(refused) & set(result.url_map)

    posts = _stored(rest_target)
    assert set(posts) >= {"untitled", "no-body", "image-only", "entities"}
    assert not {"secret", REFUSED_SLUG, "nothing-at-all"} & set(posts)
    # Pass 2 wrote the real (empty) fields over pass 1's placeholder.
    assert posts["untitled"]["title"]["raw"] == "" and "nobody named" in posts["untitled"]["content"]["raw"]
    assert posts["no-body"]["content"]["raw"] == "" and posts["no-body"]["title"]["raw"] == "Nothing to add"
    assert posts["image-only"]["title"]["raw"] == "" and "<img" in posts["image-only"]["content"]["raw"]
    assert not any(PLACEHOLDER_CONTENT in p["content"]["raw"] for p in posts.values())
    page = _stored(rest_target, "pages")["blank-page"]
    assert page["title"]["raw"] == "" and page["link"] == result.url_map[f"{src}/blank-page/"]
    for slug in ("untitled", "no-body", "image-only", "entities"):
        assert httpx.get(posts[slug]["link"], timeout=30).status_code == 200, slug

    # A retry: nothing created or changed, the same items refused for the same reasons.
    again = run()
    assert all(c["created"] == c["updated"] == 0 for c in again.counts.values()), again.counts
    assert again.refused_items == refused and again.url_map == result.url_map


def test_plain_text_fields_arrive_as_text(imported, rest_target) -> None:
    sb, _, _, result, _ = imported
    post = _stored(rest_target)["entities"]
    assert post["title"]["raw"] == html.escape(ENTITY_TITLE, quote=False)
    assert post["excerpt"]["raw"] == "&lt;script&gt;alert(2)&lt;/script&gt; Cats &amp; mice"
    served = httpx.get(post["link"], timeout=30).text
    soup = BeautifulSoup(served, "html.parser")
    assert not soup.find_all(attrs={"onerror": True}) and not soup.find_all(attrs={"onload": True})
    assert "<img src=x" not in served and "<script>alert(2)" not in served and "<b>bold</b>" not in served
    title, _content = extract_main(served, post["link"])
    assert normalised_text(html.escape(title)) == normalised_text(html.escape(ENTITY_TITLE))
    tag = rest_target.request_json("GET", "tags", what="tags", params={"slug": "bold-and-co"})[0]
    assert html.unescape(tag["name"]) == "<b>bold</b> & co"  # the same text, stored escaped
    media = rest_target.request_json("GET", f"media/{result.media_map[f'{sb.source.url}{LOGO}']['id']}",
                                     what="media", params={"context": "edit"})
    assert html.unescape(media["title"]["raw"]) == '<svg onload="x()"> logo'
    assert "<svg" not in media["title"]["raw"] and html.unescape(media["alt_text"]) == "A <logo> & more"


def test_verification_names_each_loss_and_the_verify_task_fails(imported, rest_target, tmp_path) -> None:
    sb, items, media, result, _run = imported
    src = sb.source.url
    site_name = httpx.get(f"{sb.target.url}/wp-json/", timeout=30).json()["name"]
    with httpx.Client(timeout=30) as client:
        report = verify_rebuild(client=client, scraped=items, url_map=result.url_map, media=media,
                                media_url_map={k: v["url"] for k, v in result.media_map.items()},
                                source_origins=[src], extract=extract_main, normalise=normalised_text,
                                refused_items=result.refused_items, site_name=site_name,
                                target_home=sb.target.url)
    # Untitled items show the site name as their document title: no false loss.
    # The target keeps its own structure here (/%postname%/): the posts' /2024/05/ paths are
    # lost, each a loss of its own beside the two items the target refused.
    moved = ("untitled", "no-body", "image-only", "entities")
    losses = {(x["check"], x["url"]) for x in report["losses"]}
    assert losses == {("not_migrated", f"{src}/2024/05/{s}/") for s in (REFUSED_SLUG, "nothing-at-all")
                      } | {("path_lost", f"{src}/2024/05/{s}/") for s in moved}, report["losses"]
    content = report["sections"]["content"]
    assert report["ok"] is False and content["status"] == "fail"
    refused = next(x for x in report["losses"] if REFUSED_SLUG in x["url"])
    assert "HTTP 422 platform_content_refused" in refused["detail"]
    assert "platform refuses this item" in refused["detail"]
    # What a visitor cannot see is not migratable by scraping: reported, counted, not a loss.
    assert [w["url"] for w in content["warnings"]] == [f"{src}/2024/05/secret/"]
    assert "password-protected" in content["warnings"][0]["detail"]
    assert report["counts"]["not_migratable"] == 1
    paths = report["sections"]["paths"]
    assert paths["status"] == "fail" and report["counts"]["same_path"] == 1  # the page: /blank-page/
    assert {x["url"] for x in paths["problems"]} == {f"{src}/2024/05/{s}/" for s in moved}
    assert all("answers 404" in x["detail"] for x in paths["problems"]), paths["problems"]
    assert report["counts"]["posts_verified"] == 4 and report["counts"]["pages_verified"] == 1
    assert "platform_content_refused" in render_report_html(report)

    summary = {"ok": report["ok"], "json_uri": "v.json", "html_uri": "v.html", "losses": report["losses"]}
    with pytest.raises(MigrationError) as failed:
        fail_on_losses(summary, report["losses_total"])  # type: ignore[arg-type]
    assert failed.value.code == ErrorCode.VERIFICATION_FAILED and "6 problem(s)" in failed.value.message
    assert "/2024/05/untitled/ answers 404" in failed.value.message  # the first loss, named


def test_a_real_title_mismatch_still_fails(imported, rest_target) -> None:
    sb, _, _, result, _ = imported
    src = sb.source.url
    site_name = httpx.get(f"{sb.target.url}/wp-json/", timeout=30).json()["name"]
    untitled, titled = f"{src}/2024/05/untitled/", f"{src}/2024/05/no-body/"
    # Each item compared with the other one's page: an untitled source against a titled
    # target, and a titled source against an untitled target (which shows the site name).
    swapped = [_post(src, "untitled", "", ""),
               _post(src, "no-body", "Nothing to add", "<p>A post nobody named.</p>")]
    url_map = {untitled: result.url_map[titled], titled: result.url_map[untitled]}
    with httpx.Client(timeout=30) as client:
        report = verify_rebuild(client=client, scraped=swapped, url_map=url_map, media=[], media_url_map={},
                                source_origins=[src], extract=extract_main, normalise=normalised_text,
                                site_name=site_name)
    assert {(x["check"], x["url"]) for x in report["losses"]} == {("title", untitled), ("title", titled)}


def test_a_target_that_cannot_be_reached_fails_the_task(fresh_target) -> None:
    """Not one item's fault: the import raises a transient error (Airflow retries the task)
    instead of recording every item as refused."""
    src = fresh_target.source.url
    with httpx.Client(base_url="http://127.0.0.1:9", timeout=5) as client, \
            pytest.raises(MigrationError) as failed:
        import_content(WordPressRestTarget(client), _items(src)[:1], [], open_media=lambda f: b"",
                       source_home=src, target_home="http://127.0.0.1:9")
    assert failed.value.permanent is False and "unreachable" in failed.value.message
