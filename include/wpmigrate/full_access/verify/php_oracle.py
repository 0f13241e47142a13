"""Does PHP's ``unserialize()`` accept a value? Asked of PHP itself when a ``php``
binary is available, else of the strict Python parser (``rewrite.php_serialized``)."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
from collections.abc import Callable, Sequence

from wpmigrate.rewrite import php_serialized

PHP_ORACLE = r"""
error_reporting(0);
ini_set('memory_limit', '1024M');
$in = fopen('php://stdin', 'rb');
$out = fopen('php://stdout', 'wb');
while (($line = fgets($in)) !== false) {
    $s = base64_decode(rtrim($line, "\r\n"), true);
    if ($s === false) { fwrite($out, "E\n"); continue; }
    // allowed_classes=false: untrusted data, never instantiate classes (no __wakeup).
    $v = @unserialize($s, ['allowed_classes' => false]);
    fwrite($out, ($v !== false || $s === 'b:0;') ? "1\n" : "0\n");
}
"""

# True = valid, False = unserialize fails, None = PHP crashed on this value.
Validator = Callable[[Sequence[bytes]], list[bool | None]]


class PhpUnserializeOracle:
    """One long-running ``php`` process answering "does unserialize() accept this?".

    One base64 line in, one ``1``/``0`` line out; a page of values is written, then
    its answers read (2 bytes each, far below the pipe buffer, so no deadlock).
    """

    def __init__(self, php_binary: str = "php") -> None:
        self.php_binary = php_binary
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [self.php_binary, "-n", "-d", "display_errors=0", "-r", PHP_ORACLE],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        return self._proc

    def _ask(self, values: Sequence[bytes]) -> list[bool] | None:
        proc = self._start()
        assert proc.stdin and proc.stdout
        try:
            proc.stdin.write(b"".join(base64.b64encode(v) + b"\n" for v in values))
            proc.stdin.flush()
            answers = [proc.stdout.readline() for _ in values]
        except (BrokenPipeError, OSError):
            return None
        if any(a not in (b"1\n", b"0\n") for a in answers):
            return None
        return [a == b"1\n" for a in answers]

    def check(self, values: Sequence[bytes]) -> list[bool | None]:
        """True = valid, False = unserialize fails, None = PHP crashed on this value."""
        if not values:
            return []
        got = self._ask(values)
        if got is not None:
            return list(got)
        # The process died (memory limit, segfault): retry one by one to isolate the culprit.
        self.close()
        out: list[bool | None] = []
        for v in values:
            one = self._ask([v])
            if one is None:
                self.close()
            out.append(one[0] if one else None)
        return out

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                if self._proc.stdin:
                    self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> PhpUnserializeOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _python_check(values: Sequence[bytes]) -> list[bool | None]:
    return [bool(php_serialized.validate(v)) for v in values]


def serialized_validator(php_binary: str | None) -> tuple[Validator, str, Callable[[], None]]:
    """(check function, which oracle, close function). PHP first, Python parser second."""
    php = shutil.which(php_binary) if php_binary else None
    if php:
        oracle = PhpUnserializeOracle(php)
        if oracle.check([b"a:1:{i:0;s:1:\"x\";}", b"s:2:\"x\";"]) == [True, False]:
            return oracle.check, f"php unserialize ({php})", oracle.close
        oracle.close()
    return _python_check, "python strict parser (wpmigrate.php_serialized); php not available", lambda: None
