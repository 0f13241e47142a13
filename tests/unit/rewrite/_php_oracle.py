"""Talks to tests/unit/rewrite/php_oracle.php: one PHP process per test module, JSON lines."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("php_oracle.php")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


class PhpOracle:
    def __init__(self) -> None:
        php = shutil.which("php")
        if php is None:
            pytest.skip("php CLI not installed (it is the oracle)")
        self._proc = subprocess.Popen(
            [php, "-d", "memory_limit=1G", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(req).encode() + b"\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("php oracle died")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"php oracle: {out['error']} (request op {req['op']})")
        return out

    def build(self, code: str) -> bytes:
        """serialize(<code>) computed by PHP."""
        return base64.b64decode(self._ask({"op": "build", "code": code})["value"])

    def eval(self, code: str) -> bytes:
        """A byte string computed by PHP."""
        return base64.b64decode(self._ask({"op": "eval", "code": code})["value"])

    def unserialize_ok(self, value: bytes, strict: bool = True) -> bool:
        out = self._ask({"op": "unserialize", "value": _b64(value)})
        return bool(out["strict" if strict else "ok"])

    def is_serialized(self, values: Sequence[bytes]) -> list[bool]:
        """WordPress's is_serialized() on each value."""
        return self._ask({"op": "is_serialized", "values": [_b64(v) for v in values]})["result"]

    def check(
        self, input_: bytes, ours: bytes, pairs: Sequence[tuple[bytes, bytes] | tuple[bytes, bytes, int]],
        mode: str = "auto",
    ) -> dict[str, Any]:
        return self._ask({
            "op": "check",
            "input": _b64(input_),
            "ours": _b64(ours),
            # (search, replace[, leading bytes matched in any letter case])
            "pairs": [[_b64(p[0]), _b64(p[1]), *p[2:]] for p in pairs],
            "mode": mode,
        })

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)


def oracle_fixture() -> Iterator[PhpOracle]:
    oracle = PhpOracle()
    try:
        yield oracle
    finally:
        oracle.close()


def php_bytes(b: bytes) -> str:
    """A PHP double-quoted literal for arbitrary bytes."""
    return '"' + "".join(f"\\x{c:02x}" for c in b) + '"'


def random_php_expr(rng: Any, fragments: Sequence[bytes], depth: int = 0) -> str:
    """A random PHP expression: nested arrays/objects/serialized strings and scalars.

    ``rng`` is a seeded ``random.Random``; strings are glued from ``fragments`` and
    random bytes (invalid UTF-8 included).
    """
    roll = rng.random()
    if depth < 4 and roll < 0.25:
        items = []
        for i in range(rng.randint(0, 5)):
            key = str(rng.randint(-3, 50)) if rng.random() < 0.5 else php_bytes(
                rng.choice(fragments)[:12] + str(i).encode())
            items.append(f"{key} => {random_php_expr(rng, fragments, depth + 1)}")
        body = "[" + ", ".join(items) + "]"
        r = rng.random()
        if r < 0.15:
            return "(object)" + body
        if r < 0.25:
            return "serialize(" + body + ")"  # a serialized string inside the value
        return body
    if roll < 0.32:
        return rng.choice(["true", "false", "null", "-1", "0", "PHP_INT_MAX", "PHP_INT_MIN", "-17"])
    if roll < 0.38:
        return rng.choice(["1.5", "-0.0", "INF", "-INF", "NAN", "0.1", "1e300", "-2.5e-7"])
    if roll < 0.42:
        return "unserialize('O:13:\"Unknown_Class\":1:{s:3:\"url\";s:18:\"http://old.example\";}')"
    parts = []
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.75:
            parts.append(rng.choice(fragments))
        else:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))))
    return php_bytes(b"".join(parts))
