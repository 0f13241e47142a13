"""A source's public path, asked of the target like a visitor would, reaches its item or is
lost (a real HTTP server stands in for the target)."""

from __future__ import annotations

import httpx

from tests.support.local_http import recording_server
from wpmigrate.scrape_rebuild.public_paths import lost_media_path, lost_path

SOURCE = "http://old.example"
HTML = {"Content-Type": "text/html"}


def test_the_path_answering_on_the_target_is_kept() -> None:
    with recording_server() as srv, httpx.Client(timeout=10) as client:
        srv.routes["/2021/03/15/hello/"] = (200, HTML, b"post")
        item = srv.url("/2021/03/15/hello/")
        assert lost_path(client, srv.origin, f"{SOURCE}/2021/03/15/hello/", item) is None
        assert srv.seen == []  # the item's own check fetched it already: not asked again


def test_a_redirect_the_target_serves_to_the_item_is_kept() -> None:
    with recording_server() as srv, httpx.Client(timeout=10) as client:
        srv.routes["/old-slug/"] = (301, {"Location": "/hello/"}, b"")
        srv.routes["/hello/"] = (200, HTML, b"post")
        assert lost_path(client, srv.origin, f"{SOURCE}/old-slug/", srv.url("/hello/")) is None


def test_a_path_the_target_does_not_serve_is_lost() -> None:
    with recording_server() as srv, httpx.Client(timeout=10) as client:
        srv.default = (404, HTML, b"not found")
        srv.routes["/hello/"] = (200, HTML, b"post")
        lost = lost_path(client, srv.origin, f"{SOURCE}/2021/03/15/hello/", srv.url("/hello/"))
        assert lost is not None and "/2021/03/15/hello/ answers 404" in lost and srv.url("/hello/") in lost


def test_another_item_at_the_path_or_a_redirect_off_the_target_is_lost() -> None:
    with recording_server() as srv, httpx.Client(timeout=10) as client:
        srv.routes["/taken/"] = (200, HTML, b"some other page")
        srv.routes["/away/"] = (302, {"Location": "http://elsewhere.example/hello/"}, b"")
        srv.routes["/"] = (200, HTML, b"home")  # the home page answers ?p=12: not the item
        assert "not the item" in str(lost_path(client, srv.origin, f"{SOURCE}/taken/", srv.url("/hello/")))
        assert "redirects off the target" in str(lost_path(client, srv.origin, f"{SOURCE}/away/",
                                                           srv.url("/hello/")))
        # Plain permalinks: the target's ids differ, so the source's ?p=12 is not the item.
        assert lost_path(client, srv.origin, f"{SOURCE}/?p=12", srv.url("/hello/")) is not None


def test_a_media_files_path_is_compared_without_its_query() -> None:
    with recording_server() as srv, httpx.Client(timeout=10) as client:
        srv.default = (404, HTML, b"not found")
        file = srv.url("/wp-content/uploads/2008/06/photo.jpg")
        assert lost_media_path(client, srv.origin, f"{SOURCE}/wp-content/uploads/2008/06/photo.jpg?w=604",
                               file) is None
        moved = srv.url("/wp-content/uploads/2026/12/photo.jpg")
        assert "answers 404" in str(lost_media_path(
            client, srv.origin, f"{SOURCE}/wp-content/uploads/2008/06/photo.jpg", moved))
