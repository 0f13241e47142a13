"""Fields of an entry from its rendered page (block and classic themes, plain HTML), and
the scrape step built on them (REST record vs HTML, normalised text)."""

from __future__ import annotations

from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.extract import (
    detect_kind,
    extract_main,
    extract_page,
    extract_title,
    parent_url_from_path,
    remove_render_leftovers,
    slug_from_url,
    split_page_links,
    strip_site_name,
    term_from_url,
)
from wpmigrate.scrape_rebuild.records import DiscoveredItem, Term
from wpmigrate.scrape_rebuild.scrape import normalised_text, scrape_item

SITE = "https://blocks.example"

BLOCK_THEME_POST = f"""<!DOCTYPE html>
<html lang="en-US"><head>
<meta charset="UTF-8">
<title>Caf&eacute; &#8220;Tips&#8221; &#8211; Block Site</title>
<meta name="description" content="All about coffee.">
<link rel="canonical" href="{SITE}/2023/11/cafe-tips/">
<link rel='shortlink' href='{SITE}/?p=42'>
<link rel="alternate" type="application/json" href="{SITE}/wp-json/wp/v2/posts/42">
<script>window.evil = 1;</script>
</head>
<body class="post-template-default single single-post postid-42 single-format-standard">
<div class="wp-site-blocks"><header class="wp-block-template-part">
<p class="wp-block-site-title"><a href="{SITE}" rel="home">Block Site</a></p>
<nav class="wp-block-navigation"><a href="{SITE}/about/">About</a>
<a href="{SITE}/category/news/">News</a></nav>
</header>
<main class="wp-block-group">
<div class="wp-block-group">
<figure class="wp-block-post-featured-image"><img src="{SITE}/wp-content/uploads/cup-1024x768.jpg"
 srcset="{SITE}/wp-content/uploads/cup-300x225.jpg 300w, {SITE}/wp-content/uploads/cup.jpg 2048w,
 {SITE}/wp-content/uploads/cup-1024x768.jpg 1024w" class="wp-post-image" alt=""></figure>
<h1 class="wp-block-post-title">Café “Tips”</h1>
</div>
<div class="entry-content wp-block-post-content"><p>First paragraph -- with "quotes".</p>
<figure class="wp-block-gallery-3 is-layout-flex wp-block-gallery">
<img src="/wp-content/uploads/g.jpg" alt="g"></figure>
<p>See <a href="{SITE}/category/archive-link/">all</a> ☕</p>
</div>
<div class="wp-block-template-part">
<div class="wp-block-post-date"><time datetime="2023-11-20T14:05:09+01:00">November 20, 2023</time></div>
<div class="taxonomy-category wp-block-post-terms">
<a href="{SITE}/category/guides/advanced/" rel="tag">Advanced</a>
<span class="wp-block-post-terms__separator">, </span>
<a href="{SITE}/category/guides/" rel="tag">Guides</a></div>
<div class="wp-block-post-author"><div class="wp-block-post-author__content">
<p class="wp-block-post-author__name">Alice Autorin</p></div></div>
<div class="taxonomy-post_tag wp-block-post-terms">
<a href="{SITE}/tag/%e6%9d%b1%e4%ba%ac/" rel="tag">東京</a></div>
</div>
<section class="wp-block-template-part"><div class="wp-block-comments"><h2>Comments</h2>
<p>Comment by <a href="{SITE}/author/bob/" rel="author">Bob</a> in <a href="{SITE}/tag/spam/">spam</a></p>
</div></section>
</main>
<footer class="wp-block-template-part"><p class="wp-block-site-title"><a href="{SITE}">Block Site</a></p>
<p>Proudly powered by WordPress</p></footer>
</div></body></html>"""

BLOCK_THEME_PAGE = f"""<!DOCTYPE html><html><head><title>Our Team &#8211; Block Site</title>
<link rel="canonical" href="{SITE}/about-us/our-team/"><link rel='shortlink' href='{SITE}/?p=5'></head>
<body class="page-template-default page page-id-5 page-parent page-child parent-pageid-4">
<div class="wp-site-blocks"><header class="wp-block-template-part"><p class="wp-block-site-title">
<a href="{SITE}" rel="home">Block Site</a></p></header>
<main><div class="wp-block-group"><h1 class="wp-block-post-title">Our Team</h1></div>
<div class="entry-content wp-block-post-content"><p>The people behind the site.</p></div></main>
<footer class="wp-block-template-part">Footer text</footer></div></body></html>"""

CLASSIC = "https://classic.example"
CLASSIC_THEME_POST = f"""<!DOCTYPE html><html><head>
<title>Hello &amp; welcome | Classic Site</title>
<meta property="og:site_name" content="Classic Site">
<meta property="og:image" content="{CLASSIC}/og.png">
<meta property="article:published_time" content="2020-01-02T03:04:05+00:00">
<meta property="article:modified_time" content="2021-01-02T03:04:05+00:00">
<script type="application/ld+json">{{"@context":"https://schema.org","@graph":[
 {{"@type":"WebSite","name":"Classic Site"}},
 {{"@type":"BlogPosting","headline":"Hello","datePublished":"2019-01-01T00:00:00Z",
   "author":{{"@type":"Person","name":"LD Author"}}}}]}}</script>
</head>
<body class="post-template-default single single-post postid-7">
<div id="page"><header id="masthead" class="site-header">
<p class="site-title"><a href="{CLASSIC}/" rel="home">Classic Site</a></p>
<nav id="site-navigation"><ul><li><a href="{CLASSIC}/about/">About</a></li></ul></nav></header>
<div id="content" class="site-content"><main id="main">
<article id="post-7" class="post-7 post type-post status-publish hentry">
<header class="entry-header"><h1 class="entry-title">Hello &amp; welcome</h1>
<div class="entry-meta"><span class="posted-on"><a href="{CLASSIC}/hello/" rel="bookmark">
<time class="entry-date published" datetime="2020-01-02T10:04:05+07:00">January 2, 2020</time>
<time class="updated" datetime="2020-02-03T10:00:00+07:00">February 3, 2020</time></a></span>
<span class="byline"> by <span class="author vcard">
<a class="url fn n" href="{CLASSIC}/author/carol/">Carol</a></span></span>
</div></header>
<div class="post-thumbnail">
<img src="{CLASSIC}/wp-content/uploads/thumb.jpg" class="wp-post-image" alt=""></div>
<div class="entry-content"><p>Classic body text.</p><p><img src="/wp-content/uploads/in-body.png" alt=""></p>
<div class="sharedaddy sd-sharing-enabled"><h3>Share this:</h3><a href="?share=x">X</a></div></div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="{CLASSIC}/category/news/"
 rel="category tag">News</a></span><span class="tags-links">Tagged <a href="{CLASSIC}/tag/hello-world/"
 rel="tag">hello world</a></span></footer>
</article>
<div id="comments" class="comments-area"><p>Comment with <a href="{CLASSIC}/tag/other/">tag</a></p></div>
</main>
<aside id="secondary" class="widget-area"><section class="widget widget_categories"><h2>Categories</h2>
<ul><li class="cat-item"><a href="{CLASSIC}/category/sidebar-cat/">Sidebar cat</a></li></ul></section></aside>
</div><footer id="colophon" class="site-footer">Footer</footer></div></body></html>"""

PLAIN_SITE = """<!DOCTYPE html><html><head><title>Widgets - Acme Corp</title></head><body>
<div class="top"><a href="/">Home</a> <a href="/products/">Products</a> <a href="/contact/">Contact</a></div>
<div class="wrap"><div class="left"><a href="/a/">Link one here</a><br><a href="/b/">Link two here</a></div>
<div class="text"><h2>About our widgets</h2>
<p>Our widgets are made by hand, in small batches, from recycled materials that we source locally.</p>
<p>Every widget is tested twice, packed in paper, and shipped within two days of your order.</p>
<p>Questions? Our team answers, usually within a day, by mail or phone, in three languages.</p>
</div></div><div class="bottom">© Acme Corp, all rights reserved, since 1999, and so on and on.</div>
</body></html>"""


def test_block_theme_post() -> None:
    page = extract_page(BLOCK_THEME_POST, f"{SITE}/2023/11/cafe-tips/?utm=x")
    assert page.kind == "post"
    assert page.source_id == 42
    assert page.url == f"{SITE}/2023/11/cafe-tips/"
    assert page.slug == "cafe-tips"
    assert page.title == "Café “Tips”"
    assert page.content_rule == ".wp-block-post-content"
    soup = BeautifulSoup(page.content_html, "html.parser")
    assert soup.find("p").get_text() == 'First paragraph -- with "quotes".'
    text = soup.get_text()
    assert "Block Site" not in text and "Comments" not in text and "Alice" not in text
    assert "About" not in text and "Proudly" not in text
    assert page.date == "2023-11-20T14:05:09"
    assert page.date_gmt == "2023-11-20T13:05:09"
    assert page.parent_url is None  # posts have no parents, whatever the path looks like
    assert page.terms == [
        Term("category", "Advanced", "advanced", parent_slug="guides"),
        Term("category", "Guides", "guides"),
        Term("post_tag", "東京", "東京"),
    ]
    assert page.featured_image_url == f"{SITE}/wp-content/uploads/cup.jpg"  # largest candidate
    assert page.author_name == "Alice Autorin"
    assert page.seo_title == "Café “Tips” – Block Site"
    assert page.seo_description == "All about coffee."
    assert page.excerpt == "All about coffee."


def test_block_theme_page_has_parent_from_path() -> None:
    page = extract_page(BLOCK_THEME_PAGE, f"{SITE}/about-us/our-team/")
    assert (page.kind, page.source_id, page.parent_id) == ("page", 5, 4)
    assert page.title == "Our Team"
    assert page.parent_url == f"{SITE}/about-us/"
    assert page.content_html == "<p>The people behind the site.</p>"
    assert page.date is None and page.terms == [] and page.author_name is None


def test_classic_theme_post() -> None:
    page = extract_page(CLASSIC_THEME_POST, f"{CLASSIC}/hello/")
    assert (page.kind, page.source_id) == ("post", 7)
    assert page.title == "Hello & welcome"
    assert page.content_rule == "article .entry-content"
    assert "Classic body text." in page.content_html
    # <time class="entry-date published"> wins over the meta and JSON-LD.
    assert page.date == "2020-01-02T10:04:05"
    assert page.date_gmt == "2020-01-02T03:04:05"
    assert page.modified == "2020-02-03T10:00:00"
    assert page.author_name == "Carol"
    assert page.featured_image_url == f"{CLASSIC}/wp-content/uploads/thumb.jpg"
    assert page.site_name == "Classic Site"
    assert page.seo_title == "Hello & welcome | Classic Site"
    terms = sorted((t.taxonomy, t.slug) for t in page.terms)
    assert terms == [("category", "news"), ("post_tag", "hello-world")]


def test_meta_and_json_ld_fallbacks() -> None:
    published = '<time class="entry-date published" datetime="2020-01-02T10:04:05+07:00">'
    html = CLASSIC_THEME_POST.replace(published, "<time>")
    html = html.replace('<a class="url fn n" href="https://classic.example/author/carol/">Carol</a>', "")
    page = extract_page(html, f"{CLASSIC}/hello/")
    assert page.date == "2020-01-02T03:04:05"  # article:published_time
    assert page.author_name == "LD Author"
    no_meta = html.replace('<meta property="article:published_time" content="2020-01-02T03:04:05+00:00">', "")
    assert extract_page(no_meta, f"{CLASSIC}/hello/").date == "2019-01-01T00:00:00"


def test_plain_html_uses_title_suffix_and_text_density() -> None:
    page = extract_page(PLAIN_SITE, "https://acme.example/widgets/")
    assert page.kind == "unknown"
    assert page.title == "Widgets"
    assert page.content_rule == "heuristic"
    text = BeautifulSoup(page.content_html, "html.parser").get_text()
    assert "made by hand" in text and "three languages" in text
    assert "Products" not in text and "Link one" not in text and "rights reserved" not in text


def test_broad_container_drops_theme_chrome() -> None:
    html = """<html><body class="page page-id-3"><main><h1 class="entry-title">T</h1>
    <nav><a href="/x/">Menu</a></nav><p>Body text.</p><div id="comments">Comments</div></main>
    </body></html>"""
    page = extract_page(html, f"{SITE}/t/")
    assert page.content_rule == "main"
    assert normalised_text(page.content_html) == "Body text."


def test_kind_detection() -> None:
    def kind(body: str, head: str = "") -> tuple[str, int | None, int | None]:
        return detect_kind(BeautifulSoup(f"<html><head>{head}</head><body class='{body}'></body></html>",
                                         "html.parser"))

    assert kind("single single-post postid-9") == ("post", 9, None)
    assert kind("page page-id-3 parent-pageid-2") == ("page", 3, 2)
    assert kind("single single-product postid-5") == ("unknown", 5, None)
    assert kind("home blog") == ("unknown", None, None)
    assert kind("", "<link rel='shortlink' href='https://x/?page_id=12'>") == ("page", 12, None)
    rest_link = '<link rel="alternate" type="application/json" href="https://x/wp-json/wp/v2/posts/8">'
    assert kind("", rest_link) == ("post", 8, None)
    assert kind("page", "<link rel='shortlink' href='https://x/?p=6'>") == ("unknown", None, None)


def test_url_helpers() -> None:
    assert slug_from_url("https://x/%e6%9d%b1%e4%ba%ac/") == "東京"
    assert slug_from_url("https://x/a/b?x=1") == "b"
    assert slug_from_url("https://x/") == ""
    assert parent_url_from_path("https://x/about-us/our-team/") == "https://x/about-us/"
    assert parent_url_from_path("https://x/about-us/") is None
    assert parent_url_from_path("https://x/blog/about/", home_url="https://x/blog/") is None
    assert parent_url_from_path("https://x/blog/about/team/", home_url="https://x/blog") == "https://x/blog/about/"
    assert strip_site_name("About – My Site", "My Site") == "About"
    assert strip_site_name("A - B – My Site", None) == "A - B"
    assert strip_site_name("No suffix", "My Site") == "No suffix"
    assert term_from_url("https://x/category/a/b/", "B") == Term("category", "B", "b", parent_slug="a")
    assert term_from_url("https://x/?tag=t", "T") == Term("post_tag", "T", "t")
    assert term_from_url("https://x/topics/news/", "News", "category") == Term("category", "News", "news")
    assert term_from_url("https://x/about/", "About") is None


def test_remove_render_leftovers() -> None:
    soup = BeautifulSoup(
        '<p>Hi <img draggable="false" role="img" class="emoji" alt="☕" src="https://s.w.org/x.svg"></p>'
        '<p><span id="more-12"></span></p><p>More</p>'
        '<div class="wp-container-7 is-layout-flex">x</div><figure class="wp-block-gallery-1">y</figure>'
        '<div class="sharedaddy"><a href="?share=x">share</a></div>', "html.parser")
    assert remove_render_leftovers(soup) == 5
    assert str(soup) == ('<p>Hi ☕</p><!--more--><p>More</p><div class="is-layout-flex">x</div>'
                         "<figure>y</figure>")


# ---------------------------------------------------------------------------- scrape


def test_normalised_text_undoes_wptexturize() -> None:
    source = '<p>"Quoted" -- it\'s 2x3... and --- more</p><p>Next&nbsp;para</p>'
    rendered = ("<p>&#8220;Quoted&#8221; &#8211; it&#8217;s 2&#215;3&#8230; and &#8212; more</p>\n\n"
                "<p>Next para</p>")
    expected = "\"Quoted\" - it's 2x3... and - more Next para"
    assert normalised_text(source) == normalised_text(rendered) == expected
    assert normalised_text("<p>a</p><p>b</p>") == "a b"
    assert normalised_text("<p>wo<b>rd</b></p><script>x</script>") == "word"
    assert normalised_text("Cafe\u0301") == "Café"


REST_POST = {
    "id": 42, "type": "post", "link": f"{SITE}/2023/11/cafe-tips/", "status": "publish",
    "date": "2023-11-20T14:05:09", "date_gmt": "2023-11-20T13:05:09", "modified": "2023-12-01T00:00:00",
    "slug": "caf%c3%a9-tips", "title": {"rendered": "Caf&eacute; &#8220;Tips&#8221;"},
    "content": {"rendered": '<p>Body <a href="/rel/">link</a></p><script>alert(1)</script>'
                            '<p><img src="/wp-content/uploads/x.jpg" onerror="alert(1)"></p>'},
    "excerpt": {"rendered": "<p>Body link [&hellip;]</p>\n"},
    "parent": 0, "menu_order": 0, "categories": [3], "tags": [8], "featured_media": 16, "author": 2,
}


def test_scrape_item_from_rest() -> None:
    item = DiscoveredItem(url=REST_POST["link"], kind="post", via="rest", source_id=42, rest=REST_POST)
    scraped = scrape_item(
        item, BLOCK_THEME_POST,
        terms_by_id={3: Term("category", "Reisen &amp; Café", "reisen-caf%c3%a9"),
                     8: Term("post_tag", "t", "t")},
        media_by_id={16: f"{SITE}/wp-content/uploads/cup.jpg"},
        authors_by_id={2: "Alice"},
        page_url_by_id={},
    )
    assert scraped.kind == "post" and scraped.source_id == 42
    assert scraped.title == "Café “Tips”"
    assert scraped.slug == "café-tips"
    assert scraped.excerpt == ""  # auto-generated by WordPress, not worth freezing
    assert scraped.date == "2023-11-20T14:05:09"
    assert scraped.terms == [Term("category", "Reisen & Café", "reisen-café"), Term("post_tag", "t", "t")]
    assert scraped.author_name == "Alice"
    assert scraped.seo_title == "Café “Tips” – Block Site"
    assert scraped.seo_description == "All about coffee."
    assert "<script" not in scraped.content_html and "onerror" not in scraped.content_html
    assert f'href="{SITE}/rel/"' in scraped.content_html
    assert scraped.removed["scripts"] == 1 and scraped.removed["event_handlers"] == 1
    assert scraped.media_urls == [f"{SITE}/wp-content/uploads/x.jpg", f"{SITE}/wp-content/uploads/cup.jpg"]


def test_scrape_item_from_html_only() -> None:
    item = DiscoveredItem(url=f"{SITE}/2023/11/cafe-tips/", kind="unknown", via="crawl")
    scraped = scrape_item(item, BLOCK_THEME_POST)
    assert scraped.kind == "post" and scraped.source_id == 42
    assert scraped.title == "Café “Tips”"
    assert [t.slug for t in scraped.terms] == ["advanced", "guides", "東京"]
    assert scraped.featured_image_url == f"{SITE}/wp-content/uploads/cup.jpg"
    assert "wp-block-gallery-3" not in scraped.content_html and "is-layout-flex" in scraped.content_html
    assert f'src="{SITE}/wp-content/uploads/g.jpg"' in scraped.content_html
    assert scraped.removed["render_leftovers"] == 1
    assert normalised_text(scraped.content_html) == 'First paragraph - with "quotes". See all ☕'


def test_scrape_item_needs_something() -> None:
    item = DiscoveredItem(url=f"{SITE}/x/", kind="page", via="sitemap")
    try:
        scrape_item(item, None)
    except ValueError:
        return
    raise AssertionError("expected ValueError")


def test_extract_main_for_verification() -> None:
    title, content = extract_main(BLOCK_THEME_POST, f"{SITE}/2023/11/cafe-tips/")
    assert title == "Café “Tips”"
    assert normalised_text(content) == 'First paragraph - with "quotes". See all ☕'
    assert "wp-block-gallery-3" not in content  # leftovers dropped as scrape drops them


def test_written_excerpt_is_kept_and_generated_one_dropped() -> None:
    content = "<p>First words</p><p>second paragraph goes on and on</p>"
    base = {**REST_POST, "content": {"rendered": content}, "categories": [], "tags": []}

    def excerpt(rendered: str) -> str:
        record = {**base, "excerpt": {"rendered": rendered}}
        item = DiscoveredItem(url=REST_POST["link"], kind="post", via="rest", rest=record)
        return scrape_item(item, None).excerpt

    assert excerpt("<p>First wordssecond paragraph goes on [&hellip;]</p>") == ""
    more = '<a class="more-link" href="#">Continue reading</a>'
    assert excerpt(f"<p>First words second &hellip; {more}</p>") == ""
    assert excerpt("<p>A summary I wrote myself.</p>") == "A summary I wrote myself."


UNTITLED_NO_BODY = """<!doctype html><html><head><title>My Site</title></head><body class="single">
<header><p class="wp-block-site-title"><a href="https://old.example/" rel="home">My Site</a></p></header>
<main><div class="wp-block-group"><h1 class="wp-block-post-title"></h1>
<div class="taxonomy-category wp-block-post-terms">
<a href="https://old.example/category/news/" rel="tag">News</a></div></div></main></body></html>"""


def test_an_untitled_entry_without_a_body_keeps_no_title_and_its_terms() -> None:
    """WordPress's document title for an untitled entry is the site name alone: no title. With
    no body the content rule takes a wide element; the theme's term list is still the entry's."""
    soup = BeautifulSoup(UNTITLED_NO_BODY, "html.parser")
    assert extract_title(soup, "My Site") == ""
    assert extract_title(BeautifulSoup(UNTITLED_NO_BODY.replace("<title>My Site", "<title>Hello – My Site"),
                                       "html.parser"), "My Site") == "Hello"
    item = scrape_item(DiscoveredItem("https://old.example/untitled/", "post", "crawl"), UNTITLED_NO_BODY)
    assert item.title == "" and [(t.taxonomy, t.slug) for t in item.terms] == [("category", "news")]


def test_page_links_of_a_paginated_entry_are_dropped_and_the_other_pages_returned() -> None:
    """<!--nextpage-->: WordPress shows one page and wp_link_pages() links the others, in
    p.post-nav-links (block themes) or nav.page-links (Twenty Twenty-One), as rendered."""
    url = f"{SITE}/paged/"
    block = ('<p>Page one.</p>\n<p class="post-nav-links">Pages: <span class="post-page-numbers current" '
             f'aria-current="page">1</span> <a href="{SITE}/paged/2/" class="post-page-numbers">2</a> '
             f'<a href="{SITE}/paged/3/" class="post-page-numbers">3</a></p>')
    content, pages = split_page_links(block, url)
    assert pages == [f"{SITE}/paged/2/", f"{SITE}/paged/3/"]
    assert normalised_text(content) == "Page one." and "post-nav-links" not in content
    # Page two of a classic theme links back to page one: never the page itself.
    classic = ('<p>Page two.</p> <nav class="page-links" aria-label="Page"> <a href="/paged/" '
               'class="post-page-numbers">Page 1</a> <span class="post-page-numbers current" '
               'aria-current="page">Page 2</span></nav>')
    content, pages = split_page_links(classic, f"{SITE}/paged/2/")
    assert pages == [f"{SITE}/paged/"] and normalised_text(content) == "Page two."
    # A wrapper with more in it than the links keeps its own text.
    mixed = (f'<p>Lots of words that belong to the entry and stay. <a href="{SITE}/paged/2/" '
             'class="post-page-numbers">2</a></p>')
    content, pages = split_page_links(mixed, url)
    assert pages == [f"{SITE}/paged/2/"]
    assert normalised_text(content) == "Lots of words that belong to the entry and stay."
    plain = "<p>No pages here.</p>"
    assert split_page_links(plain, url) == (plain, [])
    page = f'<html><body><article><div class="entry-content">{block}</div></article></body></html>'
    assert extract_page(page, url).page_urls == [f"{SITE}/paged/2/", f"{SITE}/paged/3/"]
