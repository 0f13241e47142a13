"""The source's permalink structure, learnt from its real REST API and given to the sandbox
target through the platform's settings call (the target's platform mu-plugin stands in for
the platform: core's REST settings lack ``permalink_structure``), so a post answers at the
path the source served it."""

from __future__ import annotations

import httpx
import pytest

from tests.support.discovery_scope import default_scope
from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild.discovery import DiscoveryResult, discover
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher
from wpmigrate.scrape_rebuild.site_rebuild import build_site
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.url_guard import guarded_client
from wpsandbox import build

pytestmark = pytest.mark.sandbox


DATED = "/%year%/%monthnum%/%day%/%postname%/"  # as many older blogs have
POSTNAME = "/%postname%/"  # the sandbox source's own (install.php)


def _discover(url: str) -> DiscoveryResult:
    with guarded_client(["127.0.0.0/8"], read_only=True, timeout=30.0) as client:
        return discover(PoliteFetcher(client), url, **default_scope(include_media=False))


def test_discovery_learns_the_sources_structure(sandbox) -> None:
    learnt = _discover(sandbox.source.url).site["permalinks"]
    # Every post agrees, the non-ASCII slug (percent-encoded by the REST API) included.
    assert learnt["structure"] == POSTNAME and learnt["agreeing"] == learnt["samples"] >= 10, learnt


def test_with_the_rest_api_closed_the_structure_is_learnt_from_the_posts_pages(sandbox) -> None:
    build.set_source_permalinks(DATED, sandbox)
    build.set_source_rest(False, sandbox)
    try:
        found = _discover(sandbox.source.url)
    finally:
        build.set_source_rest(True, sandbox)
        build.set_source_permalinks(POSTNAME, sandbox)
    assert not found.site["rest_available"]
    learnt = found.site["permalinks"]
    posts = sum(1 for i in found.items if i.kind == "post")
    # Each post page the crawl read is a sample (the non-ASCII slug and the untitled post
    # included), and every post link the sitemaps listed fits the structure.
    assert learnt["structure"] == DATED and learnt["agreeing"] == learnt["samples"] >= 10, learnt
    assert posts >= learnt["samples"] and not [n for n in found.notes if "permalink" in n]


@pytest.mark.parametrize("structure", ["/%year%/%monthnum%/%postname%/", "/archives/%post_id%"])
def test_posts_answer_at_the_structure_build_site_gave_the_target(
        fresh_target, rest_target: WordPressRestTarget, structure: str) -> None:
    sb = fresh_target
    site = {"title": "Platform Target", "tagline": "", "theme": "twentytwentythree", "variation": None}
    done = build_site(rest_target, **site, permalink_structure=structure)
    assert done["settings"]["permalink_structure"] == structure
    again = build_site(rest_target, **site, permalink_structure=structure)
    assert "permalink_structure" not in again["settings"]
    post = rest_target.ensure_content("posts", {
        "slug": "moved-here", "title": "Moved here", "status": "publish", "content": "<p>Same path.</p>",
        "date": "2021-03-04T05:06:07"})
    expected = structure.replace("%year%", "2021").replace("%monthnum%", "03").replace(
        "%postname%", "moved-here").replace("%post_id%", str(post["id"]))
    assert post["link"] == sb.target.url + expected
    page = httpx.get(sb.target.url + expected, timeout=30)
    assert page.status_code == 200 and "Same path." in page.text


def test_a_structure_without_a_post_tag_is_refused(fresh_target, rest_target: WordPressRestTarget
                                                   ) -> None:
    with pytest.raises(MigrationError) as refused:  # validated as core's Permalinks screen does
        rest_target.request_json("POST", "settings", what="permalinks",
                                 json={"permalink_structure": "/%year%/"})
    assert "400" in refused.value.message
