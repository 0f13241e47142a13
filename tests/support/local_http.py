"""A real HTTP server for tests, on any loopback address (127.0.0.2 too): it records every
request and answers from a table of path -> (status, headers, body)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    host: str
    body: bytes
    via_proxy: bool  # the request line held an absolute URL (a proxy request)
    at: float = 0.0  # when it arrived (time.time())


@dataclass
class RecordingServer:
    host: str
    port: int
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    default: tuple[int, dict[str, str], bytes] = (200, {}, b"ok")  # for paths not in routes
    seen: list[Seen] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        state: RecordingServer = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state.seen.append(Seen(self.command, self.path, self.headers.get("Host", ""), body,
                               self.path.startswith("http"), time.time()))
        path = self.path.split("?", 1)[0]
        status, headers, payload = state.routes.get(path, state.default)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = do_PUT = _answer


@contextmanager
def recording_server(host: str = "127.0.0.1") -> Iterator[RecordingServer]:
    httpd = ThreadingHTTPServer((host, 0), _Handler)
    state = RecordingServer(host=host, port=httpd.server_address[1])
    with serving(httpd, state):
        yield state


@contextmanager
def serving(httpd: ThreadingHTTPServer, state: object) -> Iterator[None]:
    """Serve ``httpd`` from a thread until the block ends; its handlers see ``state``."""
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
