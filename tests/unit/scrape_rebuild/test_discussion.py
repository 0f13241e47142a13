"""An item's comment and ping settings: from REST records, from rendered pages (a classic
theme's and a block theme's comments markup, the pingback announcement), settled across the
site where one page shows nothing, and carried by the scrape into the ScrapedItem."""

from __future__ import annotations

from typing import Literal

from wpmigrate.scrape_rebuild.discussion import CLOSED, NOT_SHOWN, OPEN, SiteDiscussion, from_page, from_rest
from wpmigrate.scrape_rebuild.records import DiscoveredItem, ScrapedItem
from wpmigrate.scrape_rebuild.scrape import scrape_item

SITE = "https://source.example"
# Twenty Twenty-One (classic): comments.php, as WordPress 6.1 renders it.
CLASSIC_OPEN = f"""<div id="comments" class="comments-area default-max-width show-avatars">
<div id="respond" class="comment-respond">
<h2 id="reply-title" class="comment-reply-title">Leave a comment <small><a rel="nofollow"
 id="cancel-comment-reply-link" href="/showcase/#respond" style="display:none;">Cancel reply</a></small></h2>
<form action="{SITE}/wp-comments-post.php" method="post" id="commentform" class="comment-form" novalidate>
<p class="comment-form-comment"><label for="comment">Comment</label> <textarea id="comment" name="comment">
</textarea></p><p class="form-submit"><input name="submit" type="submit" id="submit" class="submit"
 value="Post Comment" /></p></form></div></div>"""
CLASSIC_CLOSED = """<div id="comments" class="comments-area default-max-width show-avatars">
<h2 class="comments-title">One comment on &ldquo;Showcase&rdquo;</h2>
<ol class="comment-list"><li id="comment-2" class="comment even thread-even depth-1">
<article id="div-comment-2" class="comment-body"><div class="comment-content"><p>Great post!</p></div>
</article></li></ol><p class="no-comments">Comments are closed.</p></div>"""
# Twenty Twenty-Three (block): the comments template part, as WordPress 6.1 renders it.
BLOCK_OPEN = f"""<section class="wp-block-template-part"><div class="wp-block-comments">
<h2 class="wp-block-comments-title">One response to &#8220;Showcase&#8221;</h2>
<ol class="wp-block-comment-template"><li id="comment-2" class="comment even thread-even depth-1">
<div class="wp-block-comment-content"><p>Great post!</p></div></li></ol>
<div id="respond" class="comment-respond wp-block-post-comments-form">
<h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
<form action="{SITE}/wp-comments-post.php" method="post" id="commentform" class="comment-form" novalidate>
<p class="form-submit wp-block-button"><input name="submit" type="submit" id="submit"
 class="wp-block-button__link wp-element-button" value="Post Comment" /></p></form></div></div></section>"""
BLOCK_CLOSED = """<section class="wp-block-template-part"><div class="wp-block-comments">
<h2 class="wp-block-comments-title">One response to &#8220;Showcase&#8221;</h2>
<ol class="wp-block-comment-template"><li id="comment-2" class="comment even thread-even depth-1">
<div class="wp-block-comment-content"><p>Great post!</p></div></li></ol></div></section>"""
PINGBACK_LINK = f'<link rel="pingback" href="{SITE}/xmlrpc.php">'


def _page(body: str, head: str = "", kind: str = "post") -> str:
    classes = "single single-post postid-8 single-format-standard" if kind == "post" else "page page-id-5"
    return (f'<!DOCTYPE html><html><head><title>Showcase</title>{head}</head><body class="{classes}">'
            f'<main><article><h1 class="entry-title">Showcase</h1><div class="entry-content"><p>Body text.'
            f"</p></div></article>{body}</main></body></html>")


def test_rest_records_carry_both_settings_and_nothing_else_counts() -> None:
    assert from_rest({"comment_status": "closed", "ping_status": "open"}) == (CLOSED, OPEN)
    assert from_rest({}) == (None, None)  # a post type without comments support: unknown
    assert from_rest({"comment_status": "registered_only", "ping_status": 1}) == (None, None)


def test_classic_and_block_comment_forms_mean_open_their_absence_closed() -> None:
    for markup in (CLASSIC_OPEN, BLOCK_OPEN):
        assert from_page(_page(markup))[0] == OPEN
    for markup in (CLASSIC_CLOSED, BLOCK_CLOSED):
        assert from_page(_page(markup))[0] == CLOSED
    # A classic theme prints nothing for an item closed and without comments: not told here.
    assert from_page(_page(""))[0] == NOT_SHOWN


def test_pings_are_open_only_where_the_page_announces_pingbacks() -> None:
    assert from_page(_page("", head=PINGBACK_LINK))[1] == OPEN  # a classic theme's <link rel=pingback>
    assert from_page(_page(""), {"X-Pingback": f"{SITE}/xmlrpc.php"})[1] == OPEN  # WordPress's header
    assert from_page(_page(""), {"content-type": "text/html"})[1] == NOT_SHOWN


def _item(kind: Literal["page", "post"], comments: str | None, pings: str | None) -> ScrapedItem:
    return ScrapedItem(kind=kind, source_url=f"{SITE}/{kind}-{comments}-{pings}/", title="t",
                       content_html="", slug="s", comment_status=comments, ping_status=pings)


def test_what_one_page_does_not_show_is_settled_by_the_others_or_stays_unknown() -> None:
    post_open, post_silent = _item("post", OPEN, OPEN), _item("post", NOT_SHOWN, NOT_SHOWN)
    page_silent = _item("page", NOT_SHOWN, NOT_SHOWN)
    site = SiteDiscussion.of([post_open, post_silent, page_silent])
    # Another post shows the form and announces pings: this one has both closed.
    assert site.settings(post_silent) == {"comment_status": CLOSED, "ping_status": CLOSED}
    # No page shows a form (the page template may print none): unknown, the target's default kept.
    assert site.settings(page_silent) == {"ping_status": CLOSED}
    hardened = SiteDiscussion.of([_item("post", OPEN, NOT_SHOWN), post_silent])
    assert hardened.ping_status(post_silent) is None  # no item announces pingbacks: nothing tells
    assert hardened.settings(_item("post", CLOSED, None)) == {"comment_status": CLOSED}


def test_scrape_carries_the_settings_from_rest_and_from_html() -> None:
    rest = {"id": 8, "type": "post", "link": f"{SITE}/showcase/", "slug": "showcase",
            "title": {"rendered": "S"}, "content": {"rendered": "<p>Body</p>"},
            "comment_status": "closed", "ping_status": "closed"}
    scraped = scrape_item(DiscoveredItem(url=f"{SITE}/showcase/", kind="post", via="rest", rest=rest), None)
    assert (scraped.comment_status, scraped.ping_status) == (CLOSED, CLOSED)
    crawled = DiscoveredItem(url=f"{SITE}/showcase/", kind="post", via="crawl")
    scraped = scrape_item(crawled, _page(CLASSIC_OPEN, head=PINGBACK_LINK))
    assert (scraped.comment_status, scraped.ping_status) == (OPEN, OPEN)
    assert "commentform" not in scraped.content_html  # the form is not content
    scraped = scrape_item(crawled, _page(BLOCK_CLOSED), headers={"content-type": "text/html"})
    assert (scraped.comment_status, scraped.ping_status) == (CLOSED, NOT_SHOWN)
