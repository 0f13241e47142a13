"""Mode B site shell on the target: title and tagline, the matched theme and style
variation, and the main navigation, through the REST API (idempotent, like every
``ensure_*``).

WordPress 6.1 specifics this relies on:
- core's REST API only reads themes; activation is the platform's ``PUT /wp/v2/themes/{stylesheet}``;
- ``/wp/v2/global-styles/themes/{stylesheet}`` and ``.../variations`` answer for the
  active theme only (404 otherwise), so reading another theme's palette means activating it;
- a style variation is applied the way the site editor does it: its ``settings`` and
  ``styles`` become the active theme's user global styles (a ``wp_global_styles`` post);
- block themes' header ``core/navigation`` block without a ``ref`` (twentytwentytwo and
  twentytwentythree) renders the most recently published ``wp_navigation`` post, so the
  menu written here shows without editing the theme's template parts.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from wpmigrate.core.contracts import SiteBuild
from wpmigrate.scrape_rebuild.content_import import UrlMap
from wpmigrate.scrape_rebuild.theme_match import ThemeCandidate, candidates_from_rest
from wpmigrate.target.wp_rest import WordPressRestTarget

log = logging.getLogger(__name__)

MENU_SLUG = "wpm-main-navigation"
MENU_TITLE = "Main navigation"


def active_theme(target: WordPressRestTarget) -> dict[str, Any]:
    themes = target.request_json("GET", "themes", params={"status": "active"},
                                 what="reading the active theme")
    if not themes:
        raise ValueError("the target reports no active theme")
    return themes[0]


def _is_block_theme(theme: Mapping[str, Any]) -> bool:
    return bool((theme.get("theme_supports") or {}).get("block-templates"))


def _theme_look(target: WordPressRestTarget, stylesheet: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The active theme's merged theme.json data and its style variations."""
    path = f"global-styles/themes/{stylesheet}"
    theme_json = target.request_json("GET", path, what=f"theme styles of {stylesheet!r}")
    variations = target.request_json("GET", f"{path}/variations", what=f"style variations of {stylesheet!r}")
    return theme_json, list(variations or [])


def target_theme_candidates(target: WordPressRestTarget, *,
                            probe_inactive: bool = True) -> list[ThemeCandidate]:
    """Every look the target offers: each installed block theme and its style variations.

    WordPress 6.1 tells only the active theme's styles (and whether it is a block theme),
    so with ``probe_inactive`` each other theme is activated in turn to read them and the
    originally active theme is restored afterwards: meant for a target that is still being
    built, not a live site.
    """
    themes = target.request_json("GET", "themes", what="listing themes")
    original = next(t["stylesheet"] for t in themes if t.get("status") == "active")
    others = sorted(t["stylesheet"] for t in themes if t["stylesheet"] != original) if probe_inactive else []
    candidates: list[ThemeCandidate] = []
    try:
        for stylesheet in [original, *others]:
            if stylesheet != original:
                target.activate_theme(stylesheet)
            if _is_block_theme(active_theme(target)):
                theme_json, variations = _theme_look(target, stylesheet)
                candidates.extend(candidates_from_rest(stylesheet, theme_json, variations))
    finally:
        if active_theme(target)["stylesheet"] != original:
            target.activate_theme(original)
    return candidates


def build_site(target: WordPressRestTarget, *, title: str, tagline: str, theme: str, variation: str | None,
               variation_settings: Mapping[str, Any] | None = None,
               permalink_structure: str | None = None) -> SiteBuild:
    """Set the site title and tagline (and the source's ``permalink_structure``, so posts keep
    their paths), activate ``theme`` and apply its style ``variation``.

    ``variation`` is a title from ``.../variations`` (as ``match_theme`` reports it); None
    means the theme's own look (user global styles emptied). ``variation_settings``, when
    given, is written instead of looking the variation up: ``{"settings": ..., "styles": ...}``.
    Returns ``{"settings": {...changed}, "theme": {stylesheet, activated}, "styles": {...}}``.
    """
    settings = target.request_json("GET", "settings", what="reading site settings")
    wanted = {"title": title, "description": tagline}
    # WordPress stores both esc_html()-ed: "&" reads back as "&amp;".
    changes = {k: v for k, v in wanted.items() if html.unescape(str(settings.get(k) or "")) != v}
    if permalink_structure is not None:
        # Core's REST settings lack it: the platform's settings endpoint offers it (its
        # contract, see sandbox/README.md). Without it posts keep the target's own paths, and
        # verification names each source path lost.
        if "permalink_structure" not in settings:
            log.warning("the target does not offer permalink_structure in its settings: posts keep the "
                        "target's own paths, and verification fails on each source path lost")
        elif settings["permalink_structure"] != permalink_structure:
            changes["permalink_structure"] = permalink_structure
    if changes:
        target.request_json("POST", "settings", json=changes, what="site title and tagline")

    current = active_theme(target)
    activated = current["stylesheet"] != theme
    if activated:
        target.activate_theme(theme)
        current = active_theme(target)
    return {"settings": changes, "theme": {"stylesheet": current["stylesheet"], "activated": activated},
            "styles": apply_variation(target, current, variation, variation_settings)}


def apply_variation(target: WordPressRestTarget, theme: Mapping[str, Any], variation: str | None,
                    variation_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write the variation's settings and styles as the active theme's user global styles."""
    links = (theme.get("_links") or {}).get("wp:user-global-styles") or []
    if not links:
        if variation or variation_settings:
            raise ValueError(f"theme {theme['stylesheet']!r} has no global styles to apply a variation to")
        return {"variation": None, "changed": False}
    post_id = links[0]["href"].rstrip("/").rsplit("/", 1)[-1]
    if variation_settings is not None:
        chosen: Mapping[str, Any] = variation_settings
    elif variation:
        _, variations = _theme_look(target, theme["stylesheet"])
        found = [v for v in variations if str(v.get("title", "")).casefold() == variation.casefold()]
        if not found:
            titles = ", ".join(str(v.get("title")) for v in variations)
            raise ValueError(f"theme {theme['stylesheet']!r} has no style variation {variation!r} ({titles})")
        chosen = found[0]
    else:
        chosen = {}
    body = {"settings": dict(chosen.get("settings") or {}), "styles": dict(chosen.get("styles") or {})}
    stored = target.request_json("GET", f"global-styles/{post_id}", params={"context": "edit"},
                                 what="reading user global styles")
    same = all(_same_json(stored.get(k) or {}, body[k]) for k in body)
    if not same:
        target.request_json("POST", f"global-styles/{post_id}", json=body,
                            what="applying the style variation")
    return {"variation": variation, "global_styles_id": int(post_id), "changed": not same}


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --- navigation --------------------------------------------------------------------------

def _block_attrs(attrs: Mapping[str, Any]) -> str:
    """JSON as WordPress's serialize_block_attributes() writes it (no ``--`` or markup in comments)."""
    text = json.dumps(attrs, ensure_ascii=False, separators=(",", ":"))
    for old, new in (("--", "\\u002d\\u002d"), ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ('\\"', "\\u0022")):
        text = text.replace(old, new)
    return text


def navigation_markup(links: Sequence[Mapping[str, Any]], url_map: Mapping[str, str],
                      unmapped: list[str] | None = None, *, top: bool = True,
                      rewrite_text: Callable[[str], str] = str) -> str:
    """``core/navigation-link`` blocks (``core/navigation-submenu`` for links with children).
    Source-site links ``url_map`` does not know are appended to ``unmapped`` and, like the
    labels, pass ``rewrite_text`` (the source origin -> the target's): an archive page the
    scrape did not import then points at the target, never back at the source."""
    source_hosts = {urlsplit(k).netloc.lower() for k in url_map}
    mapper = UrlMap(url_map)
    blocks = []
    for link in links:
        url = str(link.get("url") or "")
        target_url = mapper.get(url) if url else None
        if target_url is None and unmapped is not None and urlsplit(url).netloc.lower() in source_hosts:
            unmapped.append(url)
        # Labels are rich text (HTML) in navigation blocks; menu titles are plain text.
        label = html.escape(rewrite_text(str(link.get("title") or "")), quote=False)
        attrs: dict[str, Any] = {"label": label, "url": target_url or rewrite_text(url),
                                 "kind": "custom", "isTopLevelLink": top}
        if children := link.get("children") or []:
            attrs.pop("isTopLevelLink")
            inner = navigation_markup(children, url_map, unmapped, top=False, rewrite_text=rewrite_text)
            blocks.append(f"<!-- wp:navigation-submenu {_block_attrs(attrs)} -->\n{inner}\n"
                          "<!-- /wp:navigation-submenu -->")
        else:
            blocks.append(f"<!-- wp:navigation-link {_block_attrs(attrs)} /-->")
    return "\n".join(blocks)


def ensure_menu(target: WordPressRestTarget, links: Sequence[Mapping[str, Any]],
                url_map: Mapping[str, str], *, rewrite_text: Callable[[str], str] = str) -> dict[str, Any]:
    """Create or update the ``wpm-main-navigation`` ``wp_navigation`` post from the source's
    main menu (``[{title (plain text), url, children?}]``), URLs mapped through ``url_map``
    (source URL -> target URL); links it does not know (external ones) keep their URL.

    Returns ``{id, created, updated, links, unmapped, header_fallback}``; ``header_fallback``
    tells whether it is the most recent published navigation, the one a header navigation
    block without ``ref`` shows (otherwise another menu on the target wins).
    """
    unmapped: list[str] = []
    content = navigation_markup(links, url_map, unmapped, rewrite_text=rewrite_text)
    result = target.ensure_content("navigation", {"slug": MENU_SLUG, "title": MENU_TITLE, "content": content,
                                                  "status": "publish"})
    newest = target.request_json("GET", "navigation", what="listing navigation menus", params={
        "status": "publish", "orderby": "date", "order": "desc", "per_page": 1, "_fields": "id"})
    return {"id": result["id"], "created": result["created"], "updated": result["updated"],
            "links": _count(links), "unmapped": unmapped,
            "header_fallback": bool(newest) and int(newest[0]["id"]) == result["id"]}


def _count(links: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 + _count(link.get("children") or []) for link in links)
