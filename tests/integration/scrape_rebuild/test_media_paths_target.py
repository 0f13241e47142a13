"""Media at their source upload paths on the real sandbox target, when things go wrong.

The placement calls are the platform's extension of core's media endpoint
(docs/platform-contract.md). The platform itself cannot run here: the sandbox target's
platform mu-plugin (``platform-site.php``) stands in for it, on a real WordPress.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.support import wordpress_checks as wc
from wpmigrate.core.errors import MigrationError
from wpmigrate.scrape_rebuild.content_import import import_content
from wpmigrate.scrape_rebuild.records import MediaFile
from wpmigrate.target.wp_rest import WordPressRestTarget, media_slug

pytestmark = pytest.mark.sandbox

FOLDER = "2021/03"


def _file(src: str, name: str, mime: str = "image/jpeg") -> tuple[MediaFile, bytes]:
    data = httpx.get(f"{src}/wp-content/uploads/{FOLDER}/{name}", timeout=30).content
    sha = hashlib.sha256(data).hexdigest()
    return MediaFile(source_url=f"{src}/wp-content/uploads/{FOLDER}/{name}", sha256=sha, size=len(data),
                     mime=mime, artifact_uri=sha, filename=name, title=name), data


def _import(target: WordPressRestTarget, sb, files: list[tuple[MediaFile, bytes]]):
    blobs = {f.artifact_uri: data for f, data in files}
    return import_content(target, [], [f for f, _ in files], open_media=lambda f: blobs[f.artifact_uri],
                          source_home=sb.source.url, target_home=sb.target.url)


def _attachments(sb) -> list[str]:
    p = sb.target.table_prefix
    rows = wc.rows(wc.db(sb, "target"), f"SELECT m.meta_value FROM {p}posts p JOIN {p}postmeta m ON "
                                        "m.post_id = p.ID AND m.meta_key = '_wp_attached_file' "
                                        "WHERE p.post_type = 'attachment' ORDER BY p.ID")
    return [r[0].decode() for r in rows]


def test_a_taken_path_keeps_the_folder_and_the_bytes_and_says_it_moved(rest_target, fresh_target) -> None:
    sb, target = fresh_target, rest_target
    other, other_data = _file(sb.source.url, "gallery-2.png", "image/png")
    # Someone's file already holds the path the source's logo.png had.
    target.ensure_media(content=other_data, filename="logo.png", mime="image/png", sha256=other.sha256,
                        path=f"{FOLDER}/logo.png", slug="someone-else")
    logo = _file(sb.source.url, "logo.png", "image/png")
    result = _import(target, sb, [logo])
    url = result.media_map[logo[0].source_url]["url"]
    assert url.endswith(f"/{FOLDER}/logo-1.png")  # core's unique name, same folder
    assert httpx.get(url, timeout=30).content == logo[1]
    held = httpx.get(f"{sb.target.url}/wp-content/uploads/{FOLDER}/logo.png", timeout=30)
    assert held.content == other_data


def test_a_retry_after_the_upload_adds_only_the_missing_size(rest_target, fresh_target) -> None:
    """A task killed between an image's upload and its sizes: the retry finds the attachment
    by its path's slug and stores the sizes; nothing is duplicated."""
    sb, target = fresh_target, rest_target
    hero, small, large = (_file(sb.source.url, n) for n in
                          ("hero-sunset.jpg", "hero-sunset-300x188.jpg", "hero-sunset-1024x640.jpg"))
    first = target.ensure_media(content=hero[1], filename="hero-sunset.jpg", mime="image/jpeg",
                                sha256=hero[0].sha256, path=f"{FOLDER}/hero-sunset.jpg",
                                slug=media_slug(f"{FOLDER}/hero-sunset.jpg"))
    target.add_image_size(first["id"], content=small[1], filename="hero-sunset-300x188.jpg",
                          mime="image/jpeg", size="300x188")
    result = _import(target, sb, [hero, small, large])
    assert result.counts["media"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert _attachments(sb) == [f"{FOLDER}/hero-sunset.jpg"]
    for file, data in (hero, small, large):
        mapped = result.media_map[file.source_url]
        assert mapped["id"] == first["id"]
        assert mapped["url"] == sb.target.url + file.source_url[len(sb.source.url):]
        assert httpx.get(mapped["url"], timeout=30).content == data
    # No size of the target's own making: exactly the source's two.
    sizes = target.find_media_by_slug(media_slug(f"{FOLDER}/hero-sunset.jpg"))["sizes"]  # type: ignore[index]
    assert sorted(v["file"] for k, v in sizes.items() if k != "full") == [
        "hero-sunset-1024x640.jpg", "hero-sunset-300x188.jpg"]
    # The same size file again changes nothing.
    again = target.add_image_size(first["id"], content=small[1], filename="hero-sunset-300x188.jpg",
                                  mime="image/jpeg", size="300x188")
    assert again["sizes"] == sizes


def test_the_sizes_endpoint_refuses_what_it_must(rest_target, fresh_target) -> None:
    sb, target = fresh_target, rest_target
    hero, small = _file(sb.source.url, "hero-sunset.jpg"), _file(sb.source.url, "hero-sunset-300x188.jpg")
    made = target.ensure_media(content=hero[1], filename="hero-sunset.jpg", mime="image/jpeg",
                               sha256=hero[0].sha256, path=f"{FOLDER}/hero-sunset.jpg")

    def refused(**kwargs) -> tuple[int, str]:
        args = {"content": small[1], "filename": "hero-sunset-300x188.jpg", "mime": "image/jpeg",
                "size": "medium", **kwargs}
        with pytest.raises(MigrationError) as caught:
            target.add_image_size(made["id"], **args)
        return caught.value.details["status"], caught.value.details["code"]

    assert refused(content=b"<?php echo 1; ?>") == (400, "rest_upload_sniffed_bad_type")
    assert refused(filename="../../evil.jpg")[0] == 400
    assert refused(filename="hero-sunset.jpg") == (409, "platform_path_taken")  # the attachment's own file
    target.add_image_size(made["id"], content=small[1], filename="hero-sunset-300x188.jpg", mime="image/jpeg",
                          size="medium")
    large = _file(sb.source.url, "hero-sunset-1024x640.jpg")
    assert refused(content=large[1], filename="hero-sunset-1024x640.jpg") == (409, "platform_size_exists")
    with pytest.raises(MigrationError) as caught:
        target.ensure_media(content=hero[1], filename="x.jpg", mime="image/jpeg", sha256="b" * 64,
                            path="../../x.jpg")
    assert caught.value.details["status"] == 400
    assert _attachments(sb) == [f"{FOLDER}/hero-sunset.jpg"]


def test_a_size_the_target_will_not_store_arrives_on_its_own(rest_target, fresh_target) -> None:
    """The size file's name is taken in the folder: its bytes still reach the target (under
    another name, which the redirect map carries), with a warning naming why."""
    sb, target = fresh_target, rest_target
    # Another file already holds the name of gallery-1.jpg's size.
    other = _file(sb.source.url, "hero-sunset-300x188.jpg")[1]
    target.ensure_media(content=other, filename="gallery-1-300x200.jpg", mime="image/jpeg", sha256="d" * 64,
                        path=f"{FOLDER}/gallery-1-300x200.jpg", slug="blocker")
    main, small = _file(sb.source.url, "gallery-1.jpg"), _file(sb.source.url, "gallery-1-300x200.jpg")
    result = _import(target, sb, [main, small])
    mapped = result.media_map[small[0].source_url]
    assert httpx.get(mapped["url"], timeout=30).content == small[1]
    assert mapped["url"] != sb.target.url + small[0].source_url[len(sb.source.url):]
    warnings = result.warnings
    assert any("gallery-1-300x200.jpg" in w and "already taken" in w for w in warnings), warnings
    assert len(_attachments(sb)) == 3  # the blocker, gallery-1.jpg, and its size on its own
