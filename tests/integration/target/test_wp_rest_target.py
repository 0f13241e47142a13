"""Idempotent writes into the real sandbox target through its REST API: running the
same import twice (a retried task) creates nothing twice."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.core.errors import MigrationError
from wpmigrate.target.wp_rest import WordPressRestTarget

pytestmark = pytest.mark.sandbox


# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def _import(target: WordPressRestTarget, png: bytes) -> dict:
    cat = target.ensure_term("categories", name="Café ☕", slug="cafe")
    child = target.ensure_term("categories", name="Espresso", slug="espresso", parent=cat)
    tag = target.ensure_term("tags", name="beans", slug="beans")
    media = target.ensure_media(content=png, filename="roast.png", mime="image/png",
                                sha256=hashlib.sha256(png).hexdigest(), title="Roast")
    about = target.ensure_content("pages", {"slug": "about-us", "title": "About us", "content": "<p>Hi</p>"})
    team = target.ensure_content("pages", {"slug": "team", "title": "Team", "parent": about["id"],
                                           "content": "<p>We</p>"})
    post = target.ensure_content("posts", {
        "slug": "first-roast", "title": "First roast 🔥", "content": f'<img src="{media["source_url"]}">',
        "date": "2024-03-01T10:00:00", "categories": [child], "tags": [tag], "featured_media": media["id"]})
    return {"cat": cat, "child": child, "tag": tag, "media": media["id"], "about": about, "team": team,
            "post": post}


def test_a_retried_import_creates_nothing_twice(fresh_target) -> None:
    sb = fresh_target
    png = PNG
    with httpx.Client(base_url=sb.target.url, auth=(sb.platform.service_user, sb.platform.app_password),
                      timeout=30) as client:
        target = WordPressRestTarget(client)
        first = _import(target, png)
        tgt = wc.db(sb, "target")

        def counts() -> dict[str, int]:
            tables = ("posts", "terms", "postmeta")
            return {t: wc.rows(tgt, f"SELECT COUNT(*) FROM wp_{t}")[0][0] for t in tables}

        before = counts()
        second = _import(target, png)
        assert counts() == before
    assert first["post"]["created"] and not second["post"]["created"]
    assert {k: v for k, v in first.items() if k not in ("about", "team", "post")} == {
        k: v for k, v in second.items() if k not in ("about", "team", "post")}
    assert second["post"]["id"] == first["post"]["id"] and second["team"]["id"] == first["team"]["id"]
    page = httpx.get(first["post"]["link"], timeout=30)
    assert page.status_code == 200 and "First roast" in page.text
    parent = wc.rows(tgt, "SELECT post_parent FROM wp_posts WHERE ID = %s", (first["team"]["id"],))[0][0]
    assert parent == first["about"]["id"]


def test_a_refused_write_is_a_clear_permanent_error(fresh_target) -> None:
    sb = fresh_target
    with httpx.Client(base_url=sb.target.url, auth=(sb.platform.service_user, "wrong wrong wrong"),
                      timeout=30) as client, pytest.raises(MigrationError) as err:
        WordPressRestTarget(client).check_access()
    assert err.value.code == "IMPORT_FAILED" and err.value.permanent
    assert "401" in err.value.message
