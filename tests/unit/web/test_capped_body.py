"""read_capped against in-memory streamed responses."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx

from wpmigrate.web.capped_body import CappedBody, read_capped


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.read += 1
            yield chunk


def _response(chunks: list[bytes], headers: dict[str, str] | None = None) -> tuple[httpx.Response, _Chunks]:
    stream = _Chunks(chunks)
    return httpx.Response(200, headers=headers, stream=stream), stream


def test_body_within_the_cap_is_read_whole() -> None:
    response, _ = _response([b"abc", b"def"])
    assert read_capped(response, 6) == CappedBody(b"abcdef", False)


def test_reading_stops_at_the_first_chunk_past_the_cap() -> None:
    response, stream = _response([b"abc", b"def", b"ghi", b"jkl"])
    assert read_capped(response, 5) == CappedBody(b"abcde", True)
    assert stream.read == 2  # the rest of the body is never pulled


def test_the_cap_counts_decoded_bytes() -> None:
    bomb = gzip.compress(b"x" * 100_000)
    response, _ = _response([bomb], {"Content-Encoding": "gzip"})
    body = read_capped(response, 1000)
    assert body.truncated and body.content == b"x" * 1000
