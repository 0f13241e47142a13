"""A polite HTTP fetcher for Mode B: rate limited per host, robots.txt obeyed, retried, capped.

It wraps a ``guarded_client`` (SSRF guard) and follows redirects itself, so that every hop
is rate limited, robots-checked and counted like any other request. Thread-safe: scraping
may share one fetcher between a few threads.
"""

from __future__ import annotations

import gzip
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import httpx
from protego import Protego
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.scrape_rebuild.records import Skipped
from wpmigrate.web.capped_body import ContentCodingError, decoded_response, read_capped
from wpmigrate.web.url_keys import host_key

USER_AGENT = "wpmigrate/1 (+https://github.com/wpmigrate/wpmigrate; WordPress site migration)"
# robots.txt groups are matched on the product token, not the whole header.
ROBOTS_AGENT = "wpmigrate"
DEFAULT_RATE = 10.0  # requests per second per host (seed spec)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 10
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A server sees our requests shifted by network and processing jitter (a slow page, then a
# fast 404); spacing them 15 % wider keeps any 1 s window of its log at or below the rate.
_SPACING_MARGIN = 1.15
_DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
# RFC 9309 2.5: crawlers must parse at least the first 500 KiB of a robots.txt; a longer
# one is cut there (at the last whole line) and used, never taken as unreachable.
ROBOTS_MAX_BYTES = 512 * 1024
# RFC 9309 2.4: a robots.txt answer is not used for more than 24 hours.
ROBOTS_MAX_AGE = 24 * 3600.0


class SkipUrl(MigrationError):
    """The URL was not (fully) fetched for a reason the report lists as a ``Skipped``.

    A permanent ``MigrationError`` so that callers which only know those (media download)
    record it instead of retrying.
    """

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        super().__init__(ErrorCode.SOURCE_REFUSED, f"{reason}: {url} {detail}".strip(), permanent=True,
                         details={"url": url, "reason": reason})
        self.skipped = Skipped(url=url, reason=reason, detail=detail)


@dataclass
class FetchResult:
    url: str  # final URL after redirects
    status_code: int
    headers: httpx.Headers
    content: bytes
    redirects: int = 0
    truncated: bool = False  # only with get(keep_start=True): the body went on past the cap

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        header = self.headers.get("content-type", "")
        enc = "utf-8"
        if "charset=" in header:
            enc = header.split("charset=", 1)[1].split(";", 1)[0].strip().strip("\"'") or "utf-8"
        try:
            return self.content.decode(enc, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON. ValueError when it is not JSON, or nests deeper than the parser
        can go (RecursionError): every caller then treats it as one unreadable answer."""
        try:
            return json.loads(self.content.lstrip(b"\xef\xbb\xbf"))  # some sites emit a BOM
        except RecursionError as err:
            raise ValueError("JSON nested too deep to read") from err


class _RetryableStatus(Exception):
    def __init__(self, status: int, wait: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.wait = wait


class _Transient(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class RateLimiter(Protocol):
    """Spaces the request starts to each host (``HostRateLimiter`` in one process,
    ``shared_rate_limit.SharedHostRateLimiter`` across a deployment)."""

    def wait(self, host: str) -> None: ...

    def slow_down(self, host: str, interval: float) -> None: ...


class HostRateLimiter:
    """At most ``rate`` request starts per second per host: each host gets evenly spaced slots.

    Slots are reserved under a lock and slept outside it, so threads share a host's rate
    instead of each getting their own.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = _SPACING_MARGIN / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._min_interval: dict[str, float] = {}
        self._lock = threading.Lock()

    def slow_down(self, host: str, interval: float) -> None:
        """Space this host's requests at least ``interval`` seconds apart (robots Crawl-delay)."""
        with self._lock:
            self._min_interval[host] = max(interval, self._min_interval.get(host, 0.0))

    def wait(self, host: str) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + max(self.interval, self._min_interval.get(host, 0.0))
        if slot > now:
            self._sleep(slot - now)


class PoliteFetcher:
    """GET with per-host rate limit, robots.txt, retries, a size cap and request counts.

    ``get`` raises ``SkipUrl`` for a robots-disallowed URL (never requested; reason
    ``host_unreachable`` or ``address_refused`` when its host's robots.txt could not be
    requested at all), a response
    over ``max_bytes`` or of an unwanted content type (aborted unread), and a redirect
    loop, or a body in more than one content-coding layer (``content_encoding``: the body
    is inflated as it is read, in bounded steps, so a cap holds for a compressed body too);
    ``MigrationError(SOURCE_UNREACHABLE, permanent=False)`` when the host stays
    unreachable after the retries. HTTP error statuses are returned, not raised.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        user_agent: str = USER_AGENT,
        robots_agent: str = ROBOTS_AGENT,
        rate_per_second: float = DEFAULT_RATE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        attempts: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        max_crawl_delay: float = 10.0,
        respect_robots: bool = True,
        robots: Mapping[str, Mapping[str, Any]] | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.user_agent = user_agent
        self.robots_agent = robots_agent
        self.max_bytes = max_bytes
        self.attempts = attempts
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.max_crawl_delay = max_crawl_delay
        self.respect_robots = respect_robots
        # ``limiter``: shared with other fetchers (other tasks, workers, runs); else this one's.
        self.limiter: RateLimiter = limiter or HostRateLimiter(rate_per_second, sleep=sleep)
        self._sleep = sleep
        self._robots: dict[str, Protego] = {}
        self._robots_kept: dict[str, dict[str, Any]] = {}  # host -> definitive answer (robots_rules)
        self._robots_lock = threading.Lock()
        # host -> (reason, why) its robots.txt could not be requested at all
        self._unreachable: dict[str, tuple[str, str]] = {}
        self._count_lock = threading.Lock()
        self.requests_by_host: Counter[str] = Counter()
        # ``robots``: what an earlier task of the run read (robots_rules), younger than 24 h.
        self._seed_robots(robots or {})

    # ------------------------------------------------------------------ counters
    @property
    def request_count(self) -> int:
        with self._count_lock:
            return sum(self.requests_by_host.values())

    def stats(self) -> dict[str, Any]:
        with self._count_lock:
            return {"requests": sum(self.requests_by_host.values()),
                    "requests_by_host": dict(self.requests_by_host)}

    # ------------------------------------------------------------------ robots.txt
    def robots(self, url: str) -> Protego:
        """The host's parsed robots.txt, fetched once (through the same limits as any request).

        Protego matches as RFC 9309 says (the longest matching rule wins, ``*`` and ``$``
        in paths); ``urllib.robotparser`` takes the first matching rule and knows neither.
        """
        host = host_key(url)
        with self._robots_lock:
            parser = self._robots.get(host)
            if parser is not None:
                return parser
            try:
                result = self.get(host + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES, check_robots=False,
                                  keep_start=True)
            except (MigrationError, SkipUrl) as exc:
                result = None
                if not isinstance(exc, SkipUrl):
                    # Nothing will be fetched from it; the report says why (not "disallowed").
                    self._unreachable[host] = (
                        "host_unreachable" if exc.code == ErrorCode.SOURCE_UNREACHABLE else "address_refused",
                        exc.message)
            # RFC 9309: 401/403 and an unreachable robots.txt (5xx, 429, network) disallow
            # everything; other 4xx allow everything.
            if result is None or result.status_code >= 500 or result.status_code in (401, 403, 429):
                text = _DISALLOW_ALL
            elif result.status_code >= 400:
                text = ""
            else:
                text = result.text
                if result.truncated:  # a rule cut in half could say more than the file does
                    text = text[:text.rfind("\n") + 1]
            if result is not None and result.status_code < 500 and result.status_code != 429:
                # A definitive answer: a later task of the run may reuse it (robots_rules).
                self._robots_kept[host] = {"rules": text, "fetched_at": time.time()}
            return self._install_robots(host, text)

    def _install_robots(self, host: str, text: str) -> Protego:
        parser = Protego.parse(text)
        delay = parser.crawl_delay(self.robots_agent)
        if delay:
            self.limiter.slow_down(host, min(delay, self.max_crawl_delay))
        self._robots[host] = parser
        return parser

    def robots_rules(self) -> dict[str, dict[str, Any]]:
        """The robots.txt answers this fetcher got, ``{host: {"rules": text, "fetched_at":
        epoch seconds}}``, for the later tasks of the same run (``PoliteFetcher(robots=...)``):
        one run asks a host for its robots.txt once. Only definitive answers (a 2xx body, a
        4xx); an unreachable robots.txt is asked again by the next task."""
        with self._robots_lock:
            return {host: dict(kept) for host, kept in self._robots_kept.items()}

    def _seed_robots(self, robots: Mapping[str, Mapping[str, Any]]) -> None:
        now = time.time()
        for host, kept in robots.items():
            rules, fetched_at = kept.get("rules"), kept.get("fetched_at")
            if isinstance(rules, str) and isinstance(fetched_at, int | float) and (
                    0 <= now - fetched_at < ROBOTS_MAX_AGE):
                self._robots_kept[host] = {"rules": rules, "fetched_at": fetched_at}
                self._install_robots(host, rules)

    def allowed(self, url: str) -> bool:
        if not self.respect_robots:
            return True
        return self.robots(url).can_fetch(url, self.robots_agent)

    def site_maps(self, url: str) -> list[str]:
        """``Sitemap:`` lines of the host's robots.txt."""
        return list(self.robots(url).sitemaps)

    # ------------------------------------------------------------------ fetching
    def get(self, url: str, *, max_bytes: int | None = None,
            content_types: tuple[str, ...] | None = None,
            headers: dict[str, str] | None = None, check_robots: bool = True,
            keep_start: bool = False) -> FetchResult:
        """GET ``url`` and read its body (at most ``max_bytes``). ``content_types``: accepted
        media type prefixes; anything else is aborted before its body is read. A longer body
        is refused (``too_large``), or with ``keep_start`` cut at the cap (``truncated``)."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        with self.open_stream(url, headers=headers, check_robots=check_robots) as resp:
            media_type = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if content_types is not None and resp.is_success and not media_type.startswith(content_types):
                raise SkipUrl(str(resp.url), "unwanted_content_type", media_type or "(none)")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap and not keep_start:
                raise SkipUrl(str(resp.url), "too_large", f"Content-Length {declared} > {cap} bytes")
            try:
                body = read_capped(resp, cap)
            except httpx.TransportError as exc:  # dropped mid-body: the caller decides to retry
                raise MigrationError(ErrorCode.SOURCE_UNREACHABLE, f"{url}: {exc}", permanent=False,
                                     details={"url": url, "reason": type(exc).__name__}) from exc
            except ContentCodingError as exc:
                raise SkipUrl(str(resp.url), "content_encoding", str(exc)) from exc
            if body.truncated and not keep_start:
                raise SkipUrl(str(resp.url), "too_large", f"body exceeds {cap} bytes")
            return FetchResult(str(resp.url), resp.status_code, resp.headers, body.content,
                               redirects=int(resp.extensions.get("wpmigrate_redirects", 0)),
                               truncated=body.truncated)

    @contextmanager
    def open_stream(self, url: str, *, headers: dict[str, str] | None = None,
                    check_robots: bool = True) -> Iterator[httpx.Response]:
        """The response to GET ``url``, body unread (for large media); redirects followed hop by
        hop, each one rate limited and robots-checked. Closed on exit."""
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            if check_robots and not self.allowed(current):
                if failed := self._unreachable.get(host_key(current)):
                    raise SkipUrl(current, failed[0], f"(robots.txt not fetched: {failed[1]})")
                raise SkipUrl(current, "robots_disallowed", f"robots.txt disallows {self.robots_agent}")
            resp = self._open_with_retries(current, headers)
            location = resp.headers.get("location")
            if resp.status_code in (301, 302, 303, 307, 308) and location:
                resp.close()
                current = urljoin(current, location)
                continue
            resp.extensions["wpmigrate_redirects"] = hop
            try:
                # Decoded here, in bounded pieces: a reader's own cap then counts what it holds.
                try:
                    decoded = decoded_response(resp)
                except ContentCodingError as exc:
                    raise SkipUrl(current, "content_encoding", str(exc)) from exc
                yield decoded
            finally:
                resp.close()
            return
        raise SkipUrl(url, "redirect_loop", f"more than {MAX_REDIRECTS} redirects")

    def _open_with_retries(self, url: str, headers: dict[str, str] | None) -> httpx.Response:
        def wait(retry_state: Any) -> float:
            exc = retry_state.outcome.exception()
            if isinstance(exc, _RetryableStatus) and exc.wait is not None:
                return exc.wait
            return min(self.backoff * 2 ** (retry_state.attempt_number - 1), self.max_retry_after)

        retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=wait, sleep=self._sleep,
                            retry=retry_if_exception_type((_RetryableStatus, _Transient)), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    last = attempt.retry_state.attempt_number >= self.attempts
                    return self._open_once(url, headers, last)
        except _Transient as exc:
            raise MigrationError(
                ErrorCode.SOURCE_UNREACHABLE, f"{url} unreachable after {self.attempts} attempts: {exc}",
                permanent=False, details={"url": url, "reason": type(exc.cause).__name__},
            ) from exc.cause
        raise AssertionError("unreachable")  # Retrying either returns or reraises

    def _retry_after(self, response: httpx.Response) -> float | None:
        raw = response.headers.get("retry-after", "").strip()
        # Seconds only; the HTTP-date form falls back to the exponential backoff.
        return min(float(raw), self.max_retry_after) if raw.isdigit() else None

    def _open_once(self, url: str, headers: dict[str, str] | None, last: bool) -> httpx.Response:
        host = host_key(url)
        self.limiter.wait(host)
        with self._count_lock:
            self.requests_by_host[host] += 1
        request = self.client.build_request("GET", url, headers={"User-Agent": self.user_agent,
                                                                 **(headers or {})})
        try:
            resp = self.client.send(request, stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            raise _Transient(exc) from exc
        except MigrationError as exc:
            if exc.code == ErrorCode.SOURCE_UNREACHABLE and not exc.permanent:
                raise _Transient(exc) from exc  # DNS hiccup
            raise
        if resp.status_code in RETRY_STATUSES and not last:
            resp.close()
            raise _RetryableStatus(resp.status_code, self._retry_after(resp))
        return resp


def gunzip_capped(data: bytes, cap: int, url: str) -> bytes:
    """Inflate a gzip body (e.g. sitemap.xml.gz) without letting a gzip bomb past ``cap``."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
        try:
            out = gz.read(cap + 1)
        except (OSError, EOFError) as exc:
            raise SkipUrl(url, "bad_gzip", str(exc)) from exc
    if len(out) > cap:
        raise SkipUrl(url, "too_large", f"inflates beyond {cap} bytes")
    return out
