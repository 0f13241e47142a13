"""Comments onto an item whose comments are closed (on the source, closed after they were
written): WordPress refuses every new comment there (``rest_comment_closed``), the
administrator's too. The item is opened for its comments, then closed again whatever
happens in between. Should the task die between the two, its retry runs the content
import first, which writes the source's setting again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from wpmigrate.scrape_rebuild.discussion import CLOSED, OPEN
from wpmigrate.target.wp_rest import WordPressRestTarget

COMMENTS_CLOSED = "rest_comment_closed"  # WordPress's error code for a comment on a closed item
# Opens a target post's comments; False when it cannot (collection unknown, opened already).
Reopen = Callable[[int], bool]


@contextmanager
def reopened_for_comments(target: WordPressRestTarget, collections: Mapping[int, str]) -> Iterator[Reopen]:
    """A ``Reopen`` for the posts in ``collections`` (target post id -> ``pages``/``posts``);
    every post it opened is closed again on leaving."""
    opened: dict[int, str] = {}

    def reopen(post: int) -> bool:
        collection = collections.get(post)
        if collection is None or post in opened:
            return False
        _set(target, collection, post, OPEN)
        opened[post] = collection
        return True

    try:
        yield reopen
    finally:
        for post, collection in opened.items():
            _set(target, collection, post, CLOSED)


def _set(target: WordPressRestTarget, collection: str, post: int, status: str) -> None:
    target.request_json("POST", f"{collection}/{post}", json={"comment_status": status},
                        what=f"setting comment_status {status} on {collection} {post}")
