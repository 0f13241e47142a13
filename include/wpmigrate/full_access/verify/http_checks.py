"""The HTTP check: every published post and page of the source answers 200 on the
target with the same title. URLs come from the target's REST API in batches (its
``link``), else the ``/?p=ID`` redirect; titles are compared the way WordPress renders
them (entities, wptexturize, capital_P_dangit)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup

from wpmigrate.core.errors import MigrationError
from wpmigrate.full_access.db.sql import query, quote_ident
from wpmigrate.full_access.verify.options import VerifyOptions
from wpmigrate.full_access.verify.report import ProblemList, Section, report_text, section
from wpmigrate.web.capped_body import read_capped
from wpmigrate.web.url_guard import target_client

MAX_BODY_BYTES = 5 * 1024 * 1024

# (ID, post_type, post_title, password-protected)
Post = tuple[int, str, bytes, bool]
RestInfo = dict[str, Any]  # {"link": str | None, "title": str | None}

_TEXTURIZE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u2033": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00d7": "x",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2026": "...",
    "\u00a9": "(c)", "\u00ae": "(r)", "\u2122": "(tm)",
})
_TAG_RE = re.compile(r"<[^>]*>")


def normalise_title(value: str | bytes | None) -> str:
    """A title as WordPress would compare equal: entities decoded, tags stripped,
    wptexturize's curly quotes/dashes/ellipsis/(c) undone, whitespace collapsed, casefolded
    (capital_P_dangit turns "Wordpress" into "WordPress")."""
    text = report_text(value)
    for _ in range(2):  # double-encoded entities (&amp;#8217;) occur in titles
        text = html.unescape(text)
    text = _TAG_RE.sub("", text).translate(_TEXTURIZE)
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.casefold()


def title_matches(
    source_title: str | bytes, candidates: Iterable[str | None], protected: bool = False
) -> bool:
    """True if the source title equals a candidate (REST title, h1) or starts the <title>."""
    want = normalise_title(source_title)
    if not want:
        return True  # untitled posts: WordPress shows the site name; nothing to compare
    for cand in candidates:
        got = normalise_title(cand)
        if protected:
            got = re.sub(r"^(protected|private): ", "", got)
        if got == want or got.startswith(want + " - ") or got.startswith(want + " | "):
            return True
    return False


def page_title_candidates(body: bytes, encoding: str | None = None) -> list[str]:
    soup = BeautifulSoup(body.decode(encoding or "utf-8", errors="replace"), "lxml")
    found = []
    if soup.title:
        found.append(soup.title.get_text(" ", strip=True))
    for tag in soup.find_all(["h1", "h2"], limit=20):
        found.append(tag.get_text(" ", strip=True))
    return found


class _HttpCheck:
    def __init__(self, o: VerifyOptions, client: httpx.Client, base: str) -> None:
        self.o, self.client, self.base = o, client, base
        self.target_netloc = urlsplit(base).netloc.lower()
        self.rest_broken = False

    def published(self) -> Iterator[list[Post]]:
        last = -1
        table = quote_ident(self.o.source_table("posts"))
        while True:
            page = query(
                self.o.source_conn,
                f"SELECT ID, post_type, post_title, post_password <> '' FROM {table} "
                "WHERE post_status = 'publish' AND post_type IN ('post', 'page') AND ID > %s "
                "ORDER BY ID LIMIT %s",
                (last, min(self.o.page_size, 100)),
            )
            if not page:
                return
            last = int(page[-1][0])
            yield [(int(r[0]), report_text(r[1]), r[2], bool(r[3])) for r in page]

    def rest_batch(self, rest_type: str, ids: list[int]) -> dict[int, RestInfo]:
        if not ids or self.rest_broken:
            return {}
        params = {"include": ",".join(map(str, ids)), "per_page": "100", "_fields": "id,link,title"}
        try:
            r = self.client.get(urljoin(self.base, f"wp-json/wp/v2/{rest_type}"), params=params)
            data = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError, MigrationError):  # MigrationError: the guard refused a hop
            data = None
        if not isinstance(data, list):
            self.rest_broken = True  # fall back to /?p=ID for the rest of the run
            return {}
        out = {}
        for item in data:
            if isinstance(item, dict) and "id" in item:
                title = item.get("title")
                out[int(item["id"])] = {"link": item.get("link"),
                                        "title": title.get("rendered") if isinstance(title, dict) else None}
        return out

    def check_one(self, post: Post, rest: RestInfo | None) -> dict[str, Any] | None:
        pid, ptype, title, protected = post
        url = (rest or {}).get("link") or urljoin(self.base, f"?p={pid}")
        try:
            with self.client.stream("GET", url) as r:
                body = read_capped(r, MAX_BODY_BYTES).content
        except httpx.HTTPError as exc:
            return {"id": pid, "type": ptype, "title": report_text(title), "url": url,
                    "reason": f"request failed: {exc.__class__.__name__}"}
        except MigrationError as exc:  # the SSRF guard refused the URL or a redirect hop: not fetched
            return {"id": pid, "type": ptype, "title": report_text(title), "url": url,
                    "reason": f"refused by the address guard: {report_text(exc.message)}"}
        final = str(r.url)
        problem = {"id": pid, "type": ptype, "title": report_text(title), "url": url, "final_url": final,
                   "status": r.status_code}
        if r.status_code != 200:
            return {**problem, "reason": f"HTTP {r.status_code}"}
        if urlsplit(final).netloc.lower() != self.target_netloc:
            return {**problem, "reason": "redirected away from the target site"}
        candidates = [(rest or {}).get("title"), *page_title_candidates(body, r.encoding)]
        if not title_matches(title, candidates, protected):
            return {**problem, "reason": "title differs",
                    "target_titles": [c for c in candidates if c][:3]}
        return None


def http(o: VerifyOptions) -> Section:
    problems = ProblemList(o.max_problems)
    if not o.target_url:
        return section("Published posts and pages answer on the target", problems, checked=0,
                       skipped="no target_url given")
    base = o.target_url.rstrip("/") + "/"
    own_client = o.http_client is None
    # The target's own origin is reached whatever its address; a redirect elsewhere (or a
    # REST ``link`` off the site) passes the SSRF guard like a source URL.
    client = o.http_client or target_client(o.target_url, o.http_allowed_networks, follow_redirects=True,
                                            timeout=30.0, headers={"User-Agent": "wpmigrate-verify/0.1"})
    check = _HttpCheck(o, client, base)
    checked, via_rest = 0, 0
    try:
        with ThreadPoolExecutor(max_workers=o.http_workers) as pool:
            for batch in check.published():
                if o.http_limit is not None:
                    batch = batch[: max(0, o.http_limit - checked)]
                    if not batch:
                        break
                rest: dict[int, RestInfo] = {}
                for rest_type, ptype in (("posts", "post"), ("pages", "page")):
                    rest.update(check.rest_batch(rest_type, [p[0] for p in batch if p[1] == ptype]))
                via_rest += sum(1 for p in batch if p[0] in rest)
                results = pool.map(lambda p, rest=rest: check.check_one(p, rest.get(p[0])), batch)
                for problem in results:
                    checked += 1
                    if problem:
                        problems.add(problem)
    finally:
        if own_client:
            client.close()
    notes = ["Each published post/page of the source DB is fetched on the target (URL from the "
             "target's REST 'link', else /?p=ID redirect) and must answer 200 with the same title "
             "(HTML entities and wptexturize quotes/dashes normalised)."]
    if o.http_limit is not None:
        notes.append(f"Limited to the first {o.http_limit} posts/pages by ID.")
    return section("Published posts and pages answer on the target", problems, checked=checked,
                   notes=notes, resolved_via_rest=via_rest)
