"""Benchmark: Mode B discovery + scrape + media download vs ``wget --recursive``, same run, same site.

Runs against the sandbox's real source WordPress (``wpsandbox.build.up()``, honours
``$WPSANDBOX_HOME``) and measures, one after the other:
  - ours at the polite default (10 req/s per host) and at rate 1000 (the processing cost),
    with the source REST API open and closed (sitemaps + crawl)
  - ``wget --recursive --level=5 --page-requisites --no-parent -e robots=on`` with and
    without ``--wait=0.1`` (the same politeness)
and prints wall and client CPU time, requests (as the client counts them and as the source's request
log saw them) and coverage: how many of the published pages and posts (REST API
``link``s) and of the images those pages show (``<img src>`` under wp-content/uploads)
each approach obtained. Not a test: nothing is asserted about times.

Then the source's requests of one DAG-like run (REST open and closed: validate_source's
probe, discover, scrape_comments, one scrape_content and one download_media task per
batch, each with its own fetcher seeded as the DAG's are, and match_theme's look), by type
and task from the source's request log, against the floor: with the REST API open its list
pages (every collection at per_page=100, comments included: the issue's floor counts REST
list pages, and approved comments are content) + one GET per media file + robots.txt;
closed, robots.txt + the sitemaps + one HTML GET per page and post + one GET per media
file. ``--requests-only`` prints just that.

    WPSANDBOX_HOME=var/sandbox-bench .venv/bin/python bench/scrape_vs_wget.py [--repeat 1] [--requests-only]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
# A run's content scope with the conf schema's defaults.
SCOPE = {"include_pages": True, "include_posts": True, "include_media": True, "max_depth": 5}
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "sandbox")]

from wpmigrate.scrape_rebuild.batches import plan_batches, scrape_batch_items, site_record  # noqa: E402
from wpmigrate.scrape_rebuild.comments import read_comments  # noqa: E402
from wpmigrate.scrape_rebuild.discovery import discover  # noqa: E402
from wpmigrate.scrape_rebuild.media_download import download_all  # noqa: E402
from wpmigrate.scrape_rebuild.media_url_index import MediaUrlIndex  # noqa: E402
from wpmigrate.scrape_rebuild.polite_http import DEFAULT_RATE, PoliteFetcher  # noqa: E402
from wpmigrate.scrape_rebuild.records import DiscoveredItem, MediaFile, from_dict, to_json  # noqa: E402
from wpmigrate.scrape_rebuild.theme_choice import auto_match  # noqa: E402
from wpmigrate.scrape_rebuild.theme_match import ThemeCandidate  # noqa: E402
from wpmigrate.web.source_probe import probe_source  # noqa: E402
from wpmigrate.web.url_guard import guarded_client  # noqa: E402
from wpmigrate.web.url_keys import canonical_url, dedupe_key  # noqa: E402
from wpsandbox import build  # noqa: E402
from wpsandbox.state import SandboxState  # noqa: E402

WGET_BASE = ["wget", "--recursive", "--level=5", "--page-requisites", "--no-parent", "--no-verbose",
             "-e", "robots=on", "--no-proxy"]  # --no-proxy: ours ignores env proxies too (trust_env=False)
_WGET_SAVED = re.compile(r" URL: ?\S+ \[")  # -nv: one line per saved file
_WGET_ERROR = re.compile(r"\bERROR \d{3}\b")  # -nv: one line per HTTP error answer


@dataclass
class Truth:
    """What the source publishes: page/post links and the images those pages show."""

    links: list[str]
    images: set[str]  # canonical <img src> URLs under wp-content/uploads
    variants: set[str]  # the same plus every srcset candidate


@dataclass
class Run:
    seconds: float  # wall time
    cpu: float  # our process's CPU time, or wget's (children rusage): the client's own cost
    requests: int  # as the client counts them
    pages: set[str]  # dedupe keys of published pages/posts obtained
    images: set[str]  # canonical image URLs obtained (any size variant)
    files: int
    mb: float
    phases: dict[str, float] = field(default_factory=dict)
    note: str = ""
    server_requests: int = 0  # lines the source's router.php logged meanwhile
    label: str = ""


def _uploads(url: str | None, origin: str) -> bool:
    return url is not None and url.startswith(origin + "/wp-content/uploads/")


def source_truth(state: SandboxState) -> Truth:
    """Ask the REST API (it must be open) for the published links, then each page for its images.
    Outside any timing; a plain client so the fetcher's counters stay untouched."""
    origin = state.source.url
    links: list[str] = []
    images: set[str] = set()
    variants: set[str] = set()
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        for kind in ("pages", "posts"):
            page, pages = 1, 1
            while page <= pages:
                resp = client.get(f"{origin}/wp-json/wp/v2/{kind}",
                                  params={"per_page": 100, "page": page, "_fields": "link"})
                resp.raise_for_status()
                links += [r["link"] for r in resp.json()]
                pages, page = int(resp.headers.get("x-wp-totalpages", 1)), page + 1
        for link in links:
            soup = BeautifulSoup(client.get(link).text, "lxml")
            for img in soup.find_all("img"):
                src = canonical_url(str(img.get("src") or ""), link)
                if _uploads(src, origin):
                    images.add(str(src))
                    variants.add(str(src))
                for candidate in str(img.get("srcset") or "").split(","):
                    url = canonical_url(candidate.strip().split(" ")[0], link) if candidate.strip() else None
                    if _uploads(url, origin):
                        variants.add(str(url))
    return Truth(links, images, variants)


def _log_lines(state: SandboxState) -> int:
    path = Path(state.source.request_log)
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def run_ours(state: SandboxState, truth: Truth, rate: float, work: Path) -> Run:
    """Discover, scrape every page/post and download the media, as the DAG's discover,
    scrape_batch and download_media tasks do (in one process, one thread, one batch: the
    DAG-like run below counts the requests task by task)."""
    phases: dict[str, float] = {}
    t0, cpu0 = time.perf_counter(), time.process_time()
    with guarded_client(["127.0.0.0/8"], read_only=True, timeout=30.0) as client:
        fetcher = PoliteFetcher(client, rate_per_second=rate)
        result = discover(fetcher, state.source.url + "/", **SCOPE)
        phases["discover"] = time.perf_counter() - t0
        site = json.loads(json.dumps(site_record(result, fetcher.stats()), default=str))
        done = scrape_batch_items(fetcher, result.items, site)  # REST items need no request
        scraped, refs = done.scraped, done.media_refs
        phases["scrape"] = time.perf_counter() - t0 - phases["discover"]
        # One call for all refs, as for one batch.
        downloaded = download_all(fetcher.open_stream, refs, work / "media")
        media = [r for r in downloaded if isinstance(r, MediaFile)]
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        phases["media"] = seconds - phases["discover"] - phases["scrape"]
        requests = fetcher.stats()["requests"]
    pages = {dedupe_key(r.source_url) for r in scraped} & {dedupe_key(u) for u in truth.links}
    got = {canonical_url(m.source_url, m.source_url) for m in media}
    stored = {m.sha256: m.size for m in media}  # content-addressed: one file per distinct body
    return Run(seconds, cpu, requests, pages, truth.variants & got, len(stored), sum(stored.values()) / 1e6,
               phases)


def run_wget(state: SandboxState, truth: Truth, wait: float | None, work: Path) -> Run:
    log = work / "wget.log"
    cmd = [*WGET_BASE, *([f"--wait={wait}"] if wait else []), "-o", str(log), "-P", str(work),
           state.source.url + "/"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # 4 (network) and 8 (HTTP error) name one failed URL, not a failed mirror: the sandbox
    # links an https:// URL on its plain-http port on purpose, and wget's TLS handshake fails.
    if proc.returncode not in (0, 4, 8):
        raise RuntimeError(f"wget exited {proc.returncode}; see {log}")
    text = log.read_text(errors="replace")
    requests = len(_WGET_SAVED.findall(text)) + len(_WGET_ERROR.findall(text))
    site_dir = work / urlsplit(state.source.url).netloc
    pages = {dedupe_key(link) for link in truth.links
             if any(p.is_file() for p in _wget_candidates(site_dir, link))}
    images = {url for url in truth.variants if any(p.is_file() for p in _wget_candidates(site_dir, url))}
    files = [p for p in site_dir.rglob("*") if p.is_file()]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(seconds, cpu, requests, pages, images, len(files), sum(p.stat().st_size for p in files) / 1e6,
               note=f"exit {proc.returncode}" if proc.returncode else "")


def _wget_candidates(site_dir: Path, url: str) -> list[Path]:
    """Where wget may have saved ``url``: percent-escapes kept or decoded, index.html for a
    directory URL, ``?query`` appended to the file name."""
    parts = urlsplit(url)
    out = []
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), parts.path)
    for path in {parts.path, lower, unquote(parts.path)}:
        name = path + "index.html" if path.endswith("/") else path
        out.append(site_dir / (name.lstrip("/") + (f"?{parts.query}" if parts.query else "")))
    return out


Body = Callable[[Path], Run]  # one measured approach, given a fresh work directory


def measure(label: str, state: SandboxState, base: Path, body: Body) -> Run:
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    before = _log_lines(state)
    try:
        run = body(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    time.sleep(0.3)  # router.php appends its line at request shutdown
    run.label, run.server_requests = label, _log_lines(state) - before
    return run


def ours(state: SandboxState, truth: Truth, rate: float) -> Body:
    return lambda work: run_ours(state, truth, rate, work)


def wget(state: SandboxState, truth: Truth, wait: float | None) -> Body:
    return lambda work: run_wget(state, truth, wait, work)


# ---------------------------------------------------------------------------- source requests

LOOPBACK = ["127.0.0.0/8"]
REST_COLLECTIONS = ("categories", "tags", "users", "pages", "posts", "media", "comments")
_REST_LIST = re.compile(r"^/?wp/v2/[a-z_-]+/?$")


@contextmanager
def _task_fetcher(rate: float, site: dict[str, Any] | None = None) -> Iterator[PoliteFetcher]:
    """A task's own fetcher, as the DAG's ``_fetcher(site)`` makes one per task: seeded with
    the robots.txt answers discovery kept in the site record."""
    with guarded_client(LOOPBACK, read_only=True, timeout=30.0) as client:
        yield PoliteFetcher(client, rate_per_second=rate, robots=(site or {}).get("robots"))


def run_dag_tasks(state: SandboxState, rate: float, work: Path,
                  mark: Callable[[str], None]) -> dict[str, int]:
    """The source side of one ``wp_migration_scrape_rebuild`` run, task by task as the DAG
    runs them: validate_source's probe, discover (given the probe's home page and API index),
    scrape_comments, one scrape_content and one download_media per batch (each task its own
    fetcher, seeded with discovery's robots.txt answers; items through their JSON lines),
    match_theme's look of the home page discovery kept. ``mark(task)`` after each task. No
    Airflow, no target."""
    probe = probe_source(state.source.url + "/", allowed_networks=LOOPBACK)
    home = probe["final_url"]
    mark("validate_source")
    with _task_fetcher(rate) as fetcher:
        result = discover(fetcher, home, home_page=probe["home_page"], rest_index=probe["rest_index"],
                          **SCOPE)
        site = json.loads(json.dumps(site_record(result, fetcher.stats()), default=str))
        site["robots"] = json.loads(json.dumps(fetcher.robots_rules()))
    home_page = result.home_page
    batches = [(b.label, [to_json(i) for i in b.items]) for b in plan_batches(result.items)]
    del result
    mark("discover")
    with _task_fetcher(rate, site) as fetcher:
        comments = read_comments(fetcher, site["info"], io.StringIO()).count
    mark("scrape_comments")
    refs: list[tuple[str, list[dict[str, Any]]]] = []
    scraped = 0
    for label, lines in batches:
        with _task_fetcher(rate, site) as fetcher:
            done = scrape_batch_items(fetcher, (from_dict(DiscoveredItem, json.loads(x)) for x in lines),
                                      site, label)
        scraped += len(done.scraped)
        refs.append((label, done.media_refs))
    mark("scrape_content")
    media: set[str] = set()
    for label, batch_refs in refs:  # the run's index of fetched URLs, as download_media keeps it
        index = MediaUrlIndex(work / "media-urls", label)
        with _task_fetcher(rate, site) as fetcher:
            for record in download_all(fetcher.open_stream, batch_refs, work / "media", index=index):
                media.add(record.source_url if isinstance(record, MediaFile) else record.url)
    mark("download_media")
    with _task_fetcher(rate, site) as fetcher:
        auto_match(fetcher, home, [ThemeCandidate("twentytwentythree", None, {"base": "#ffffff"})],
                   home_page=home_page)
    mark("match_theme")
    return {"items": scraped, "media_files": len(media), "comments": comments}


def request_type(uri: str) -> str:
    """What one line of the source's request log asked for."""
    path, _, query = uri.partition("?")
    params = dict(parse_qsl(query))
    if path == "/robots.txt":
        return "robots"
    if "rest_route" in params or path.startswith("/wp-json"):
        route = params.get("rest_route") or path.removeprefix("/wp-json")
        if route.strip("/") == "":
            return "rest index"
        return "rest list" if _REST_LIST.match(route) else "rest other"
    if "sitemap" in path and path.endswith((".xml", ".xml.gz")):
        return "sitemap"
    if path.startswith("/wp-content/uploads/"):
        return "media"
    if path.endswith((".css", ".js")) or path.startswith(("/wp-includes/", "/wp-content/")):
        return "asset"
    return "html"


def _log_since(state: SandboxState, line: int) -> list[dict[str, Any]]:
    with Path(state.source.request_log).open("rb") as fh:
        return [json.loads(x) for x in list(fh)[line:] if x.strip()]


def rest_list_pages(state: SandboxState) -> int:
    """REST list pages a complete listing needs: every collection at per_page=100."""
    pages = 0
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        for kind in REST_COLLECTIONS:
            resp = client.get(f"{state.source.url}/wp-json/wp/v2/{kind}",
                              params={"per_page": 1, "_fields": "id"})
            resp.raise_for_status()
            pages += -(-int(resp.headers["x-wp-total"]) // 100)
    return pages


@dataclass
class SourceRequests:
    label: str
    by_type: Counter[str]  # the scrape: discover, scrape_comments, scrape_content, download_media
    by_task: dict[str, Counter[str]]  # validate_source, discover, scrape_comments, ... match_theme
    floor: dict[str, int]
    items: int
    html_per_item: int  # HTML GETs of page/post URLs
    comments: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    @property
    def floor_total(self) -> int:
        return sum(self.floor.values())


def measure_requests(state: SandboxState, truth: Truth, rest_open: bool, rate: float, base: Path,
                     rest_pages: int) -> SourceRequests:
    """One DAG-like run's source requests (from the request log) against the floor: with the
    REST API open, its list pages + one GET per media file + robots.txt (sitemaps are not
    needed); closed, robots.txt + the sitemaps read + one HTML GET per page and post + one GET
    per media file (the HTML is then the only source of content)."""
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    marks = [("", _log_lines(state))]

    def mark(task: str) -> None:
        time.sleep(0.3)  # router.php appends its line at request shutdown
        marks.append((task, _log_lines(state)))

    try:
        done = run_dag_tasks(state, rate, work, mark)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log = _log_since(state, marks[0][1])
    by_task = {task: Counter(request_type(e["uri"]) for e in log[start - marks[0][1]:end - marks[0][1]])
               for (_, start), (task, end) in pairwise(marks)}
    by_type = (by_task["discover"] + by_task["scrape_comments"] + by_task["scrape_content"]
               + by_task["download_media"])
    sitemaps = len({e["uri"] for e in log if request_type(e["uri"]) == "sitemap" and e["status"] == 200})
    floor = ({"rest list": rest_pages, "media": done["media_files"], "robots": 1} if rest_open else
             {"robots": 1, "sitemap": sitemaps, "html": len(truth.links), "media": done["media_files"]})
    paths = {urlsplit(link).path for link in truth.links}
    html_items = sum(1 for e in log if e["uri"].partition("?")[0] in paths)
    return SourceRequests("REST open" if rest_open else "REST closed", by_type, by_task, floor,
                          done["items"], html_items, done["comments"])


def print_requests(runs: list[SourceRequests]) -> None:
    types = ["rest index", "rest list", "rest other", "robots", "sitemap", "html", "asset", "media"]
    print("\nsource requests of one DAG-like run, from the source's request log; the scrape is discover +"
          " scrape_comments + scrape_content + download_media, the run adds validate_source and match_theme:")
    print(f"{'':<26} " + " ".join(f"{t:>10}" for t in types) + f" {'total':>6} {'floor':>6} {'ratio':>6}")
    for r in runs:
        rows = [(f"{r.label}, scrape", r.by_type), *((f"  {task}", c) for task, c in r.by_task.items())]
        rows.append((f"{r.label}, whole run", sum(r.by_task.values(), Counter())))
        for name, counts in rows:
            total = sum(counts.values())
            task = name.startswith(" ")
            print(f"{name:<26} " + " ".join(f"{counts.get(t, 0):>10}" for t in types) + f" {total:>6}"
                  + ("" if task else f" {r.floor_total:>6} {total / max(r.floor_total, 1):>6.2f}"))
        print(" " * 4 + "floor: " + " + ".join(f"{v} {k}" for k, v in r.floor.items())
              + f"; {r.items} pages+posts scraped, {r.comments} approved comments read,"
              f" {r.html_per_item} HTML GETs of their URLs")


def median_run(runs: list[Run]) -> Run:
    """The run with the median time (its own counts, so columns stay consistent)."""
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[(len(ordered) - 1) // 2] if len(ordered) > 1 else ordered[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per method; the median-time run is shown")
    ap.add_argument("--fast-rate", type=float, default=1000.0, help="our rate_per_second for the cost run")
    ap.add_argument("--requests-only", action="store_true",
                    help="only the source requests of a DAG-like run (REST open and closed): no timings,"
                         " no wget")
    args = ap.parse_args()
    if not args.requests_only and not shutil.which("wget"):
        sys.exit("needs wget (scripts/setup installs it)")

    state = build.up()
    if not state.source_rest_enabled:
        state = build.set_source_rest(True, state)
    truth = source_truth(state)
    base = Path(tempfile.mkdtemp(prefix="wpm-bench-scrape-"))
    rest_pages = rest_list_pages(state)
    requests: list[SourceRequests] = []
    try:
        for rest_open in (True, False):
            if rest_open != state.source_rest_enabled:
                state = build.set_source_rest(rest_open, state)
            requests.append(measure_requests(state, truth, rest_open, args.fast_rate, base, rest_pages))
    finally:
        state = build.set_source_rest(True, state)
    if args.requests_only:
        shutil.rmtree(base, ignore_errors=True)
        print(f"source {state.source.url}: {len(truth.links)} published pages+posts")
        print_requests(requests)
        return
    polite = f"rate {DEFAULT_RATE:g}/s"
    fast = f"rate {args.fast_rate:g}/s"
    plan: list[tuple[str, bool, Body]] = [
        (f"ours {polite}", True, ours(state, truth, DEFAULT_RATE)),
        (f"ours {fast}", True, ours(state, truth, args.fast_rate)),
        ("wget --wait=0.1", True, wget(state, truth, 0.1)),
        ("wget (no wait)", True, wget(state, truth, None)),
        (f"ours {polite}, REST closed", False, ours(state, truth, DEFAULT_RATE)),
        (f"ours {fast}, REST closed", False, ours(state, truth, args.fast_rate)),
    ]
    results: dict[str, Run] = {}
    try:
        for label, rest_open, body in plan:
            if rest_open != state.source_rest_enabled:
                state = build.set_source_rest(rest_open, state)
            results[label] = median_run([measure(label, state, base, body) for _ in range(args.repeat)])
    finally:
        build.set_source_rest(True, state)
        shutil.rmtree(base, ignore_errors=True)

    n_pages, n_img, n_var = len(truth.links), len(truth.images), len(truth.variants)
    wget_version = subprocess.run(["wget", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"source {state.source.url}: {n_pages} published pages+posts, {n_img} images shown "
          f"(<img src> under uploads), {n_var} with srcset variants; {wget_version}; repeat={args.repeat}")
    print(f"{'method':<31} {'seconds':>7} {'cpu s':>6} {'req':>4} {'srv req':>7} {'pages+posts':>11} "
          f"{'img shown':>9} {'+variants':>9} {'files':>5} {'MB':>5}")
    for run in results.values():
        print(f"{run.label:<31} {run.seconds:>7.2f} {run.cpu:>6.2f} {run.requests:>4} "
              f"{run.server_requests:>7} {len(run.pages):>5}/{n_pages:<5} "
              f"{len(run.images & truth.images):>4}/{n_img:<4} {len(run.images):>4}/{n_var:<4} "
              f"{run.files:>5} {run.mb:>5.1f}")
        extra = [f"{k} {v:.2f}s" for k, v in run.phases.items()] + ([run.note] if run.note else [])
        if extra:
            print(" " * 4 + ", ".join(extra))
    print("\nratios wget / ours, as in every bench here (>1: wget takes more time, CPU or requests);"
          " coverage as counts:")
    pairs = [(f"ours {polite}", "wget --wait=0.1"), (f"ours {fast}", "wget (no wait)"),
             (f"ours {polite}, REST closed", "wget --wait=0.1"),
             (f"ours {fast}, REST closed", "wget (no wait)")]
    for a, b in pairs:
        o, w = results[a], results[b]
        print(f"  {a:<30} vs {b:<16} time x{w.seconds / o.seconds:.2f}  cpu x{w.cpu / max(o.cpu, 1e-3):.2f}"
              f"  server requests "
              f"x{w.server_requests / max(o.server_requests, 1):.2f}  pages+posts {len(o.pages)} vs "
              f"{len(w.pages)}  images shown {len(o.images & truth.images)} vs {len(w.images & truth.images)}"
              f"  (+variants {len(o.images)} vs {len(w.images)})")
    print("req: the client's count (ours fetcher.stats(); wget's -nv lines, which omit redirects); srv req:"
          " the source's request log; cpu s: the client's own CPU time (not the server's rendering).\n"
          "Coverage: ours a scraped record / media file with that source URL; wget a saved file at its path.")
    print_requests(requests)


if __name__ == "__main__":
    main()
