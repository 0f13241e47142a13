"""The companion protocol's request signature (v1), shared by the client and the tests.

string_to_sign = "v1\\n" + action + "\\n" + canonical_query + "\\n" + timestamp + "\\n" + nonce;
canonical_query: the parameters except ``wpmigrate-companion``, sorted by name,
``name=value`` percent-encoded as PHP's rawurlencode does (RFC 3986: only
``A-Za-z0-9-_.~`` stay as they are), joined by ``&``. Signature: lowercase hex
HMAC-SHA256(secret, string_to_sign); the secret's text is the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote

ACTION_PARAM = "wpmigrate-companion"
VERSION = "v1"


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}"
                    for k, v in sorted(params.items()) if k != ACTION_PARAM)


def string_to_sign(action: str, params: Mapping[str, str], timestamp: str, nonce: str) -> str:
    return "\n".join((VERSION, action, canonical_query(params), timestamp, nonce))


def sign(secret: str, action: str, params: Mapping[str, str], timestamp: str, nonce: str) -> str:
    msg = string_to_sign(action, params, timestamp, nonce).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def signed_headers(secret: str, action: str, params: Mapping[str, str], *,
                   now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """The three signature headers of one request (a fresh nonce unless one is given)."""
    ts = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {"X-WPM-Timestamp": ts, "X-WPM-Nonce": nonce,
            "X-WPM-Signature": sign(secret, action, params, ts, nonce)}
