"""The permalink structure learnt from what a visitor sees (the REST API closed): posts'
rendered pages (body class, shortlink, entry date, category and author links) and every
post link discovery found."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup

from tests.support.discovery_scope import default_scope
from tests.support.local_http import RecordingServer, recording_server
from wpmigrate.scrape_rebuild.discovery import discover
from wpmigrate.scrape_rebuild.html.extract import published_date
from wpmigrate.scrape_rebuild.html.permalink_sample import sample_from_html
from wpmigrate.scrape_rebuild.permalinks import PostSample, fits, infer_structure
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.web.url_guard import guarded_client

DATED = "/%year%/%monthnum%/%day%/%postname%/"
HTML = {"Content-Type": "text/html; charset=utf-8"}
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _block_post(post_id: int, date: str, *, shortlink: str | None = None, body_id: bool = True,
                comments: str = "", category: str = "news") -> str:
    """A post as a block theme prints it (Post Date and Post Terms blocks, comments after)."""
    body = f"single wp-singular post-template-default single-post{f' postid-{post_id}' if body_id else ''}"
    link = f'<link rel="shortlink" href="{shortlink}">' if shortlink else ""
    return (f"<html><head>{link}</head><body class=\"{body}\"><main>"
            f'<div class="wp-block-post-date"><time datetime="{date}">a day</time></div>'
            f'<div class="taxonomy-category wp-block-post-terms"><a href="/category/{category}/" rel="tag">'
            f"{category}</a></div><p>Text</p>"
            f'<div class="wp-block-comments">{comments}</div></main></body></html>')


def _classic_post(post_id: int, date: str, author: str = "jun") -> str:
    """A post as Twenty Twenty-One prints it: the comment's <time> comes first in the page."""
    return (f'<html><body class="post-template-default single single-post postid-{post_id}">'
            f'<ol class="comment-list"><li class="comment"><time datetime="2030-01-01T00:00:00+00:00">'
            f"later</time></li></ol>"
            f'<article class="post-{post_id} post type-post status-publish hentry category-travel">'
            f'<span class="posted-on"><time class="entry-date published updated" datetime="{date}">d</time>'
            f'</span><a href="/author/{author}/" rel="author">Jun</a></article></body></html>')


def _sample(html: str, url: str) -> PostSample:
    sample = sample_from_html(BeautifulSoup(html, "lxml"), url)
    assert sample is not None, url
    return sample


def test_a_block_theme_post_gives_its_id_date_slug_and_category() -> None:
    sample = _sample(_block_post(8, "2021-03-15T10:00:00+00:00"), "http://old.test/2021/03/15/hello/")
    assert (sample.post_id, sample.date[:19], sample.slug) == (8, "2021-03-15T10:00:00", "hello")
    assert sample.category_paths == ("news",)


def test_the_entry_date_is_not_a_comments_date() -> None:
    soup = BeautifulSoup(_classic_post(5, "2022-07-01T08:30:00+09:00"), "lxml")
    assert published_date(soup) == "2022-07-01T08:30:00"  # site-local, as the date tags are
    comment_only = _block_post(5, "2022-07-01T08:30:00",
                               comments='<time datetime="2030-01-01T00:00:00">x</time>')
    assert published_date(BeautifulSoup(comment_only, "lxml")) == "2022-07-01T08:30:00"


def test_the_meta_date_is_the_fallback() -> None:
    page = ('<html><head><meta property="article:published_time" content="2020-02-03T04:05:06+00:00">'
            '</head><body class="single-post postid-3"></body></html>')
    assert published_date(BeautifulSoup(page, "lxml")) == "2020-02-03T04:05:06"


def test_the_shortlink_gives_the_id_when_the_body_class_does_not() -> None:
    page = _block_post(0, "2021-03-15T10:00:00", shortlink="http://old.test/?p=77", body_id=False)
    sample = _sample(page, "http://old.test/archives/77")
    assert sample.post_id == 77 and sample.slug == ""
    assert infer_structure([sample]).structure == "/archives/%post_id%"


@pytest.mark.parametrize(("path", "structure"), [
    ("/2021/03/15/hello/", DATED),
    ("/2021/03/hello/", "/%year%/%monthnum%/%postname%/"),
    ("/news/hello/", "/%category%/%postname%/"),
    ("/hello/", "/%postname%/"),
    ("/archives/8/", "/archives/%post_id%/"),
])
def test_a_structure_from_one_rendered_post(path: str, structure: str) -> None:
    sample = _sample(_block_post(8, "2021-03-15T10:00:00+00:00"), f"http://old.test{path}")
    assert infer_structure([sample]).structure == structure


def test_author_and_classic_post_classes() -> None:
    sample = _sample(_classic_post(5, "2022-07-01T08:30:00+09:00"), "http://old.test/travel/jun/hi/")
    assert sample.category_paths == ("travel",) and sample.author == "jun"
    assert infer_structure([sample]).structure == "/%category%/%author%/%postname%/"


def test_agreeing_rendered_posts_give_the_dated_structure() -> None:
    samples = [_sample(_block_post(i, f"2021-0{i}-1{i}T10:00:00+00:00"), f"http://old.test/2021/0{i}/1{i}/p{i}/")
               for i in range(1, 6)]
    result = infer_structure(samples)
    assert (result.structure, result.samples, result.agreeing) == (DATED, 5, 5)


def test_disagreeing_rendered_posts_give_no_structure() -> None:
    dated = _sample(_block_post(1, "2021-03-15T10:00:00"), "http://old.test/2021/03/15/one/")
    flat = _sample(_block_post(2, "2021-03-16T10:00:00"), "http://old.test/two/")
    result = infer_structure([dated, flat])
    assert result.structure is None and "2 different patterns" in result.reason


def test_a_slug_before_the_id_is_not_learnt_and_the_samples_disagree() -> None:
    samples = [_sample(_block_post(i, "2021-03-15T10:00:00"), f"http://old.test/p{i}/{i}/") for i in (1, 2)]
    assert infer_structure(samples).structure is None


def test_a_date_the_page_does_not_show_stays_literal_and_disagrees() -> None:
    undated = [_sample(f'<html><body class="single-post postid-{i}"></body></html>',
                       f"http://old.test/2021/0{i}/p{i}/") for i in (1, 2)]
    assert infer_structure(undated).structure is None


def test_plain_permalinks_give_no_structure() -> None:
    sample = _sample(_block_post(0, "2021-03-15T10:00:00", shortlink="http://old.test/?p=9", body_id=False),
                     "http://old.test/?p=9")
    assert sample.post_id == 9
    result = infer_structure([sample])
    assert result.structure is None and "plain" in result.reason


def test_every_other_post_link_must_fit() -> None:
    sample = _sample(_block_post(1, "2021-03-15T10:00:00"), "http://old.test/2021/03/15/one/")
    assert fits(DATED, "/2020/01/02/two/") and fits(DATED, "/2020/01/02/two")
    assert not fits(DATED, "/two/") and not fits(DATED, "/?p=4") and not fits(DATED, "/2020/1/2/two/")
    assert fits(DATED, "/wp/2020/01/02/two/", "/wp/") and not fits(DATED, "/2020/01/02/two/", "/wp/")
    assert infer_structure([sample], other_paths=["/2020/01/02/two/"]).structure == DATED
    result = infer_structure([sample], other_paths=["/2020/01/02/two/", "/three/"])
    assert result.structure is None and "/three/" in result.reason


# ---------------------------------------------------------------- discovery, REST closed

@pytest.fixture
def fetcher() -> Iterator[PoliteFetcher]:
    with guarded_client(("127.0.0.0/8",), read_only=True, timeout=10.0) as client:
        yield PoliteFetcher(client, rate_per_second=200)


def _closed_site(srv: RecordingServer, posts: dict[str, str], sitemap_only: tuple[str, ...] = ()) -> None:
    """A site whose REST API answers 401 to visitors: a home page linking ``posts`` (path ->
    date), a post sitemap listing those and ``sitemap_only``."""
    srv.default = (404, HTML, b"<h1>404</h1>")
    srv.routes["/wp-json/"] = (401, {"Content-Type": "application/json"}, b'{"code":"rest_login_required"}')
    locs = "".join(f"<url><loc>{srv.origin}{p}</loc></url>" for p in (*posts, *sitemap_only))
    srv.routes["/wp-sitemap.xml"] = (200, {"Content-Type": "application/xml"}, (
        f'<sitemapindex xmlns="{SITEMAP_NS}"><sitemap><loc>{srv.origin}/wp-sitemap-posts-post-1.xml</loc>'
        "</sitemap></sitemapindex>").encode())
    srv.routes["/wp-sitemap-posts-post-1.xml"] = (200, {"Content-Type": "application/xml"},
                                                  f'<urlset xmlns="{SITEMAP_NS}">{locs}</urlset>'.encode())
    links = "".join(f'<a href="{p}">{p}</a>' for p in posts)
    srv.routes["/"] = (200, HTML, f'<html><body class="home blog">{links}</body></html>'.encode())
    for i, (path, date) in enumerate(posts.items(), start=1):
        srv.routes[path] = (200, HTML, _block_post(i, date).encode())


def test_discovery_without_rest_learns_the_dated_structure(fetcher: PoliteFetcher) -> None:
    with recording_server() as srv:
        _closed_site(srv, {"/2021/03/15/one/": "2021-03-15T10:00:00+00:00",
                           "/2022/07/01/two/": "2022-07-01T08:30:00+00:00"})
        found = discover(fetcher, srv.origin + "/", **default_scope(include_media=False))
    learnt = found.site["permalinks"]
    assert (learnt["structure"], learnt["samples"], learnt["agreeing"]) == (DATED, 2, 2), learnt
    assert not [n for n in found.notes if "permalink" in n]


def test_discovery_without_rest_says_when_no_structure_fits(fetcher: PoliteFetcher) -> None:
    with recording_server() as srv:
        _closed_site(srv, {"/2021/03/15/one/": "2021-03-15T10:00:00+00:00"}, sitemap_only=("/moved-flat/",))
        found = discover(fetcher, srv.origin + "/", **default_scope(include_media=False))
    assert found.site["permalinks"]["structure"] is None
    assert [n for n in found.notes if "permalink structure not inferred" in n and "/moved-flat/" in n]

