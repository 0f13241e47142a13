"""Which downloaded files are one source attachment, and the upload path each keeps."""

from __future__ import annotations

from typing import Any

from wpmigrate.scrape_rebuild.media_groups import group_media, upload_path
from wpmigrate.scrape_rebuild.records import MediaFile

HOSTS = ["old.example", "www.old.example"]
UP = "https://old.example/wp-content/uploads"


def _file(url: str, size: int = 100, sha: str = "", **extra: Any) -> MediaFile:
    name = url.rsplit("/", 1)[-1]
    return MediaFile(source_url=url, sha256=sha or f"{abs(hash(url)):064x}"[:64], size=size,
                     mime="image/jpeg", artifact_uri=f"media/{name}", filename=name, **extra)


def _shape(groups: list) -> dict[str, dict[str, str]]:
    return {g.main.source_url.rsplit("/", 1)[-1]: {s.name: s.file.filename for s in g.sizes} for g in groups}


def test_upload_path_is_the_path_under_the_source_uploads_folder() -> None:
    assert upload_path(f"{UP}/2008/06/x.jpg", HOSTS) == "2008/06/x.jpg"
    assert upload_path("http://www.old.example/wp-content/uploads/Caf%C3%A9-Men%C3%BC.png", HOSTS) == \
        "Café-Menü.png"
    assert upload_path("https://old.example/blog/wp-content/uploads/sites/2/2020/01/a.png", HOSTS) == \
        "sites/2/2020/01/a.png"
    # A query does not change which file of the folder answers (``upload_urls``).
    assert upload_path(f"{UP}/2008/06/x.jpg?ver=2", HOSTS) == "2008/06/x.jpg"
    for url in (f"{UP}/get.php?f=x.jpg", "https://cdn.example/wp-content/uploads/2008/06/x.jpg",
                "https://old.example/wp-content/themes/t/logo.png", f"{UP}/2008/%2e%2e/x.jpg", f"{UP}/"):
        assert upload_path(url, HOSTS) is None, url


def test_rest_sizes_join_their_attachment_under_the_source_size_name() -> None:
    groups = group_media([
        _file(f"{UP}/2021/03/a.jpg", 900, width=1600, height=1000),
        _file(f"{UP}/2021/03/a-300x188.jpg", 30, attachment_url=f"{UP}/2021/03/a.jpg", size_name="medium",
              width=300, height=188),
    ], HOSTS)
    assert _shape(groups) == {"a.jpg": {"medium": "a-300x188.jpg"}}
    assert groups[0].upload_path == "2021/03/a.jpg"
    assert (groups[0].sizes[0].width, groups[0].sizes[0].height) == (300, 188)


def test_file_names_group_sizes_when_the_rest_api_was_closed() -> None:
    groups = group_media([
        _file(f"{UP}/2021/03/b-300x200.jpg", 30), _file(f"{UP}/2021/03/b.jpg", 900),
        _file(f"{UP}/2021/03/b-1024x683.jpg", 300), _file(f"{UP}/2021/03/c.png", 50),
    ], HOSTS)
    assert _shape(groups) == {"b.jpg": {"300x200": "b-300x200.jpg", "1024x683": "b-1024x683.jpg"},
                              "c.png": {}}


def test_a_scaled_image_is_the_attachment_file_and_its_sizes_join_it() -> None:
    groups = group_media([_file(f"{UP}/2024/01/big-300x200.jpg", 30),
                          _file(f"{UP}/2024/01/big-scaled.jpg", 900)], HOSTS)
    assert _shape(groups) == {"big-scaled.jpg": {"300x200": "big-300x200.jpg"}}
    assert groups[0].upload_path == "2024/01/big-scaled.jpg"


def test_sizes_without_their_original_make_one_attachment_of_the_largest() -> None:
    groups = group_media([_file(f"{UP}/2024/01/d-300x200.jpg", 30),
                          _file(f"{UP}/2024/01/d-1024x683.jpg", 300)], HOSTS)
    assert _shape(groups) == {"d-1024x683.jpg": {"300x200": "d-300x200.jpg"}}


def test_the_same_bytes_at_two_paths_are_two_attachments() -> None:
    """Two uploads of one file are two attachments on the source: two on the target."""
    groups = group_media([_file(f"{UP}/2021/03/e.jpg", sha="a" * 64),
                          _file(f"{UP}/2021/04/e.jpg", sha="a" * 64)], HOSTS)
    assert sorted(g.upload_path or "" for g in groups) == ["2021/03/e.jpg", "2021/04/e.jpg"]


def test_what_cannot_be_a_size_becomes_an_attachment_of_its_own() -> None:
    f = f"{UP}/2021/03/f.jpg"
    groups = group_media([
        _file(f, 900),
        # The REST API names a size in another folder (an edited image): not storable beside f.jpg.
        _file(f"{UP}/2021/05/f-edited-300x200.jpg", 30, attachment_url=f, size_name="medium"),
        # A second file under a size name already taken.
        _file(f"{UP}/2021/03/f-301x200.jpg", 31, attachment_url=f, size_name="medium"),
        _file(f"{UP}/2021/03/f-300x200.jpg", 30, attachment_url=f, size_name="medium"),
        # A size of an attachment on another host (a CDN): grouped by its attachment's URL.
        _file("https://cdn.example/h-300x200.jpg", 5, attachment_url="https://cdn.example/h.jpg",
              size_name="medium"),
        _file("https://cdn.example/h.jpg", 50),
        _file("https://gravatar.example/avatar/1.jpg", 10),
    ], HOSTS)
    shape = _shape(groups)
    assert shape["f.jpg"] in ({"medium": "f-300x200.jpg"}, {"medium": "f-301x200.jpg"})
    assert len(groups) == 6 and "f-edited-300x200.jpg" in shape and "1.jpg" in shape
    by_main = {g.main.filename: g for g in groups}
    assert by_main["f-edited-300x200.jpg"].upload_path == "2021/05/f-edited-300x200.jpg"
    assert by_main["1.jpg"].upload_path is None  # not the source's upload: no path to keep
    # Not an upload of the source: no folder to store a size in, so each file on its own.
    assert shape["h.jpg"] == {} and shape["h-300x200.jpg"] == {}
    assert sum(len(g.files) for g in groups) == 7  # every file is stored once


def test_one_url_twice_is_one_file() -> None:
    groups = group_media([_file(f"{UP}/2021/03/g.jpg"), _file(f"{UP}/2021/03/g.jpg")], HOSTS)
    assert len(groups) == 1 and not groups[0].sizes


def test_a_url_recorded_twice_keeps_what_its_listing_said() -> None:
    """A content batch found the size file first (a plain URL); the media batch listed it as
    a size of its attachment: the record that knows the attachment wins, whatever the order."""
    main, small = f"{UP}/2021/03/k.jpg", f"{UP}/2021/03/k-300x200.jpg"
    groups = group_media([_file(small, 30), _file(main, 900),
                          _file(small, 30, attachment_url=main, size_name="medium")], HOSTS)
    assert _shape(groups) == {"k.jpg": {"medium": "k-300x200.jpg"}}
