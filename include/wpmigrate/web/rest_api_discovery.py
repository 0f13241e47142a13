"""How a WordPress site announces its REST API ("API discovery" in the WordPress handbook).

Every front-end response carries ``Link: <https://site/wp-json/>; rel="https://api.w.org/"``
(and the same as a ``<link>`` in the HTML head); the API root answers with an index whose
``namespaces`` list ``wp/v2`` when the core endpoints are on.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

API_REL = "https://api.w.org/"
_API_LINK = re.compile(r"<([^>]+)>\s*;[^,]*rel=\"?https://api\.w\.org/\"?", re.I)


def api_root_from_link_header(link_header: str, base_url: str) -> str | None:
    """The REST API root a ``Link`` header names (absolute, against ``base_url``), if any."""
    match = _API_LINK.search(link_header)
    return urljoin(base_url, match.group(1)) if match else None


def is_rest_index(data: Any) -> bool:
    """Whether decoded JSON is a WordPress REST index with the core ``wp/v2`` routes."""
    return isinstance(data, dict) and isinstance(data.get("namespaces"), list) and (
        "wp/v2" in data["namespaces"]
    )
