"""Reading a response body from an untrusted server without letting it fill the memory."""

from __future__ import annotations

from typing import NamedTuple

import httpx


class CappedBody(NamedTuple):
    content: bytes  # at most ``cap`` bytes
    truncated: bool  # the body was longer than ``cap``; the rest was never read


def read_capped(response: httpx.Response, cap: int) -> CappedBody:
    """Read the body of a streamed ``response`` (``client.stream`` or ``send(stream=True)``),
    keeping at most ``cap`` bytes.

    Counts decoded bytes (after Content-Encoding, as ``iter_bytes`` yields them), so a
    compressed body cannot inflate past the cap. Stops at the first chunk that goes past
    ``cap``; what that means is the caller's: keep the start (``content``) or refuse the
    response (``truncated``). Transport errors while reading propagate.
    """
    buf = bytearray()
    for chunk in response.iter_bytes():
        buf += chunk
        if len(buf) > cap:
            return CappedBody(bytes(buf[:cap]), True)
    return CappedBody(bytes(buf), False)
