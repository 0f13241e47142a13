"""Reading a response body from an untrusted server without letting it fill the memory.

httpx decodes a ``Content-Encoding`` body one network read at a time, and each read is
inflated whole, through every layer the server names: 64 KiB of gzip of zeros is 64 MiB,
and a few hundred bytes of ``gzip, gzip`` are hundreds of MB before a capped reader sees a
byte. So the body is read raw here (``iter_raw``) and inflated with a bound on each step's
output, and more than one content-coding layer is refused before any of it is read.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import NamedTuple

import httpx

DECODED_CHUNK = 64 * 1024  # at most this much inflated output per step
_ZLIB_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class CappedBody(NamedTuple):
    content: bytes  # at most ``cap`` bytes
    truncated: bool  # the body was longer than ``cap``; the rest was never read


class ContentCodingError(httpx.DecodingError):
    """A body whose ``Content-Encoding`` is refused (more than one layer) or does not decode."""


def content_codings(headers: httpx.Headers) -> list[str]:
    """The content-coding layers of a response, outermost last (``identity`` left out)."""
    names = (name.strip().lower() for name in headers.get_list("content-encoding", split_commas=True))
    return [name for name in names if name and name != "identity"]


def check_codings(headers: httpx.Headers) -> str | None:
    """The one content coding of a response (None: none); ``ContentCodingError`` for more."""
    codings = content_codings(headers)
    if len(codings) > 1:
        raise ContentCodingError(f"Content-Encoding {', '.join(codings)}: more than one layer refused")
    return codings[0] if codings else None


def _inflate(state: zlib._Decompress, data: bytes, chunk: int) -> Iterator[bytes]:
    """Feed ``data``, yielding the output in pieces of at most ``chunk`` bytes."""
    while True:
        out = state.decompress(data, chunk)
        if out:
            yield out
        data = state.unconsumed_tail
        if state.eof or (not data and len(out) < chunk):
            return


def iter_decoded(response: httpx.Response, chunk: int = DECODED_CHUNK) -> Iterator[bytes]:
    """The body of a streamed ``response``, decoded as it arrives, in pieces of at most
    ``chunk`` bytes (or the network's reads, for a body without content coding).

    gzip and deflate are inflated here; a coding httpx does not ask for (br, zstd) passes
    as sent, like httpx would without its optional decoder. ``ContentCodingError`` for more
    than one layer (before the body is read) or a body that does not inflate.
    """
    coding = check_codings(response.headers)
    try:
        content = response.content  # read already (an in-memory response): decoded by httpx
    except httpx.ResponseNotRead:
        pass
    else:
        yield content
        return
    wbits = _ZLIB_CODINGS.get(coding or "")
    if wbits is None:
        yield from response.iter_raw()
        return
    state = zlib.decompressobj(wbits)
    first = coding == "deflate"  # servers send raw deflate as "deflate" too (httpx's fallback)
    for raw in response.iter_raw():
        try:
            yield from _inflate(state, raw, chunk)
        except zlib.error as exc:
            if not first:
                raise ContentCodingError(f"{coding} body does not inflate: {exc}") from exc
            state = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from _inflate(state, raw, chunk)
        first = False
        if state.eof:
            break  # anything after the end of the compressed stream is ignored, as httpx does
    try:
        tail = state.flush()
    except zlib.error as exc:  # pragma: no cover - flush after decompress does not raise in CPython
        raise ContentCodingError(f"{coding} body does not inflate: {exc}") from exc
    if tail:
        yield tail


class _DecodedStream(httpx.SyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        yield from iter_decoded(self._response)

    def close(self) -> None:
        self._response.close()


def decoded_response(response: httpx.Response) -> httpx.Response:
    """``response`` (streamed, body unread) as one whose body is already decoded by
    ``iter_decoded``, for callers that read it with ``iter_bytes``: its chunks are then
    bounded too. ``Content-Encoding`` is dropped from its headers (the body no longer has
    it); ``ContentCodingError`` at once for more than one layer."""
    if check_codings(response.headers) is None:
        return response
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(response.status_code, headers=headers, stream=_DecodedStream(response),
                          request=response.request, extensions=response.extensions)


def read_capped(response: httpx.Response, cap: int) -> CappedBody:
    """Read the body of a streamed ``response`` (``client.stream`` or ``send(stream=True)``),
    keeping at most ``cap`` bytes.

    Counts decoded bytes as they are inflated (``iter_decoded``), so a compressed body cannot
    inflate past the cap, not even within one network read. Stops at the first piece that
    goes past ``cap``; what that means is the caller's: keep the start (``content``) or
    refuse the response (``truncated``). Transport errors while reading propagate, and so
    does ``ContentCodingError``.
    """
    buf = bytearray()
    for piece in iter_decoded(response):
        buf += piece
        if len(buf) > cap:
            return CappedBody(bytes(buf[:cap]), True)
    return CappedBody(bytes(buf), False)
