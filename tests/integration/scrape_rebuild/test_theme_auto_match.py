"""auto_match end to end on a real WordPress: a site wearing one of Twenty Twenty-Three's
style variations is recognised from its rendered home page alone, among every look the
target offers (read through the target's REST API, as match_theme does in the DAG)."""

from __future__ import annotations

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.scrape_rebuild.site_rebuild import build_site, target_theme_candidates
from wpmigrate.scrape_rebuild.theme_match import extract_look, match_theme
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpsandbox import build

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("variation", ["Pilgrimage", "Sherbet", "Electric", None])
def test_a_site_in_a_style_variation_is_matched_to_it(fresh_target, variation) -> None:
    sb = fresh_target
    try:
        with httpx.Client(base_url=sb.target.url, auth=(sb.platform.service_user, sb.platform.app_password),
                          timeout=60) as client:
            target = WordPressRestTarget(client)
            build_site(target, title="Look", tagline="", theme="twentytwentythree", variation=variation)
            # WordPress 6.1 caches the front end's global stylesheet for a minute.
            wc.rows(wc.db(sb, "target"), "DELETE FROM wp_options WHERE option_name LIKE %s",
                    ("%transient%global_styles_%",))
            home = httpx.get(sb.target.url + "/", timeout=30).text
            candidates = target_theme_candidates(target)
        assert len(candidates) >= 10  # the theme and its style variations
        result = match_theme(extract_look(home), candidates)
        expected = f"twentytwentythree/{variation}" if variation else "twentytwentythree"
        assert result["label"] == expected, result["ranking"]
        assert result["confidence"] > 0.5
    finally:
        build.reset_target(sb)
