"""Writing a rebuilt site into the target through its REST API (application password),
idempotently: every ``ensure_*`` first looks for what an earlier (killed, retried)
attempt created, by slug, and only then creates. A retry never duplicates.

Media get a deterministic slug from their content hash (``wpm-<sha256[:20]>``), so the
same file is found again whatever name WordPress gave it on upload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from wpmigrate.errors import ErrorCode, MigrationError

ANY_STATUS = "publish,future,draft,pending,private"


class WordPressRestTarget:
    def __init__(self, client: httpx.Client) -> None:
        """``client``: base_url = the target site, auth = (service login, application password)."""
        self.client = client

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, f"/wp-json/wp/v2/{path}", **kwargs)
        except httpx.TransportError as err:
            raise MigrationError(ErrorCode.IMPORT_FAILED, f"target unreachable: {err}",
                                 permanent=False) from err
        if response.status_code >= 500 or response.status_code == 429:
            raise MigrationError(ErrorCode.IMPORT_FAILED,
                                 f"target answered {response.status_code} to {method} {path}",
                                 permanent=False)
        return response

    def _refused(self, response: httpx.Response, what: str) -> MigrationError:
        try:
            reason = response.json().get("message", "")
        except ValueError:
            reason = response.text[:200]
        return MigrationError(ErrorCode.IMPORT_FAILED,
                              f"target refused {what} (HTTP {response.status_code}): {reason}",
                              details={"status": response.status_code})

    def check_access(self) -> dict[str, Any]:
        """The service login works and may publish; returns the user."""
        response = self._call("GET", "users/me", params={"context": "edit"})
        if response.status_code != 200:
            raise self._refused(response, "the platform login")
        user = response.json()
        if not user.get("capabilities", {}).get("publish_pages"):
            raise MigrationError(ErrorCode.IMPORT_FAILED, f"user {user.get('slug')!r} may not publish pages")
        return user

    def _find(self, collection: str, slug: str, **params: Any) -> dict[str, Any] | None:
        response = self._call("GET", collection, params={"slug": slug, "context": "edit", **params})
        if response.status_code != 200:
            raise self._refused(response, f"listing {collection}")
        found = response.json()
        return found[0] if found else None

    def ensure_term(self, taxonomy: str, *, name: str, slug: str, parent: int = 0) -> int:
        """``taxonomy``: ``categories`` or ``tags``. Returns the term id."""
        if existing := self._find(taxonomy, slug):
            return int(existing["id"])
        body: dict[str, Any] = {"name": name, "slug": slug}
        if parent and taxonomy == "categories":
            body["parent"] = parent
        response = self._call("POST", taxonomy, json=body)
        if response.status_code == 201:
            return int(response.json()["id"])
        is_json = response.headers.get("content-type", "").startswith("application/json")
        data = response.json() if is_json else {}
        if data.get("code") == "term_exists":  # same name, another slug: reuse it
            return int(data["data"]["term_id"])
        raise self._refused(response, f"term {slug!r}")

    def ensure_media(self, *, content: bytes, filename: str, mime: str, sha256: str,
                     title: str = "", alt_text: str = "") -> dict[str, Any]:
        """Upload a file once; returns ``{id, source_url}`` of the attachment."""
        slug = f"wpm-{sha256[:20]}"
        if existing := self._find("media", slug):
            return {"id": int(existing["id"]), "source_url": existing["source_url"]}
        # Slug and title ride on the upload request itself: no window in which a killed
        # task leaves an attachment a retry could not find.
        disposition = f'attachment; filename="{_header_safe(filename)}"'
        response = self._call(
            "POST", "media", params={"slug": slug, "title": title or filename, "alt_text": alt_text},
            content=content, headers={"Content-Type": mime, "Content-Disposition": disposition})
        if response.status_code != 201:
            raise self._refused(response, f"media {filename!r}")
        media = response.json()
        return {"id": int(media["id"]), "source_url": media["source_url"]}

    def ensure_content(self, kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update a page/post (``kind``: ``pages`` or ``posts``) from ``record``
        (slug, title, content, excerpt, date, status, parent, categories, tags,
        featured_media). Returns ``{id, link, created}``."""
        body = {k: record[k] for k in ("slug", "title", "content", "excerpt", "date", "status", "parent",
                                       "categories", "tags", "featured_media") if record.get(k) is not None}
        body.setdefault("status", "publish")
        scope = {"parent": record.get("parent") or 0} if kind == "pages" else {}  # slugs are per parent
        existing = self._find(kind, record["slug"], status=ANY_STATUS, **scope)
        if existing:
            changes = _changes(existing, body)
            if not changes:  # an update would only add a revision
                return {"id": int(existing["id"]), "link": existing["link"], "created": False}
            response = self._call("POST", f"{kind}/{existing['id']}", json=changes)
            created = False
        else:
            response = self._call("POST", kind, json=body)
            created = True
        if response.status_code not in (200, 201):
            raise self._refused(response, f"{kind[:-1]} {record['slug']!r}")
        item = response.json()
        return {"id": int(item["id"]), "link": item["link"], "created": created}


def _changes(existing: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` that differ from the item as stored (raw values)."""
    changed = {}
    for key, wanted in body.items():
        have = existing.get(key)
        if isinstance(have, dict):  # title/content/excerpt: {"raw": ..., "rendered": ...}
            have = have.get("raw")
        if isinstance(wanted, list) and isinstance(have, list):
            same = sorted(wanted) == sorted(have)
        else:
            same = have == wanted
        if not same:
            changed[key] = wanted
    return changed


def _header_safe(filename: str) -> str:
    return "".join(c for c in filename if c.isprintable() and c not in '"\\\r\n') or "file"
