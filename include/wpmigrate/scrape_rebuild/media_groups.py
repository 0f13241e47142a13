"""Mode B media: which downloaded files are one source attachment, and where they lived.

WordPress keeps one attachment per uploaded image and writes its sizes next to it
(``x.jpg``, ``x-300x200.jpg``, ``x-1024x640.jpg``; above 2560 px the attachment's file is
``x-scaled.jpg``). The target gets the same: one attachment per group, its file at the
source's upload path, the shown sizes stored beside it under their own names, so every
URL the source's pages used answers on the target with the same bytes.

A group comes from the REST API when it listed the attachment (its ``media_details.sizes``
name each size exactly), else from the file names WordPress gives sizes. A genuine upload
whose name only looks like a size (``banner-1200x400.png``) joins ``banner.png`` when that
exists too; its bytes still answer at its own path.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wpmigrate.scrape_rebuild.records import MediaFile
from wpmigrate.scrape_rebuild.upload_urls import upload_path
from wpmigrate.web.url_keys import canonical_url

_SIZE_SUFFIX = re.compile(r"^(?P<stem>.+)-(?P<w>\d{1,5})x(?P<h>\d{1,5})(?P<ext>\.[A-Za-z0-9]{1,5})$")
_SCALED_SUFFIX = re.compile(r"^(?P<stem>.+)-(?:scaled|rotated)(?P<ext>\.[A-Za-z0-9]{1,5})$")


@dataclass
class MediaSize:
    """A size file of the group's image: ``name`` as the source's metadata named it (or
    ``WxH`` when only the file name told), stored as ``file.filename``."""

    file: MediaFile
    name: str
    width: int | None = None
    height: int | None = None


@dataclass
class MediaGroup:
    """One source attachment: its file, the sizes the source showed, and the upload path
    (``2008/06/x.jpg``) relative to the uploads folder, None when it was not an upload of
    the source (a theme's image, another host's file)."""

    main: MediaFile
    upload_path: str | None
    sizes: list[MediaSize] = field(default_factory=list)

    @property
    def files(self) -> list[MediaFile]:
        return [self.main, *(s.file for s in self.sizes)]


def _base_name(relative: str) -> tuple[str, int | None, int | None]:
    """The attachment file a size file belongs to, by WordPress's naming, and the size's
    dimensions: ``2008/06/x-300x200.jpg`` -> (``2008/06/x.jpg``, 300, 200)."""
    folder, name = posixpath.split(relative)
    if match := _SIZE_SUFFIX.match(name):
        stem = match["stem"]
        stem = scaled["stem"] if (scaled := _SCALED_SUFFIX.match(stem + match["ext"])) else stem
        return posixpath.join(folder, stem + match["ext"]), int(match["w"]), int(match["h"])
    if match := _SCALED_SUFFIX.match(name):
        return posixpath.join(folder, match["stem"] + match["ext"]), None, None
    return relative, None, None


def group_media(files: Iterable[MediaFile], source_hosts: Sequence[str]) -> list[MediaGroup]:
    """The downloaded files as attachments, each file once (the first record of a URL that
    says most about its attachment: a batch that found the file in content knows less than
    the media batch that listed it)."""
    by_url: dict[str, MediaFile] = {}
    for file in files:
        url = canonical_url(file.source_url, file.source_url) or file.source_url
        if url not in by_url or _known(file) > _known(by_url[url]):
            by_url[url] = file

    members: dict[str, list[tuple[str, MediaFile]]] = {}
    for url, file in by_url.items():
        # A size the REST API listed names its attachment's file; anything else is keyed by
        # its own URL, so an attachment and its sizes meet under one key either way.
        owner = canonical_url(file.attachment_url, url) or url if file.attachment_url else url
        relative = upload_path(owner, source_hosts)
        key = f"path:{_base_name(relative)[0]}" if relative is not None else f"url:{owner}"
        members.setdefault(key, []).append((url, file))
    # A REST attachment and the file-name guess may name one upload twice: one group.
    out: dict[str, MediaGroup] = {}
    for key, found in members.items():
        for group in _groups(key, found, source_hosts):
            slot = group.upload_path or f"url:{group.main.source_url}"
            if slot not in out:
                out[slot] = group
                continue
            have = out[slot]
            for size in group.sizes:
                if size.name in {s.name for s in have.sizes} or size.file.filename == have.main.filename:
                    own = upload_path(size.file.source_url, source_hosts)
                    alone = MediaGroup(main=size.file, upload_path=own)
                    out.setdefault(own or f"url:{size.file.source_url}", alone)
                else:
                    have.sizes.append(size)
    return list(out.values())


def _known(file: MediaFile) -> int:
    return sum(v is not None for v in (file.source_id, file.attachment_url, file.size_name))


def _groups(key: str, found: list[tuple[str, MediaFile]], source_hosts: Sequence[str]) -> list[MediaGroup]:
    """The group of one key, and an attachment of its own for each file that cannot be
    stored as one of its sizes (no dimensions known, another folder, a repeated size)."""
    kind, _, name = key.partition(":")

    def main_rank(entry: tuple[str, MediaFile]) -> tuple[int, int, int]:
        url, file = entry
        relative = upload_path(url, source_hosts)
        exact = (kind == "url" and url == name) or (kind == "path" and relative == name)
        scaled = relative is not None and bool(_SCALED_SUFFIX.match(posixpath.basename(relative)))
        return (0 if exact else 1, 0 if scaled else 1, -file.size)

    ordered = sorted(found, key=main_rank)
    main_url, main = ordered[0]
    group = MediaGroup(main=main, upload_path=upload_path(main_url, source_hosts))
    out = [group]
    for url, file in ordered[1:]:
        relative = upload_path(url, source_hosts)
        _, width, height = _base_name(relative) if relative else ("", None, None)
        width, height = file.width or width, file.height or height
        size = file.size_name or (f"{width}x{height}" if width and height else "")
        if size and size not in {s.name for s in group.sizes} and _is_sibling(relative, group.upload_path):
            group.sizes.append(MediaSize(file=file, name=size, width=width, height=height))
        else:
            out.append(MediaGroup(main=file, upload_path=relative))
    return out


def _is_sibling(relative: str | None, main_path: str | None) -> bool:
    """Sizes live in the attachment's folder; anything else cannot be one of its sizes."""
    return relative is not None and main_path is not None and \
        posixpath.dirname(relative) == posixpath.dirname(main_path)
