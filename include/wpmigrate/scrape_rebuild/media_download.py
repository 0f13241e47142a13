"""Mode B media download: every referenced file, streamed into the artifact store under
its sha256 (so the same image found by two batches or two URLs is stored once), with its
size and type checked before it is kept.

``store`` is a ``core.storage.StoragePath`` (an Airflow ``ObjectStoragePath`` in the DAG,
a ``pathlib.Path`` in tests).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import posixpath
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from wpmigrate.core.errors import MigrationError
from wpmigrate.core.storage import StoragePath
from wpmigrate.scrape_rebuild.media_url_index import Fetched, MediaUrlIndex
from wpmigrate.scrape_rebuild.polite_http import SkipUrl
from wpmigrate.scrape_rebuild.records import MediaFile, Skipped

log = logging.getLogger(__name__)

MAX_MEDIA_BYTES = 512 * 1024 * 1024
CHUNK = 256 * 1024
# What WordPress accepts as media (its default upload_mimes, minus executables).
ALLOWED_TYPES = ("image/", "video/", "audio/", "application/pdf", "application/msword",
                 "application/vnd.openxmlformats-officedocument", "application/vnd.ms-",
                 "application/vnd.oasis.opendocument", "application/zip")
# Magic numbers of the formats a page shows, so an HTML error page served as 200 with an
# image URL is not stored as the image.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF",),
}

Opener = Callable[[str], AbstractContextManager[httpx.Response]]


def filename_for(url: str, mime: str) -> str:
    name = posixpath.basename(unquote(urlsplit(url).path)) or "file"
    if "." not in name:
        name += mimetypes.guess_extension(mime) or ""
    return name


def _type_of(response: httpx.Response, url: str) -> str:
    header = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if header and header != "application/octet-stream":
        return header
    return mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"


def download_one(open_url: Opener, url: str, store: StoragePath, meta: dict[str, Any] | None = None,
                 max_bytes: int = MAX_MEDIA_BYTES) -> MediaFile | Skipped:
    """Stream ``url`` into ``store/<sha256>``; a Skipped record says why not."""
    meta = meta or {}
    with open_url(url) as response:
        if response.status_code != 200:
            return Skipped(url, "media_http_status", f"HTTP {response.status_code}")
        mime = _type_of(response, url)
        if not mime.startswith(ALLOWED_TYPES):
            return Skipped(url, "media_type", f"{mime} is not a media type WordPress accepts")
        declared = int(response.headers.get("content-length") or 0)
        if declared > max_bytes:
            return Skipped(url, "media_too_large", f"{declared} bytes > {max_bytes}")
        tmp = store / f".part-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        head = b""
        with tmp.open("wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                if len(head) < 16:
                    head += chunk[:16]
                size += len(chunk)
                if size > max_bytes:
                    break
                digest.update(chunk)
                out.write(chunk)
    if size > max_bytes:
        tmp.unlink()
        return Skipped(url, "media_too_large", f"more than {max_bytes} bytes")
    magic = _MAGIC.get(mime)
    if magic and not head.startswith(magic):
        tmp.unlink()
        return Skipped(url, "media_type", f"served as {mime} but the bytes are not {mime}")
    sha = digest.hexdigest()
    final = store / sha
    if final.exists():
        tmp.unlink()
    else:
        tmp.rename(final)
    return _with_facts(MediaFile(source_url=url, sha256=sha, size=size, mime=mime, artifact_uri=str(final),
                                 filename=filename_for(url, mime)), meta)


def _fetch(open_url: Opener, url: str, store: StoragePath, ref: dict[str, Any]) -> MediaFile | Skipped:
    """``download_one``, a refusal or a bad URL recorded as skipped."""
    try:
        return download_one(open_url, url, store, ref)
    except httpx.HTTPError as err:
        if isinstance(err, httpx.TransportError):
            raise
        return Skipped(url, "media_fetch", f"{type(err).__name__}: {err}")
    except SkipUrl as err:
        # An off-site host (a gravatar, a CDN) that cannot be reached is not "disallowed".
        if err.skipped.reason == "host_unreachable":
            return Skipped(url, "media_unreachable", err.message)
        return Skipped(url, "media_refused", f"{err.code}: {err.message}")
    except MigrationError as err:  # e.g. the address guard refused a private host
        return Skipped(url, "media_refused", f"{err.code}: {err.message}")


def _already_fetched(fetched: Fetched, ref: dict[str, Any], index: MediaUrlIndex
                     ) -> MediaFile | Skipped | None:
    """What a batch records of a URL the run fetched before: its own record again (a retry
    of the batch); the file under this reference's facts when they say more than a plain
    URL (a listed attachment's title, its size name); else nothing, as the batch that
    fetched it recorded it (and reported it when skipped) already."""
    if fetched.batch == index.batch:
        return fetched.record
    if isinstance(fetched.record, MediaFile) and set(ref) - {"url"}:
        return _with_facts(fetched.record, ref)
    return None


def _with_facts(file: MediaFile, meta: dict[str, Any]) -> MediaFile:
    return replace(file, alt=meta.get("alt", ""), caption=meta.get("caption", ""),
                   title=meta.get("title", ""),
                   source_id=meta.get("source_id"), attachment_url=meta.get("attachment_url"),
                   size_name=meta.get("size"), width=meta.get("width"), height=meta.get("height"))


def download_all(open_url: Opener, refs: Iterable[dict[str, Any]], store: StoragePath,
                 progress: Callable[[dict[str, Any]], None] | None = None,
                 index: MediaUrlIndex | None = None) -> Iterator[MediaFile | Skipped]:
    """``refs``: ``{"url": ..., "alt"?, "caption"?, "title"?, "source_id"?, "attachment_url"?, "size"?,
    "width"?, "height"?}``, deduplicated by URL; with an ``index``, across the run's batches
    too (``_already_fetched``)."""
    store.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    done = 0
    for ref in refs:
        url = ref["url"]
        if url in seen:
            continue
        seen.add(url)
        if index is not None and (fetched := index.get(url)) is not None:
            if (known := _already_fetched(fetched, ref, index)) is not None:
                yield known
            continue
        # A transient failure of one file fails the task (its retry resumes: stored files
        # are found by hash, fetched URLs in the index); anything else is this URL's record.
        record = _fetch(open_url, url, store, ref)
        if index is not None:
            index.put(url, record)
        yield record
        done += 1
        if progress and done % 50 == 0:
            progress({"media_done": done})
