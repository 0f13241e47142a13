"""Theme matching on the real sandbox source: a WordPress site running the default
Twenty Twenty-Three look is matched to it with full confidence."""

from pathlib import Path

import httpx
import pytest

from wpmigrate.scrape_rebuild.theme_match import candidates_from_theme_dir, extract_look, match_theme

pytestmark = pytest.mark.sandbox
TT3 = Path("/usr/share/wordpress/wp-content/themes/twentytwentythree")


def test_sandbox_source_matches_twentytwentythree_default(sandbox) -> None:
    page = httpx.get(sandbox.source.url + "/", timeout=30)
    look = extract_look(page.text)
    assert look.preset_palette["primary"] == "#9dff20"
    assert "var-wp-preset-font-family-system-font" not in look.fonts
    result = match_theme(look, candidates_from_theme_dir(TT3))
    assert result["label"] == "twentytwentythree" and result["confidence"] > 0.9
