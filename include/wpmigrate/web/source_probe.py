"""Source validation: is the URL reachable, public, and a WordPress site?

Read-only by construction: the client refuses anything but GET/HEAD, and every
request (and redirect hop) passes the SSRF guard.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from bs4 import BeautifulSoup
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.web.capped_body import ContentCodingError, read_capped
from wpmigrate.web.rest_api_discovery import API_REL, api_root_from_link_header, is_rest_index
from wpmigrate.web.url_guard import IPNetwork, check_url, guarded_client

log = logging.getLogger(__name__)

# Seed 9.2: source validation, 3 retries, exponential 1 s, 2 s, 4 s.
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0)
# Untrusted servers: never read more than this of any response.
MAX_BODY_BYTES = 5 * 1024 * 1024
USER_AGENT = "wpmigrate-probe/0.1 (+read-only migration check)"

_TRANSIENT = (httpx.TransportError,)  # connect/read errors and timeouts, not HTTP statuses
_GENERATOR_RE = re.compile(r"wordpress\s*([0-9]+(?:\.[0-9]+){0,2})?", re.I)
_VER_RE = re.compile(r"/wp-includes/[^\"'\s>]+?\?ver=([0-9]+\.[0-9]+(?:\.[0-9]+)?)")

# Signals strong enough on their own; path mentions alone could be a static mirror.
STRONG_SIGNALS = frozenset(
    {"link_header", "html_api_link", "rest_index", "rest_route_index", "generator_meta", "wp_login"}
)


def _get(client: httpx.Client, url: str, **kw: Any) -> tuple[httpx.Response, bytes]:
    with client.stream("GET", url, **kw) as response:
        try:
            body = read_capped(response, MAX_BODY_BYTES).content  # the start is enough to judge
        except ContentCodingError as exc:  # e.g. "gzip, gzip": refused, never inflated
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE, f"{url}: {exc}", permanent=True,
                                 details={"url": url, "reason": "content_encoding"}) from exc
    return response, body


def _transient(exc: BaseException) -> bool:
    """Connection-level failures and DNS; never HTTP statuses, SSRF refusals or redirect loops."""
    if isinstance(exc, MigrationError):
        return exc.code == ErrorCode.SOURCE_UNREACHABLE and not exc.permanent
    return isinstance(exc, _TRANSIENT)


def _get_with_retries(
    client: httpx.Client, url: str, delays: Sequence[float], sleep: Callable[[float], None]
) -> tuple[httpx.Response, bytes]:
    """GET ``url``, retried after each of ``delays`` while the failure is transient."""

    def log_retry(state: RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("source %s not reachable (%s); retry in %.1fs", url, _failure(state), wait)

    def give_up(state: RetryCallState) -> NoReturn:
        last = _failure(state)
        reason = "dns" if isinstance(last, MigrationError) else type(last).__name__
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            f"{url} is unreachable after {state.attempt_number} attempts: {last}",
            permanent=True,
            details={"url": url, "attempts": state.attempt_number, "reason": reason},
        ) from last

    retrying = Retrying(
        retry=retry_if_exception(_transient),
        stop=stop_after_attempt(len(delays) + 1),
        wait=wait_chain(*map(wait_fixed, delays)),
        sleep=sleep,
        before_sleep=log_retry,
        retry_error_callback=give_up,
    )
    try:
        return retrying(_get, client, url)
    except httpx.TooManyRedirects as exc:
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE, f"too many redirects from {url}", permanent=True,
            details={"url": url, "reason": "redirect_loop"},
        ) from exc


def _failure(state: RetryCallState) -> BaseException:
    exc = state.outcome.exception() if state.outcome else None
    assert exc is not None  # only called after a failed attempt
    return exc


def _base_url(final_url: str) -> str:
    """The site root as a directory URL (keeps a sub-directory install like /blog/)."""
    parts = urlsplit(final_url)
    path = parts.path or "/"
    if not path.endswith("/"):
        path = path.rsplit("/", 1)[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.lstrip(b"\xef\xbb\xbf"))  # some sites emit a BOM before JSON
    except ValueError:
        return None


def _html_signals(html: str, base: str) -> tuple[list[str], str | None, str | None, str | None]:
    """(signals, wp_version, home_title, api_root) found in the home page HTML."""
    signals: list[str] = []
    version: str | None = None
    api_root: str | None = None
    soup = BeautifulSoup(html, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for meta in soup.find_all("meta", attrs={"name": re.compile("^generator$", re.I)}):
        content = str(meta.get("content") or "")
        m = _GENERATOR_RE.search(content)
        if m:
            signals.append("generator_meta")
            version = version or m.group(1)
            break
    for link in soup.find_all("link", href=True):
        if API_REL in link.get_attribute_list("rel"):
            signals.append("html_api_link")
            api_root = urljoin(base, str(link["href"]))
            break
    if re.search(r"/wp-content/", html):
        signals.append("wp_content_paths")
    if re.search(r"/wp-includes/", html):
        signals.append("wp_includes_paths")
    if version is None:
        m = _VER_RE.search(html)
        if m:
            version = m.group(1)
    return signals, version, title, api_root


def _index_facts(url: str, data: dict[str, Any]) -> dict[str, Any]:
    """The REST index's facts discovery uses (the index itself lists every route: large)."""
    return {"url": url, "name": data.get("name"), "description": data.get("description")}


def decide_wordpress(signals: Iterable[str]) -> bool:
    s = set(signals)
    return bool(s & STRONG_SIGNALS) or {"wp_content_paths", "wp_includes_paths"} <= s


def probe_source(
    url: str,
    *,
    allowed_networks: Iterable[IPNetwork | str] = (),
    timeout: float = 10.0,
    allow_non_wordpress: bool = False,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
    verify_tls: bool = True,
) -> dict[str, Any]:
    """Check that ``url`` is reachable, public (SSRF guard) and WordPress.

    Returns ``{final_url, is_wordpress, signals, wp_version, rest_api, rest_url,
    site_name, home_title, home_status, home_page, rest_index}`` (``home_page``: the home
    page as read, body at most 5 MB; ``rest_index``: the API index's url, name and
    description). wp-login.php is asked only when the home page and the API index did not
    already tell WordPress. Raises ``MigrationError``:
    SOURCE_REFUSED (guard), SOURCE_UNREACHABLE (after retries), NOT_WORDPRESS.
    """
    try:  # fail fast on scheme/credentials/private address before any retries
        check_url(url, allowed_networks)
    except MigrationError as exc:
        if exc.code == ErrorCode.SOURCE_REFUSED:
            raise
        # DNS failure: the retry loop below owns it.
    client = guarded_client(
        allowed_networks,
        read_only=True,
        verify=verify_tls,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/json;q=0.9,*/*;q=0.5"},
    )
    with client:
        home, body = _get_with_retries(client, url, retry_delays, sleep)
        final_url = str(home.url)
        base = _base_url(final_url)
        signals: list[str] = []

        api_root = api_root_from_link_header(home.headers.get("link", ""), final_url)
        if api_root:
            signals.append("link_header")

        html = body.decode(home.encoding or "utf-8", errors="replace")
        html_sigs, wp_version, home_title, html_api = _html_signals(html, base)
        signals += html_sigs
        api_root = api_root or html_api

        def optional_get(target: str) -> tuple[httpx.Response, bytes] | None:
            # Secondary probes: one failure must not sink a reachable site.
            try:
                return _get(client, target)
            except (httpx.HTTPError, MigrationError) as exc:
                if isinstance(exc, MigrationError) and exc.code == ErrorCode.SOURCE_REFUSED:
                    log.warning("secondary probe %s refused: %s", target, exc.message)
                return None

        rest_api = False
        site_name: str | None = None
        rest_url: str | None = None
        rest_index: dict[str, Any] | None = None
        candidates = [api_root] if api_root else []
        default_root = urljoin(base, "wp-json/")
        if default_root not in candidates:
            candidates.append(default_root)
        for candidate in candidates:
            got = optional_get(candidate)
            if got and got[0].status_code == 200 and is_rest_index(data := _json(got[1])):
                signals.append("rest_index")
                rest_api, rest_url, site_name = True, str(got[0].url), data.get("name")
                rest_index = _index_facts(rest_url, data)
                break
        if not rest_api:
            # Sites without pretty permalinks (or with /wp-json/ blocked) still answer here.
            got = optional_get(urljoin(base, "?rest_route=/"))
            if got and got[0].status_code == 200 and is_rest_index(data := _json(got[1])):
                signals.append("rest_route_index")
                rest_api, rest_url, site_name = True, str(got[0].url), data.get("name")
                rest_index = _index_facts(rest_url, data)

        # The login page only when nothing stronger told already: security plugins watch it,
        # and a fragile host need not render it for a question that is answered.
        got = None if decide_wordpress(signals) else optional_get(urljoin(base, "wp-login.php"))
        if got and got[0].status_code == 200:
            login_html = got[1].decode("utf-8", errors="replace")
            if re.search(r"id=[\"']loginform[\"']|name=[\"']log[\"']|wp-login\.php", login_html):
                signals.append("wp_login")

    is_wp = decide_wordpress(signals)
    result: dict[str, Any] = {
        "url": url,
        "final_url": final_url,
        "home_status": home.status_code,
        "is_wordpress": is_wp,
        "signals": signals,
        "wp_version": wp_version,
        "rest_api": rest_api,
        "rest_url": rest_url,
        "site_name": site_name,
        "home_title": home_title,
    }
    if not is_wp and home.status_code >= 500:
        # A failing server says nothing about what it runs; let the task retry later.
        raise MigrationError(
            ErrorCode.SOURCE_UNREACHABLE,
            f"{final_url} answered HTTP {home.status_code}",
            permanent=False,
            details=result,
        )
    if not is_wp and not allow_non_wordpress:
        raise MigrationError(
            ErrorCode.NOT_WORDPRESS,
            f"{final_url} shows no WordPress signal (checked Link header, REST index, "
            "generator meta, wp-content/wp-includes paths, wp-login.php)",
            permanent=True,
            details=result,
        )
    # What the probe read, for a caller that would otherwise ask again (Mode B discover);
    # not in the errors' details above. A home page at the read cap may be cut: not passed on.
    result["home_page"] = None if len(body) >= MAX_BODY_BYTES else {
        "url": final_url, "status": home.status_code, "content_type": home.headers.get("content-type", ""),
        "link": home.headers.get("link", ""), "html": html}
    result["rest_index"] = rest_index
    return result
