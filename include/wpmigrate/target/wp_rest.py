"""Writing a rebuilt site into the target through its REST API (application password),
idempotently: every ``ensure_*`` first looks for what an earlier (killed, retried)
attempt created, by slug, and only then creates. A retry never duplicates.

Media get a deterministic slug (``wpm-`` and 20 hex digits: of the source upload path when
the file keeps it, else of the content), so an attachment is found again whatever name
WordPress gave it. Placing a file at a path and adding the source's size files are the
platform's extensions of core's media endpoint (docs/platform-contract.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from wpmigrate.core.errors import ErrorCode, MigrationError

ANY_STATUS = "publish,future,draft,pending,private"
CONTENT_FIELDS = ("slug", "title", "content", "excerpt", "date", "date_gmt", "status", "parent", "menu_order",
                  "categories", "tags", "featured_media", "format", "comment_status", "ping_status")


# WordPress's answers to an upload it will never take (wp_handle_sideload errors: file type
# not allowed, too big for the site, empty); sent as 500 or 400 although permanent.
REFUSED_UPLOAD_CODES = frozenset({"rest_upload_sideload_error", "rest_upload_file_too_big",
                                  "rest_upload_limited_space", "rest_upload_no_data",
                                  "rest_upload_sniffed_bad_type"})


def _error_code(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


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
        # A 5xx is transient, except WordPress's upload refusals, which it also sends as 500.
        if (response.status_code >= 500 or response.status_code == 429) and \
                _error_code(response) not in REFUSED_UPLOAD_CODES:
            raise MigrationError(ErrorCode.IMPORT_FAILED,
                                 f"target answered {response.status_code} to {method} {path}",
                                 permanent=False)
        return response

    def _refused(self, response: httpx.Response, what: str) -> MigrationError:
        """A permanent error carrying the target's reason: ``details`` = ``{status, code,
        message}`` (WordPress's error code and message, when it sent JSON)."""
        code = _error_code(response)
        try:
            body = response.json()
            reason = str(body.get("message", "")) if isinstance(body, dict) else ""
        except ValueError:
            reason = response.text[:200]
        return MigrationError(ErrorCode.IMPORT_FAILED,
                              f"target refused {what} (HTTP {response.status_code}): {reason}",
                              details={"status": response.status_code, "code": code, "message": reason})

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
        return int(self.ensure_term_info(taxonomy, name=name, slug=slug, parent=parent)["id"])

    def ensure_term_info(self, taxonomy: str, *, name: str, slug: str, parent: int = 0,
                         description: str = "") -> dict[str, Any]:
        """As ``ensure_term``, returning ``{id, created}``; an existing term is left as it is."""
        if existing := self._find(taxonomy, slug):
            return {"id": int(existing["id"]), "created": False}
        body: dict[str, Any] = {"name": name, "slug": slug}
        if parent and taxonomy == "categories":
            body["parent"] = parent
        if description:
            body["description"] = description
        response = self._call("POST", taxonomy, json=body)
        if response.status_code == 201:
            return {"id": int(response.json()["id"]), "created": True}
        is_json = response.headers.get("content-type", "").startswith("application/json")
        data = response.json() if is_json else {}
        if data.get("code") == "term_exists":  # same name, another slug: reuse it
            return {"id": int(data["data"]["term_id"]), "created": False}
        raise self._refused(response, f"term {slug!r}")

    def ensure_media(self, *, content: bytes, filename: str, mime: str, sha256: str,
                     title: str = "", alt_text: str = "", caption: str = "", path: str | None = None,
                     slug: str | None = None) -> dict[str, Any]:
        """Upload a file once; returns ``{id, source_url, file_url, sizes, created}`` of the
        attachment (``sizes``: size name -> {file, url}).

        ``path`` (``2008/06/x.jpg``, relative to the uploads folder): the platform stores the
        file there when it is free and generates no sizes of its own (``add_image_size``
        brings the source's). ``slug`` defaults to one made of the content's hash.
        ``file_url`` serves the uploaded bytes unchanged: WordPress may serve a scaled or
        rotated copy as ``source_url`` (big images, EXIF orientation) and keep the upload
        as ``original_image``."""
        slug = slug or media_slug(sha256)
        if existing := self.find_media_by_slug(slug):
            return existing
        return self.upload_media(content=content, filename=filename, mime=mime, slug=slug, title=title,
                                 alt_text=alt_text, caption=caption, path=path)

    def upload_media(self, *, content: bytes, filename: str, mime: str, slug: str, title: str = "",
                     alt_text: str = "", caption: str = "", path: str | None = None) -> dict[str, Any]:
        """``ensure_media`` without its lookup, for a caller that has just looked ``slug`` up."""
        # Slug and title ride on the upload request itself: no window in which a killed
        # task leaves an attachment a retry could not find.
        params = {"slug": slug, "title": title or filename, "alt_text": alt_text,
                  **({"caption": caption} if caption else {}), **({"platform_path": path} if path else {})}
        response = self._call("POST", "media", params=params, content=content,
                              headers=_file_headers(mime, filename))
        if (code := _error_code(response)) in REFUSED_UPLOAD_CODES:
            # The target's policy (upload_mimes, size limit): retrying cannot help, and the
            # caller decides whether the rest of the import goes on without this file.
            refused = self._refused(response, f"media {filename!r} ({mime})")
            refused.details.update({"code": code, "refused_file": filename})
            raise refused
        if response.status_code != 201:
            raise self._refused(response, f"media {filename!r}")
        return _media_info(response.json(), created=True)

    def add_image_size(self, media_id: int, *, content: bytes, filename: str, mime: str, size: str,
                       width: int | None = None, height: int | None = None) -> dict[str, Any]:
        """The platform's ``POST /wp/v2/media/{id}/sizes``: store ``content`` next to the
        attachment's file as ``filename`` and record it as size ``size``; the same file
        again changes nothing. Returns the attachment as ``ensure_media`` does. A target
        without the endpoint, or one refusing the file, raises with ``details.code``."""
        params: dict[str, Any] = {"size": size}
        params.update({k: v for k, v in (("width", width), ("height", height)) if v})
        response = self._call("POST", f"media/{media_id}/sizes", params=params, content=content,
                              headers=_file_headers(mime, filename))
        if response.status_code != 200:
            refused = self._refused(response, f"size {size!r} ({filename!r}) of media {media_id}")
            refused.details["code"] = _error_code(response)
            raise refused
        return _media_info(response.json(), created=False)

    def find_media_by_slug(self, slug: str) -> dict[str, Any] | None:
        existing = self._find("media", slug)
        return _media_info(existing, created=False) if existing else None

    def ensure_content(self, kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update a page/post (``kind``: ``pages``, ``posts``, ``navigation``...) from ``record``
        (slug, title, content, excerpt, date, date_gmt, status, parent, menu_order,
        categories, tags, featured_media, format, comment_status, ping_status). Returns
        ``{id, link, created, updated}``."""
        body = {k: record[k] for k in CONTENT_FIELDS if record.get(k) is not None}
        body.setdefault("status", "publish")
        existing = self.find_content(kind, record["slug"], parent=record.get("parent") or 0)
        if existing:
            changes = _changes(existing, body)
            if not changes:  # an update would only add a revision
                return {"id": int(existing["id"]), "link": existing["link"], "created": False,
                        "updated": False}
            response = self._call("POST", f"{kind}/{existing['id']}", json=changes)
            created = False
        else:
            response = self._call("POST", kind, json=body)
            created = True
        if response.status_code not in (200, 201):
            raise self._refused(response, f"{kind} {record['slug']!r}")
        item = response.json()
        return {"id": int(item["id"]), "link": item["link"], "created": created, "updated": not created}

    def find_content(self, kind: str, slug: str, *, parent: int = 0) -> dict[str, Any] | None:
        """The page/post (any status) ``ensure_content`` would update, as stored (edit context);
        page slugs are unique per parent only."""
        scope = {"parent": parent} if kind == "pages" else {}
        return self._find(kind, slug, status=ANY_STATUS, **scope)

    def request_json(self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None,
                     json: Any = None) -> Any:
        """Any other ``/wp/v2/{path}`` call; a non-2xx answer raises (``what`` names it)."""
        response = self._call(method, path, params=params, json=json)
        if not 200 <= response.status_code < 300:
            raise self._refused(response, what)
        return response.json()

    def comments_of(self, post: int) -> list[dict[str, Any]]:
        """Every comment on target post ``post``, approved or held, as stored (edit context:
        with ``author_user_agent``, where ``ensure``-style callers keep their marker)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self._call("GET", "comments", params={
                "post": post, "status": "all", "context": "edit", "per_page": 100, "page": page,
                "orderby": "id", "order": "asc"})
            if response.status_code != 200:
                raise self._refused(response, f"listing the comments of post {post}")
            batch = response.json()
            found += batch
            if page >= int(response.headers.get("x-wp-totalpages") or 1) or not batch:
                return found
            page += 1

    def create_comment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /wp/v2/comments`` as the platform's administrator, who may set the author's
        name, e-mail and URL, the dates, the parent and ``status``; returns the comment. A
        refusal raises with the target's reason (``details``: status, code, message)."""
        response = self._call("POST", "comments", json=dict(body))
        if response.status_code != 201:
            raise self._refused(response, f"comment on post {body.get('post')}")
        return dict(response.json())

    def activate_theme(self, stylesheet: str) -> dict[str, Any]:
        """The platform's Sites API contract (WordPress core's REST API cannot switch themes):
        ``PUT /wp/v2/themes/{stylesheet}`` with ``{"status": "active"}``; returns the theme."""
        return self.request_json("PUT", f"themes/{quote(stylesheet, safe='')}", json={"status": "active"},
                                 what=f"activating theme {stylesheet!r}")


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


def media_slug(key: str) -> str:
    """The slug ``ensure_media`` gives an attachment: ``key`` is the content's sha256, or
    any string naming the file (its source upload path), hashed here."""
    digest = key if re.fullmatch(r"[0-9a-f]{64}", key) else hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"wpm-{digest[:20]}"


def _media_info(media: Mapping[str, Any], *, created: bool) -> dict[str, Any]:
    source_url = str(media["source_url"])
    details = media.get("media_details") or {}
    folder = source_url.rsplit("/", 1)[0]
    original = details.get("original_image")
    file_url = f"{folder}/{original}" if original else source_url
    sizes = {str(name): {"file": str(s["file"]), "url": str(s.get("source_url") or f"{folder}/{s['file']}")}
             for name, s in (details.get("sizes") or {}).items() if isinstance(s, dict) and s.get("file")}
    return {"id": int(media["id"]), "source_url": source_url, "file_url": file_url, "sizes": sizes,
            "created": created}


def _file_headers(mime: str, filename: str) -> dict[str, str]:
    """A raw-body upload's headers, as core's media endpoint reads them."""
    return {"Content-Type": mime, "Content-Disposition": f'attachment; filename="{_header_safe(filename)}"'}


def _header_safe(filename: str) -> str:
    return "".join(c for c in filename if c.isprintable() and c not in '"\\\r\n') or "file"
