"""An upload asked for with a query string is the file without it: one URL to download,
group and map, whatever resize hint or player counter the content added."""

from __future__ import annotations

from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts, upload_path

HOSTS = source_hosts("https://www.old.example/")
UP = "https://old.example/wp-content/uploads"
QUERIES = ("w=604", "h=400", "resize=300,200", "fit=1024,768", "_=1", "ver=2", "w=604&h=400&crop=1",
           "anything=else")


def test_source_hosts_are_both_twins() -> None:
    assert HOSTS == ["old.example", "www.old.example"]


def test_an_upload_with_a_query_is_its_file() -> None:
    for query in QUERIES:
        assert upload_path(f"{UP}/2008/06/photo.jpg?{query}", HOSTS) == "2008/06/photo.jpg", query
        assert file_url(f"{UP}/2008/06/photo.jpg?{query}", HOSTS) == f"{UP}/2008/06/photo.jpg", query
    assert file_url(f"{UP}/2024/05/song.mp3?_=1", HOSTS) == f"{UP}/2024/05/song.mp3"
    assert file_url("http://www.old.example/wp-content/uploads/a.png?w=3", HOSTS) == \
        "http://www.old.example/wp-content/uploads/a.png"


def test_a_query_stays_where_it_may_choose_the_bytes() -> None:
    kept = (
        f"{UP}/download.php?file=x.jpg",  # a script under the folder: not an upload
        "https://cdn.example/wp-content/uploads/2008/06/photo.jpg?w=604",  # another host's resizer
        "https://old.example/wp-content/themes/t/logo.png?ver=6.5",  # a theme's file
        "https://old.example/?attachment_id=5",
    )
    for url in kept:
        assert file_url(url, HOSTS) == url, url
    assert upload_path(f"{UP}/download.php?file=x.jpg", HOSTS) is None
    assert file_url(f"{UP}/2008/06/photo.jpg", HOSTS) == f"{UP}/2008/06/photo.jpg"
