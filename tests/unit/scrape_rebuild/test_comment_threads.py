"""Comments' pure parts: REST records, URLs, the idempotency marker, and the import's
order (parents first, replies held back until their parent exists) against a fake target."""

from __future__ import annotations

import hashlib
from typing import Any

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild import comments_import
from wpmigrate.scrape_rebuild.comments import SourceComment, comment_from_rest, rest_url
from wpmigrate.scrape_rebuild.comments_import import comment_marker, import_comments
from wpmigrate.scrape_rebuild.records import NESTED_TOO_DEEP


def test_rest_url_follows_the_api_root() -> None:
    assert rest_url("http://s/wp-json/", "wp/v2/comments", {"page": 2}) == "http://s/wp-json/wp/v2/comments?page=2"
    assert rest_url("http://s/?rest_route=/", "wp/v2/comments", {"page": 2}) == (
        "http://s/?rest_route=/wp/v2/comments&page=2")


def test_only_approved_comments_become_records() -> None:
    record = {"id": 3, "post": 8, "parent": 2, "author_name": "Ed", "author_url": "",
              "date": "2021-03-16T12:00:00", "content": {"rendered": "<p>hi</p>"},
              "link": "http://s/p/#comment-3", "type": "comment", "status": "approved"}
    comment = comment_from_rest(record)
    assert comment is not None and (comment.source_id, comment.post, comment.parent) == (3, 8, 2)
    assert comment.content_html == "<p>hi</p>" and comment.date_gmt is None
    assert comment_from_rest(record | {"type": "pingback"}) is None
    assert comment_from_rest(record | {"status": "hold"}) is None
    assert comment_from_rest({"id": "x"}) is None


def test_marker_names_the_source_comment() -> None:
    marker = comment_marker("https://www.Old.example/", 42)
    assert marker == comment_marker("http://old.example", 42) == "wpmigrate-comment/" \
        f"{hashlib.sha256(b'old.example').hexdigest()[:16]}/42"
    assert "old.example" not in marker  # no target field names the source


class FakeTarget:
    def __init__(self, refuse: set[str] = frozenset()) -> None:
        self.comments: list[dict[str, Any]] = []
        self.refuse = refuse

    def comments_of(self, post: int) -> list[dict[str, Any]]:
        return [c for c in self.comments if c["post"] == post]

    def create_comment(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["author_name"] in self.refuse:
            raise MigrationError(ErrorCode.IMPORT_FAILED, "no", details={
                "status": 400, "code": "rest_comment_content_invalid", "message": "Invalid comment content."})
        created = dict(body, id=100 + len(self.comments))
        self.comments.append(created)
        return created


def _c(source_id: int, parent: int = 0, post: int = 1, name: str = "A") -> SourceComment:
    return SourceComment(source_id=source_id, post=post, parent=parent, author_name=name,
                         content_html=f"<p>c{source_id} <script>x()</script></p>", date="2020-01-01T00:00:00")


def test_threading_order_refusals_and_rerun() -> None:
    target = FakeTarget(refuse={"Bad"})
    comments = [_c(1), _c(2, parent=5), _c(3, parent=1, name="Bad"), _c(4, parent=3), _c(5, parent=1),
                _c(6, post=9), _c(7, parent=99)]

    def run():
        return import_comments(target, comments, post_ids={1: 10}, source_home="http://old", target_home="http://new",
                               url_map={})  # type: ignore[arg-type]

    first = run()
    stored = {c["author_user_agent"]: c for c in target.comments}
    parent_of = {int(m.rsplit("/", 1)[1]): c["parent"] for m, c in stored.items()}
    ids = first.ids
    assert parent_of == {1: 0, 5: ids[1], 2: ids[5], 4: 0, 7: 0}  # 2 waited for 5; 4's parent refused
    assert set(first.refused) == {3} and first.refused[3]["code"] == "rest_comment_content_invalid"
    assert first.not_migrated == {6: "post_not_migrated"}
    assert all("<script" not in c["content"] and c["status"] == "approved" for c in target.comments)
    assert any("parent 99" in w for w in first.warnings)
    again = run()
    assert again.created == 0 and again.unchanged == 5 and len(target.comments) == 5 and again.ids == ids


def test_a_comment_nested_too_deep_is_its_own_loss(monkeypatch) -> None:
    """Deep markup is read (the walks are iterative); what still overflows costs that comment
    only: recorded as refused, with its reason, and the others are written."""
    deep = "<div>" * 5000 + "deep" + "</div>" * 5000
    comments = [_c(1), _c(2), _c(3)]
    comments[0].content_html = deep
    real = comments_import.sanitize_html

    def sanitize(html: str, *args: Any) -> Any:
        if "overflow" in html:
            raise RecursionError("maximum recursion depth exceeded")
        return real(html, *args)

    monkeypatch.setattr(comments_import, "sanitize_html", sanitize)
    comments[1].content_html = "<p>overflow</p>"
    target = FakeTarget()
    result = import_comments(target, comments, post_ids={1: 10}, source_home="http://old",  # type: ignore[arg-type]
                             target_home="http://new", url_map={})
    assert sorted(result.ids) == [1, 3] and "deep" in target.comments[0]["content"]
    assert result.refused[2]["reason"] == NESTED_TOO_DEEP
    assert any("comment 2: its content nests too deeply" in w for w in result.warnings)
