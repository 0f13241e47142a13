"""The content scope a conf gets when it names none: the schema's defaults, so tests call
``discover`` with what a run would use (the library itself holds no scope default)."""

from __future__ import annotations

from typing import Any

from wpmigrate.core.conf import SCRAPE_REBUILD, conf_schema


def default_scope(**overrides: Any) -> dict[str, Any]:
    """``include_pages``, ``include_posts``, ``include_media``, ``max_depth`` as the schema
    fills them in, with ``overrides``."""
    props = conf_schema(SCRAPE_REBUILD)["properties"]["content_scope"]["properties"]
    scope = {name: props[name]["default"] for name in ("include_pages", "include_posts", "include_media",
                                                       "max_depth")}
    return {**scope, **overrides}
