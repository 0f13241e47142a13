"""Which target errors one item may absorb (recorded, the import goes on) and which fail the
task (Airflow retries it); a password-protected item is known as such from REST or HTML."""

from __future__ import annotations

import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild.content_import import (
    ImportResult,
    _refused_or_raise,
    as_text,
    describe_refusal,
)
from wpmigrate.scrape_rebuild.records import DiscoveredItem, ScrapedItem
from wpmigrate.scrape_rebuild.scrape import scrape_item

ITEM = ScrapedItem(kind="post", source_url="http://old.example/x/", title="X", content_html="", slug="x")


def _error(status: int | None, *, permanent: bool = True) -> MigrationError:
    details = {"status": status, "code": "platform_content_refused", "message": "No."} if status else {}
    return MigrationError(ErrorCode.IMPORT_FAILED, f"target refused posts 'x' (HTTP {status}): No.",
                          permanent=permanent, details=details)


@pytest.mark.parametrize("status", [400, 403, 409, 413, 422])
def test_a_refusal_of_one_item_is_recorded(status: int) -> None:
    result = ImportResult(url_map={ITEM.source_url: "http://new.example/x/"})
    _refused_or_raise(result, ITEM, _error(status))
    refused = result.refused_items[ITEM.source_url]
    assert (refused["status"], refused["code"], refused["message"]) == (
        status, "platform_content_refused", "No.")
    assert ITEM.source_url not in result.url_map  # verification reports it, never compares it
    assert describe_refusal(refused) == f"the target refused it (HTTP {status} platform_content_refused): No."


@pytest.mark.parametrize("error", [_error(None, permanent=False), _error(503, permanent=False), _error(401),
                                   _error(None)])
def test_what_is_not_about_one_item_fails_the_task(error: MigrationError) -> None:
    result = ImportResult()
    with pytest.raises(MigrationError):
        _refused_or_raise(result, ITEM, error)
    assert not result.refused_items


def test_plain_text_is_escaped_once() -> None:
    assert as_text('<img src=x onerror=alert(1)> Tom & Jerry "q" 😀') == \
        '&lt;img src=x onerror=alert(1)&gt; Tom &amp; Jerry "q" 😀'


def test_password_protected_items_are_marked() -> None:
    rest = {"id": 7, "type": "post", "link": "http://old.example/secret/", "slug": "secret",
            "title": {"rendered": "Secret"}, "content": {"rendered": "", "protected": True},
            "excerpt": {"rendered": "", "protected": True}}
    item = DiscoveredItem(url=rest["link"], kind="post", via="rest", source_id=7, rest=rest)  # type: ignore[arg-type]
    assert scrape_item(item, None).password_protected is True
    page = ('<html><body class="single single-post postid-7"><article><h1 class="entry-title">Secret</h1>'
            '<div class="entry-content"><form action="http://old.example/wp-login.php?action=postpass"'
            ' class="post-password-form" method="post"><p>This content is password protected.</p>'
            '<input name="post_password" type="password"/></form></div></article></body></html>')
    crawled = scrape_item(DiscoveredItem(url="http://old.example/secret/", kind="unknown", via="crawl"), page)
    assert crawled.password_protected is True
    open_rest = {**rest, "content": {"rendered": "<p>hi</p>", "protected": False}}
    assert scrape_item(DiscoveredItem(url=rest["link"], kind="post", via="rest", rest=open_rest),  # type: ignore[arg-type]
                       None).password_protected is False
