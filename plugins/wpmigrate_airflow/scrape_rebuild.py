"""Task bodies of ``wp_migration_scrape_rebuild`` (Mode B).

Each function takes the validated conf plus upstream results (small dicts from XCom),
calls the domain library and returns a small dict. Discovered items, scraped records,
media files and reports live in the artifact store as JSON lines; XCom carries their URIs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from bs4 import BeautifulSoup

from wpmigrate.core.conf import SCRAPE_REBUILD, validate_conf
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.report_html import render_report_html
from wpmigrate.core.schedule_window import earliest_start
from wpmigrate.core.settings import Settings
from wpmigrate.scrape_rebuild import content_import, discovery, media_download, site_rebuild, verify_rebuild
from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.polite_http import PoliteFetcher, SkipUrl
from wpmigrate.scrape_rebuild.records import (
    DiscoveredItem,
    MediaFile,
    ScrapedItem,
    Skipped,
    Term,
    read_jsonl,
    write_jsonl,
)
from wpmigrate.scrape_rebuild.scrape import normalised_text, scrape_item
from wpmigrate.scrape_rebuild.theme_match import extract_look
from wpmigrate.scrape_rebuild.theme_match import match_theme as pick_theme
from wpmigrate.scrape_rebuild.wp_rest_target import WordPressRestTarget
from wpmigrate.web.source_probe import probe_source
from wpmigrate.web.url_guard import guarded_client
from wpmigrate.web.url_keys import origin_of
from wpmigrate_airflow.hooks import WordPressSiteHook
from wpmigrate_airflow.portal import XCOM_REPORT, XCOM_STATS, artifacts_dir
from wpmigrate_airflow.run_outcome import failed_work_tasks, peak_rss_mb, progress_logger

log = logging.getLogger(__name__)

WORK_TASKS = ["validate_source", "wait_for_window", "provision_target", "discover", "scrape_content",
              "download_media", "match_theme", "build_site", "import_content", "verify"]
XCOM_REDIRECT_MAP = "redirect_map"
# Items per mapped scrape task: small enough that a retry repeats little, large enough
# that a 1,000-page site stays far below Airflow's max_map_length (1024).
BATCH_SIZE = 40
MAX_STYLESHEETS = 6


def _conf(params: dict[str, Any]) -> dict[str, Any]:
    return validate_conf(SCRAPE_REBUILD, dict(params))


@contextmanager
def _fetcher() -> Iterator[PoliteFetcher]:
    """The polite, guarded fetcher every request to the source goes through."""
    settings = Settings.from_env()
    with guarded_client(settings.allowed_source_networks, read_only=True, timeout=30.0) as client:
        yield PoliteFetcher(client)


@contextmanager
def _target(conf: dict[str, Any]) -> Iterator[WordPressRestTarget]:
    target = conf["target"]
    with WordPressSiteHook(target["wp_conn_id"]).client_for(target["url"]) as client:
        yield WordPressRestTarget(client)


def _write(path: ObjectStoragePath, records: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        return write_jsonl(out, records)


def _read(uri: str, cls: type) -> Iterator[Any]:
    with ObjectStoragePath(uri).open("r") as stream:
        yield from read_jsonl(stream, cls)


def validate_source(params: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    settings = Settings.from_env()
    probe = probe_source(conf["source_url"], allowed_networks=settings.allowed_source_networks,
                         allow_non_wordpress=conf["allow_non_wordpress"])
    home = probe["final_url"]
    start = earliest_start(conf["schedule"], datetime.now(UTC), settings.off_peak_window,
                           settings.off_peak_timezone)
    source = {
        "url": conf["source_url"],
        "home": home,
        "old_origins": sorted({origin_of(conf["source_url"]), origin_of(home)}),
        "is_wordpress": probe["is_wordpress"],
        "wp_version": probe.get("wp_version"),
        "rest_api": probe.get("rest_api"),
        "site_name": probe.get("site_name"),
        "window_start": start.isoformat(),
    }
    log.info("source validated: %s", json.dumps(source))
    return source


def provision_target(params: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    with _target(conf) as target:
        try:
            access = target.check_access()
        except MigrationError as err:
            raise MigrationError(ErrorCode.PROVISION_FAILED, f"target REST API: {err.message}",
                                 permanent=err.permanent) from err
    return {"provisioner": conf["target"]["provisioner"], "url": conf["target"]["url"].rstrip("/"),
            "user": access.get("slug") or access.get("name")}


def discover(params: dict[str, Any], ti: Any, source: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns the batches to scrape (the mapped tasks' input: a return value, since Airflow
    maps only over return values); site facts and counts go to their own XCom keys."""
    conf = _conf(params)
    scope = conf["content_scope"]
    out = artifacts_dir(conf, "discovery")
    with _fetcher() as fetcher:
        result = discovery.discover(
            fetcher, source["home"],
            include_pages=scope.get("include_pages", True), include_posts=scope.get("include_posts", True),
            include_media=scope.get("include_media", True), max_depth=scope.get("max_depth", 5))
        requests = fetcher.stats()
    items = result.items
    batches = []
    # "unknown": crawled pages without WordPress markers; the scraper makes them pages.
    for kind, label_kind in (("page", "pages"), ("post", "posts"), ("unknown", "other pages"),
                             ("media", "media")):
        of_kind = [i for i in items if i.kind == kind]
        for start in range(0, len(of_kind), BATCH_SIZE):
            chunk = of_kind[start:start + BATCH_SIZE]
            path = out / f"batch-{kind}-{start // BATCH_SIZE + 1:04d}.jsonl"
            _write(path, chunk)
            label = f"{label_kind} {start + 1}-{start + len(chunk)}"
            batches.append({"label": label, "kind": kind, "uri": str(path), "count": len(chunk)})
    site = {
        "info": result.site,
        "terms": [asdict(t) for t in result.terms],
        "menu": result.menu,
        "lookups": result.lookups,
        "limits": result.limits,
        "notes": result.notes,
        "counts": result.counts,
        "counts_by_via": result.counts_by_via,
        "crawl_filtered": result.crawl_filtered,
        "requests": requests,
    }
    site_path = out / "site.json"
    site_path.write_text(json.dumps(site, default=str))
    _write(out / "skipped.jsonl", result.skipped)
    log.info("discovered %s (%d batches, %d requests)", result.counts, len(batches), requests["requests"])
    ti.xcom_push(key="site", value=str(site_path))
    ti.xcom_push(key="counts", value=result.counts)
    ti.xcom_push(key="counts_by_via", value=result.counts_by_via)
    ti.xcom_push(key="limits", value=result.limits)
    return batches


def _site(uri: str) -> dict[str, Any]:
    return json.loads(ObjectStoragePath(uri).read_text())


def scrape_batch(params: dict[str, Any], source: dict[str, Any], site_uri: str,
                 batch: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    site = _site(site_uri)
    lookups = site.get("lookups") or {}
    name = batch["uri"].rsplit("/", 1)[-1].removesuffix(".jsonl")
    out = artifacts_dir(conf, "scraped")
    scraped: list[ScrapedItem] = []
    media_refs: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    with _fetcher() as fetcher:
        for item in _read(batch["uri"], DiscoveredItem):
            if item.kind == "media":
                rest = item.rest or {}
                media_refs.append({"url": item.url, "source_id": item.source_id,
                                   "alt": rest.get("alt_text", ""),
                                   "title": (rest.get("title") or {}).get("rendered", ""),
                                   "caption": (rest.get("caption") or {}).get("rendered", "")})
                continue
            try:
                page = fetcher.get(item.url, content_types=("text/html",))
            except SkipUrl as skip:
                skipped.append(skip.skipped)
                continue
            if page.status_code != 200:
                skipped.append(Skipped(item.url, "http_status", f"HTTP {page.status_code}"))
                continue
            record = scrape_item(item, page.text, **_lookups(lookups))
            scraped.append(record)
            if len(scraped) % 10 == 0:
                log.info("scrape_content progress: %d items of %s", len(scraped), batch["label"])
            media_refs.extend({"url": url} for url in record.media_urls)
    scraped_path = out / f"{name}.jsonl"
    refs_path = out / f"{name}.media.json"
    _write(scraped_path, scraped)
    refs_path.write_text(json.dumps(media_refs))
    skipped_path = out / f"{name}.skipped.jsonl"
    _write(skipped_path, skipped)
    return {"label": batch["label"], "kind": batch["kind"], "scraped_uri": str(scraped_path),
            "media_refs_uri": str(refs_path), "skipped_uri": str(skipped_path),
            "count": len(scraped), "pages": sum(r.kind == "page" for r in scraped),
            "posts": sum(r.kind == "post" for r in scraped), "media_refs": len(media_refs),
            "skipped": len(skipped)}


def _lookups(lookups: dict[str, Any]) -> dict[str, Any]:
    def ids(mapping: dict[str, Any] | None) -> dict[int, Any]:
        return {int(k): v for k, v in (mapping or {}).items()}

    return {
        "terms_by_id": {k: Term(**v) for k, v in ids(lookups.get("terms_by_id")).items()},
        "media_by_id": ids(lookups.get("media_by_id")),
        "authors_by_id": ids(lookups.get("authors_by_id")),
        "page_url_by_id": ids(lookups.get("page_url_by_id")),
    }


def download_media(params: dict[str, Any], source: dict[str, Any], scraped: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    refs = json.loads(ObjectStoragePath(scraped["media_refs_uri"]).read_text())
    store = artifacts_dir(conf, "media")
    name = scraped["scraped_uri"].rsplit("/", 1)[-1].removesuffix(".jsonl")
    files: list[MediaFile] = []
    skipped: list[Skipped] = []
    with _fetcher() as fetcher:
        for record in media_download.download_all(fetcher.open_stream, refs, store,
                                                  progress=progress_logger("download_media")):
            (files if isinstance(record, MediaFile) else skipped).append(record)
    path = artifacts_dir(conf, "media-index") / f"{name}.jsonl"
    _write(path, files)
    skipped_path = artifacts_dir(conf, "media-index") / f"{name}.skipped.jsonl"
    _write(skipped_path, skipped)
    return {"label": scraped["label"], "media_uri": str(path), "skipped_uri": str(skipped_path),
            "count": len(files), "bytes": sum(f.size for f in files), "skipped": len(skipped),
            "peak_rss_mb": peak_rss_mb()}


def match_theme(params: dict[str, Any], source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    with _target(conf) as wp:
        # Reading an inactive theme's styles means activating it for a moment: a dry run
        # writes nothing, so it chooses among the active theme's looks only.
        candidates = site_rebuild.target_theme_candidates(wp, probe_inactive=not conf["dry_run"])
    if conf["theme_preference"] == "select_theme":
        theme, _, variation = conf["selected_theme"].partition("/")
        chosen = [c for c in candidates if c.theme == theme and (c.variation or "") == variation]
        if not chosen:
            offered = sorted(c.label for c in candidates)
            raise MigrationError(ErrorCode.INVALID_CONF,
                                 f"selected_theme {conf['selected_theme']!r} is not on the target; "
                                 f"it offers {offered}")
        return {"theme": theme, "variation": variation or None, "label": chosen[0].label,
                "confidence": 1.0, "by": "select_theme"}
    with _fetcher() as fetcher:
        home = fetcher.get(source["home"], content_types=("text/html",))
        css = list(_stylesheets(fetcher, home.text, home.url))
    look = extract_look(home.text, css)
    choice = pick_theme(look, candidates)
    choice["look"] = look.to_dict()
    log.info("theme: %s (confidence %s)", choice["label"], choice["confidence"])
    return choice


def _stylesheets(fetcher: PoliteFetcher, html: str, base: str) -> Iterator[str]:
    links = BeautifulSoup(html, "html.parser").select('link[rel~="stylesheet"][href]')
    for link in links[:MAX_STYLESHEETS]:
        try:
            sheet = fetcher.get(urljoin(base, str(link["href"])), max_bytes=2 * 1024 * 1024,
                                content_types=("text/css",))
        except (SkipUrl, MigrationError):
            continue
        if sheet.status_code == 200:
            yield sheet.text


def build_site(params: dict[str, Any], site_uri: str, target: dict[str, Any],
               theme: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    if conf["dry_run"]:
        return {"dry_run": True}
    info = _site(site_uri)["info"]
    with _target(conf) as wp:
        return site_rebuild.build_site(wp, title=info.get("name") or "",
                                       tagline=info.get("description") or "",
                                       theme=theme["theme"], variation=theme.get("variation"))


def _iter_all(uris: list[str], cls: type) -> Iterator[Any]:
    for uri in uris:
        yield from _read(uri, cls)


def import_content(params: dict[str, Any], source: dict[str, Any], site_uri: str, target: dict[str, Any],
                   scraped: list[dict[str, Any]], media: list[dict[str, Any]]) -> dict[str, Any]:
    conf = _conf(params)
    if conf["dry_run"]:
        return {"dry_run": True}
    site = _site(site_uri)
    scraped_uris = [s["scraped_uri"] for s in scraped]
    media_uris = [m["media_uri"] for m in media]
    with _target(conf) as wp:
        result = content_import.import_content(
            wp, lambda: _iter_all(scraped_uris, ScrapedItem), _iter_all(media_uris, MediaFile),
            open_media=lambda f: ObjectStoragePath(f.artifact_uri).read_bytes(),
            source_home=source["home"], target_home=target["url"])
        menu = site_rebuild.ensure_menu(wp, site.get("menu") or [], result.url_map)
    reports = artifacts_dir(conf, "reports")
    reports.mkdir(parents=True, exist_ok=True)
    entries = content_import.redirect_map(result.url_map,
                                          {k: v["url"] for k, v in result.media_map.items()})
    redirects = reports / "redirect-map.json"
    with redirects.open("w") as out:
        content_import.write_redirect_map(out, entries, "json")
    with (reports / "redirect-map.csv").open("w") as out:  # the same map for a CSV loader
        content_import.write_redirect_map(out, entries, "csv")
    url_map = reports / "url-map.json"
    url_map.write_text(json.dumps({"pages_and_posts": result.url_map,
                                   "media": {k: v["url"] for k, v in result.media_map.items()},
                                   "refused_media": result.refused_media}))
    return {"redirect_map_uri": str(redirects), "url_map_uri": str(url_map), "counts": result.counts,
            "refused_media": len(result.refused_media),
            "warnings": result.warnings[:50], "menu": menu, "peak_rss_mb": peak_rss_mb()}


def verify(params: dict[str, Any], ti: Any, source: dict[str, Any], site_uri: str,
           target: dict[str, Any], scraped: list[dict[str, Any]], media: list[dict[str, Any]],
           imported: dict[str, Any], theme: dict[str, Any]) -> dict[str, Any]:
    conf = _conf(params)
    site = _site(site_uri)
    reports = artifacts_dir(conf, "reports")
    reports.mkdir(parents=True, exist_ok=True)
    skipped_uris = [str(artifacts_dir(conf, "discovery") / "skipped.jsonl"),
                    *(s["skipped_uri"] for s in scraped), *(m["skipped_uri"] for m in media)]
    skipped = [asdict(s) for s in _iter_all(skipped_uris, Skipped)]
    discovery_summary = {"skipped": skipped, "limits": site.get("limits") or {},
                         "notes": site.get("notes") or [], "counts": site.get("counts") or {}}
    if conf["dry_run"]:
        report = {"ok": True, "dry_run": True, "mode": "scrape_rebuild", "losses": [],
                  "sections": {}, **discovery_summary}
        stats = _stats(scraped, media, 0, None)
    else:
        maps = json.loads(ObjectStoragePath(imported["url_map_uri"]).read_text())
        with httpx.Client(timeout=30.0) as client:
            report = verify_rebuild.verify_rebuild(
                client=client, scraped=_iter_all([s["scraped_uri"] for s in scraped], ScrapedItem),
                url_map=maps["pages_and_posts"], media=_iter_all([m["media_uri"] for m in media], MediaFile),
                media_url_map=maps["media"], source_origins=source["old_origins"],
                extract=extract_main, normalise=normalised_text, discovery=discovery_summary,
                expected_text=content_import.origin_text_rewriter(source["old_origins"], target["url"]),
                refused_media=maps.get("refused_media"))
        stats = _stats(scraped, media, report.get("media_bytes", 0), report["counts"].get("media_expected"))
    report["theme"] = {k: theme.get(k) for k in ("label", "theme", "variation", "confidence", "by",
                                                 "ranking", "look")}
    report.setdefault("sections", {})["theme"] = {
        "title": "Theme", "status": "pass", "checked": len(theme.get("ranking") or []) or 1,
        "problem_count": 0,
        "notes": [f"{theme.get('label')}: confidence {theme.get('confidence')} ({theme.get('by')})"]
        + [f"candidate {r['label']}: distance {r['distance']}" for r in theme.get("ranking") or []]}
    report.update({"migration_id": conf["migration_id"], "stats": stats,
                   "source": {"url": source["url"]}, "target": {"url": target["url"]},
                   "generated_at": datetime.now(UTC).isoformat()})
    (reports / "verification.json").write_text(json.dumps(report, default=str, indent=1))
    (reports / "verification.html").write_text(render_report_html(report))
    summary = {"ok": report["ok"], "json_uri": str(reports / "verification.json"),
               "html_uri": str(reports / "verification.html"), "losses": report.get("losses", [])[:20],
               "skipped": len(skipped)}
    ti.xcom_push(key=XCOM_STATS, value=stats)
    ti.xcom_push(key=XCOM_REPORT, value=summary)
    if imported.get("redirect_map_uri"):
        ti.xcom_push(key=XCOM_REDIRECT_MAP, value=imported["redirect_map_uri"])
    if not report["ok"]:
        raise MigrationError(ErrorCode.VERIFICATION_FAILED,
                             f"verification found {report.get('losses_total', len(report['losses']))} "
                             f"problem(s); see {summary['html_uri']}", details={"losses": summary["losses"]})
    return summary


def _stats(scraped: list[dict[str, Any]], media: list[dict[str, Any]], media_bytes: int,
           unique_media: int | None) -> dict[str, Any]:
    """The seed's stats; Mode B migrates no users or plugins (seed 000, Mode B worker)."""
    pages = sum(s.get("pages", 0) for s in scraped)
    posts = sum(s.get("posts", 0) for s in scraped)
    # Batches may download the same file; verification counts each source URL once.
    files = unique_media if unique_media is not None else sum(m["count"] for m in media)
    size = media_bytes or sum(m.get("bytes", 0) for m in media)
    return {"pagesCount": pages, "postsCount": posts, "mediaCount": files, "usersCount": 0,
            "pluginsCount": 0, "totalSizeMb": round(size / 1e6, 2)}


def cleanup(params: dict[str, Any], ti: Any, dag_run: Any) -> dict[str, Any]:
    """Mode B leaves nothing half-written on the target to drop (every write is an
    idempotent REST call a retry completes); the teardown reports the run's outcome."""
    failed = failed_work_tasks(ti, dag_run, WORK_TASKS)
    if failed:
        raise AirflowFailException(f"the migration did not complete (failed: {failed})")
    return {"failed": []}
