"""Adaptive chunking against a host that refuses big chunks.

A small local stand-in HTTP server plays the plugin for this policy test only (the real
plugin on the real sandbox is tested in test_companion_source.py): it checks each
request's signature like the plugin, answers the protocol's ``files`` and ``file``
actions, and misbehaves like a shared host: 413 for chunks over 512 KiB, a 503 now and
then, one chunk with a wrong checksum and one body cut short."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from wpmigrate.full_access.companion.client import CompanionClient
from wpmigrate.full_access.companion.files_export import export_files_via_companion
from wpmigrate.full_access.companion.package import new_secret
from wpmigrate.full_access.companion.signing import ACTION_PARAM, sign
from wpmigrate.full_access.files.manifest import FILES_DIR, MANIFEST_NAME, iter_manifest

LIMIT = 512 * 1024
FILES = {"uploads/video.mp4": os.urandom(5 * 1024 * 1024 + 11), "uploads/small.txt": b"hello\n" * 100}


class _Host:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.log: list[tuple[str, int, int, str]] = []  # (outcome, offset, length, path) per file request
        self.lock = threading.Lock()
        self.count = 0


def _handler(host: _Host) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_a: Any) -> None:
            pass

        def send(self, status: int, body: bytes, headers: dict[str, str], length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("X-WPM-Protocol", "1")
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            q = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            action = q.pop(ACTION_PARAM, "")
            expected = sign(host.secret, action, q, self.headers.get("X-WPM-Timestamp", ""),
                            self.headers.get("X-WPM-Nonce", ""))
            if self.headers.get("X-WPM-Signature") != expected:
                self.send(401, b'{"error":"bad signature"}', {"Content-Type": "application/json"})
                return
            if action == "files":
                entries = [{"path": p, "size": len(d), "mtime": 1700000000, "mode": 0o644,
                            "sha256": hashlib.sha256(d).hexdigest()} for p, d in sorted(FILES.items())]
                self.send(200, json.dumps({"entries": entries, "next": None}).encode(),
                          {"Content-Type": "application/json"})
                return
            data, offset, length = FILES[q["path"]], int(q["offset"]), int(q["length"])
            with host.lock:
                host.count += 1
                n = host.count
            body = data[offset:offset + length]
            meta = {"X-WPM-File-Size": str(len(data)), "X-WPM-File-Mtime": "1700000000",
                    "Content-Type": "application/octet-stream"}
            if length > LIMIT:
                outcome = "413"
                self.send(413, b"<html>Request Entity Too Large</html>", {})
            elif n % 9 == 0:
                outcome = "503"
                self.send(503, b"busy", {})
            elif n == 5:
                outcome = "bad-sha"
                self.send(200, body, {**meta, "X-WPM-Chunk-Sha256": "0" * 64})
            elif n == 7 and len(body) > 10:
                outcome = "cut"
                self.send(200, body[: len(body) // 2], {**meta, "X-WPM-Chunk-Sha256":
                                                        hashlib.sha256(body).hexdigest()}, length=len(body))
                self.close_connection = True
            else:
                outcome = "ok"
                self.send(200, body, {**meta, "X-WPM-Chunk-Sha256": hashlib.sha256(body).hexdigest()})
            with host.lock:
                host.log.append((outcome, offset, length, q["path"]))
    return Handler


@pytest.fixture
def host() -> Iterator[tuple[_Host, str]]:
    h = _Host(new_secret())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(h))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield h, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_chunks_grow_while_fast_and_shrink_on_413_and_5xx(host: tuple[_Host, str], tmp_path: Path) -> None:
    h, url = host
    pre = {"max_execution_time": 30, "memory_limit": 128 << 20, "wp_content_dir": "/srv/wp-content"}
    with httpx.Client(timeout=10, trust_env=False) as http:
        summary = export_files_via_companion(CompanionClient(http, url, h.secret), tmp_path, preflight=pre,
                                             initial_chunk=64 << 10, workers=1, backoff=0)
    stored = {e.path: e for e in iter_manifest(tmp_path / MANIFEST_NAME)}
    assert set(stored) == set(FILES)
    for path, data in FILES.items():
        assert (tmp_path / FILES_DIR / path).read_bytes() == data
        assert stored[path].sha256 == hashlib.sha256(data).hexdigest() and stored[path].size == len(data)
    outcomes = [o for o, *_ in h.log]
    assert {"413", "503", "bad-sha", "cut", "ok"} <= set(outcomes)
    sizes = [length for _o, _off, length, _p in h.log]
    assert sizes[0] == 64 << 10 and max(sizes) > LIMIT  # grew from 64 KiB past the host's limit
    first_413 = outcomes.index("413")
    refused = sizes[first_413]
    # After a 413 the ceiling stays below the refused size: no request that big again.
    assert all(s < refused for s in sizes[first_413 + 1:])
    assert outcomes.count("413") <= 2
    assert summary["chunk_size"]["grown"] >= 3 and summary["chunk_size"]["shrunk"] >= 2
    # The big file's good answers tile it from 0 to its end: every range checked, none missing.
    video = FILES["uploads/video.mp4"]
    ranges = sorted((off, min(off + length, len(video))) for o, off, length, p in h.log
                    if o == "ok" and p == "uploads/video.mp4")
    end = 0
    for start, stop in ranges:
        assert start == end
        end = stop
    assert end == len(video)
