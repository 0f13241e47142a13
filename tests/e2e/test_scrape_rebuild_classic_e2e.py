"""Mode B end to end over the classic-theme source (Twenty Twenty-One, the real WordPress,
seeded like the main source: every core block, threaded comments, the edge cases): the
portal triggers ``wp_migration_scrape_rebuild`` through Airflow's REST API with nothing but
that source's public URL, and the target is then checked independently (SQL on both
databases, HTTP on both sites), not through the report the DAG wrote."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup

from tests.support import wordpress_checks as wc
from wpsandbox import build
from wpsandbox import state as sandbox_state

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_scrape_rebuild"


@pytest.fixture(scope="module")
def rebuilt(classic_source, rest) -> dict:
    sb = classic_source
    assert sb.classic_source is not None
    rest.wait_for_dag(DAG_ID)
    build.reset_target(sb)
    build.set_classic_source_rest(True, sb)
    run_id = str(uuid.uuid4())
    conf = sandbox_state.mode_b_conf(sb, run_id, source_url=sb.classic_source.url)
    started = time.monotonic()
    response = rest.trigger(DAG_ID, run_id, conf)
    assert response.status_code == 200, response.text
    run = rest.wait(DAG_ID, run_id, timeout=1200)
    return {"run": run, "run_id": run_id, "seconds": time.monotonic() - started}


def _text(fragment: str) -> str:
    soup = BeautifulSoup(fragment, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return re.sub(r"\s+", " ", soup.get_text(" ")).strip()


def _published(sb) -> list[dict]:
    """Published pages and posts a visitor can read, from the classic source's database."""
    conn = wc.db(sb, "classic")
    p = sb.classic_source.table_prefix
    found = wc.rows(conn, f"SELECT ID, post_type, post_name FROM {p}posts WHERE post_status='publish' "
                          "AND post_type IN ('page','post') AND post_password = ''")
    # Slugs as WordPress stores them (non-ASCII ones percent-encoded, on both sites).
    return [{"id": pid, "kind": kind.decode(), "slug": slug.decode()} for pid, kind, slug in found]


def _rest_item(client: httpx.Client, kind: str, pid: int) -> dict:
    response = client.get(f"/wp-json/wp/v2/{kind}s/{pid}")
    assert response.status_code == 200, (str(client.base_url), kind, pid, response.text[:200])
    return response.json()


def _target_id(sb, kind: str, slug: str) -> int | None:
    found = wc.rows(wc.db(sb, "target"), f"SELECT ID FROM {sb.target.table_prefix}posts WHERE post_type=%s "
                                         "AND post_status='publish' AND post_name=%s", (kind, slug))
    return found[0][0] if len(found) == 1 else None


def test_the_run_succeeds(rebuilt, rest) -> None:
    states = rest.task_states(DAG_ID, rebuilt["run_id"])
    assert rebuilt["run"]["state"] == "success", states
    report = rest.xcom(DAG_ID, rebuilt["run_id"], "verify", "report")
    assert report["ok"] is True, report


def test_every_published_page_and_post_answers_at_its_source_path_with_its_title_and_text(
        rebuilt, classic_source) -> None:
    sb = classic_source
    published = _published(sb)
    assert len(published) > 30 and {p["kind"] for p in published} == {"page", "post"}
    source_host, target_host = urlsplit(sb.classic_source.url).netloc, urlsplit(sb.target.url).netloc
    auth = (sb.platform.service_user, sb.platform.app_password)
    with httpx.Client(base_url=sb.classic_source.url, timeout=30) as source, \
            httpx.Client(base_url=sb.target.url, timeout=30, auth=auth) as target:
        for item in published:
            record = _rest_item(source, item["kind"], item["id"])
            path = urlsplit(record["link"]).path
            page = target.get(path)
            target_id = _target_id(sb, item["kind"], item["slug"])
            assert target_id and page.status_code == 200, (path, page.status_code)
            body_class = "postid-" if item["kind"] == "post" else "page-id-"
            assert f"{body_class}{target_id}" in page.text, path  # that item, at that path
            copy = _rest_item(target, item["kind"], target_id)
            assert _text(copy["title"]["rendered"]) == _text(record["title"]["rendered"]), path
            expected = _text(record["content"]["rendered"]).replace(source_host, target_host)
            assert _text(copy["content"]["rendered"]) == expected, path
    # The block posts are among them, page 2 of the paginated one included.
    dynamic = next(p for p in published if p["slug"] == "every-core-block-widgets-and-dynamic-blocks")
    with httpx.Client(base_url=sb.target.url, timeout=30, auth=auth) as target:
        copy = _rest_item(target, "post", _target_id(sb, "post", dynamic["slug"]) or 0)
    assert "The second page of a paginated post." in _text(copy["content"]["rendered"])


def test_approved_comments_arrive_threaded(rebuilt, classic_source) -> None:
    sb = classic_source

    def threads(which: str, prefix: str) -> set[tuple[str, str, str | None]]:
        found = wc.rows(wc.db(sb, which),
                        f"SELECT c.comment_ID, p.post_name, c.comment_content, c.comment_parent "
                        f"FROM {prefix}comments c JOIN {prefix}posts p ON p.ID = c.comment_post_ID "
                        "WHERE c.comment_approved = '1'")
        text = {cid: _text(body.decode()) for cid, _, body, _ in found}
        return {(unquote(post.decode()), text[cid], text.get(parent)) for cid, post, _, parent in found}

    source = threads("classic", sb.classic_source.table_prefix)
    assert any(parent for _, _, parent in source)  # the seed holds a reply
    assert source <= threads("target", sb.target.table_prefix)


def test_every_page_and_post_keeps_its_comment_and_ping_settings(rebuilt, classic_source) -> None:
    sb = classic_source

    def settings(which: str, prefix: str) -> dict[tuple[str, str], tuple[str, str]]:
        found = wc.rows(wc.db(sb, which), f"SELECT post_type, post_name, comment_status, ping_status"
                                          f" FROM {prefix}posts WHERE post_status='publish'"
                                          " AND post_type IN ('page','post') AND post_password = ''")
        return {(k.decode(), s.decode()): (c.decode(), p.decode()) for k, s, c, p in found}

    source = settings("classic", sb.classic_source.table_prefix)
    assert source[("page", "guestbook")] == ("open", "closed")  # not WordPress's default for a page
    assert source[("post", "closed-after-launch")] == ("closed", "closed")
    target = settings("target", sb.target.table_prefix)
    assert {key: (want, target.get(key)) for key, want in source.items() if target.get(key) != want} == {}


def test_no_target_text_field_names_the_source_host(rebuilt, classic_source) -> None:
    sb = classic_source
    host = urlsplit(sb.classic_source.url).netloc
    needles = [host, host.replace(":", "%3A"), host.replace(":", "%3a")]
    # Every text column of every table (post content, excerpts, titles, term descriptions,
    # menus, alt text and captions, comments and the import's markers in comment_agent,
    # options), but the passwords' hashes.
    p = sb.target.table_prefix
    skip = {(f"{p}users", "user_pass")}
    assert wc.old_origin_hits(wc.db(sb, "target"), needles, skip) == []
    # ...while the source has them: the check can fail.
    assert wc.old_origin_hits(wc.db(sb, "classic"), needles[:1], set())
