"""Task bodies of ``wp_migration_scrape_rebuild`` (Mode B).

Each function takes the run's typed conf (read once, at the task boundary: ``dag_support.
reported``) plus upstream results (small dicts from XCom),
calls the domain library and returns a small dict. Discovered items, scraped records,
media files and reports live in the artifact store as JSON lines; XCom carries their URIs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.types import DagRunProtocol, RuntimeTaskInstanceProtocol

from wpmigrate.core.conf_model import ScrapeRebuildConf
from wpmigrate.core.contracts import (
    CommentsImported,
    CommentsScrape,
    ContentImport,
    DiscoveryBatch,
    DryRun,
    MediaBatch,
    ReportSummary,
    ScrapedBatch,
    ScrapeRebuildSource,
    ScrapeRebuildTarget,
    SiteBuild,
    ThemeChoice,
)
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings
from wpmigrate.scrape_rebuild import (
    comments,
    comments_import,
    content_import,
    discovery,
    media_download,
    rebuild_report,
    site_rebuild,
    theme_choice,
    verify_rebuild,
)
from wpmigrate.scrape_rebuild.batches import plan_batches, scrape_batch_items, site_record
from wpmigrate.scrape_rebuild.html.extract import extract_main
from wpmigrate.scrape_rebuild.media_url_index import MediaUrlIndex
from wpmigrate.scrape_rebuild.polite_http import DEFAULT_RATE, HostRateLimiter, PoliteFetcher, RateLimiter
from wpmigrate.scrape_rebuild.records import (
    AnyRecord,
    DiscoveredItem,
    MediaFile,
    Record,
    ScrapedItem,
    Skipped,
    read_jsonl,
    write_jsonl,
)
from wpmigrate.scrape_rebuild.scrape import normalised_text
from wpmigrate.scrape_rebuild.shared_rate_limit import SharedHostRateLimiter
from wpmigrate.target.wp_rest import WordPressRestTarget
from wpmigrate.web.source_probe import probe_source
from wpmigrate.web.url_guard import guarded_client, target_client
from wpmigrate.web.url_keys import origin_of
from wpmigrate_airflow.dag_support import window_start
from wpmigrate_airflow.hooks import WordPressSiteHook
from wpmigrate_airflow.portal import artifacts_dir, fail_on_losses, publish_report, validated_source
from wpmigrate_airflow.run_outcome import failed_work_tasks, peak_rss_mb, progress_logger

log = logging.getLogger(__name__)

# A run's folder of fetched media URLs is named for its run id (which holds ':' and '+').
RUN_KEY_CHARS = 16
WORK_TASKS = ["validate_source", "wait_for_window", "provision_target", "discover", "scrape_comments",
              "scrape_content", "download_media", "match_theme", "build_site", "import_content", "verify"]
XCOM_REDIRECT_MAP = "redirect_map"
# discover reuses validate_source's home page and API index when they are this fresh (a run
# that waited for its off-peak window asks again).
PROBE_MAX_AGE = 3600.0


@contextmanager
def _fetcher(site: Mapping[str, Any] | None = None) -> Iterator[PoliteFetcher]:
    """The polite, guarded fetcher every request to the source goes through; ``site``:
    discovery's site record, whose robots.txt answers it starts from (one read per run)."""
    settings = Settings.from_env()
    local = HostRateLimiter(DEFAULT_RATE)
    limiter: RateLimiter = local
    if settings.rate_limit_redis_url:  # one limit per source host across workers and runs
        limiter = SharedHostRateLimiter.from_url(settings.rate_limit_redis_url, local.interval,
                                                 fallback=local)
    with guarded_client(settings.allowed_source_networks, read_only=True, timeout=30.0) as client:
        yield PoliteFetcher(client, robots=(site or {}).get("robots"), limiter=limiter)


@contextmanager
def _target(conf: ScrapeRebuildConf) -> Iterator[WordPressRestTarget]:
    with WordPressSiteHook(conf.target.wp_conn_id).client_for(conf.target.url) as client:
        yield WordPressRestTarget(client)


def _write(path: ObjectStoragePath, records: Iterable[AnyRecord]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        return write_jsonl(out, records)


def _read(uri: str, cls: type[Record]) -> Iterator[Record]:
    with ObjectStoragePath(uri).open("r") as stream:
        yield from read_jsonl(stream, cls)


def _read_all(uris: Iterable[str], cls: type[Record]) -> Iterator[Record]:
    return chain.from_iterable(_read(uri, cls) for uri in uris)


def _site(uri: str) -> dict[str, Any]:
    return json.loads(ObjectStoragePath(uri).read_text())


def _read_comments(uri: str) -> Iterator[comments.SourceComment]:
    with ObjectStoragePath(uri).open("r") as stream:
        yield from comments.read_jsonl(stream)


def validate_source(conf: ScrapeRebuildConf) -> ScrapeRebuildSource:
    settings = Settings.from_env()
    probe = probe_source(conf.source_url, allowed_networks=settings.allowed_source_networks,
                         allow_non_wordpress=conf.allow_non_wordpress)
    home = probe["final_url"]
    probe_path = artifacts_dir(conf, "source") / "probe.json"
    probe_path.parent.mkdir(parents=True, exist_ok=True)
    probe_path.write_text(json.dumps({"fetched_at": time.time(), "home_page": probe.get("home_page"),
                                      "rest_index": probe.get("rest_index")}))
    source: ScrapeRebuildSource = {
        "url": conf.source_url,
        "home": home,
        "old_origins": sorted({origin_of(conf.source_url), origin_of(home)}),
        "is_wordpress": probe["is_wordpress"],
        "wp_version": probe.get("wp_version"),
        "rest_api": probe.get("rest_api"),
        "site_name": probe.get("site_name"),
        "window_start": window_start(conf, settings),
        "probe_uri": str(probe_path),
    }
    return validated_source(source)


def _probe(source: ScrapeRebuildSource) -> dict[str, Any]:
    """validate_source's home page and API index, when fresh enough to stand for discover's."""
    uri = source.get("probe_uri")
    if not uri:
        return {}
    try:
        probe = json.loads(ObjectStoragePath(uri).read_text())
    except (OSError, ValueError):
        return {}
    if not 0 <= time.time() - float(probe.get("fetched_at") or 0) < PROBE_MAX_AGE:
        return {}
    return {"home_page": probe.get("home_page"), "rest_index": probe.get("rest_index")}


def provision_target(conf: ScrapeRebuildConf) -> ScrapeRebuildTarget:
    with _target(conf) as target:
        try:
            access = target.check_access()
        except MigrationError as err:
            raise MigrationError(ErrorCode.PROVISION_FAILED, f"target REST API: {err.message}",
                                 permanent=err.permanent) from err
    return {"provisioner": conf.target.provisioner, "url": conf.target.url.rstrip("/"),
            "user": access.get("slug") or access.get("name")}


def discover(conf: ScrapeRebuildConf, ti: RuntimeTaskInstanceProtocol,
             source: ScrapeRebuildSource) -> list[DiscoveryBatch]:
    """Returns the batches to scrape (the mapped tasks' input: a return value, since Airflow
    maps only over return values); site facts and counts go to their own XCom keys."""
    scope = conf.content_scope
    out = artifacts_dir(conf, "discovery")
    with _fetcher() as fetcher:
        result = discovery.discover(
            fetcher, source["home"], include_pages=scope.include_pages, include_posts=scope.include_posts,
            include_media=scope.include_media, max_depth=scope.max_depth, **_probe(source))
        requests = fetcher.stats()
        robots = fetcher.robots_rules()
    batches: list[DiscoveryBatch] = []
    for batch in plan_batches(result.items):
        path = out / f"{batch.name}.jsonl"
        _write(path, batch.items)
        batches.append({"label": batch.label, "kind": batch.kind, "uri": str(path),
                        "count": len(batch.items)})
    site_path = out / "site.json"
    record = site_record(result, requests)
    record["robots"] = robots  # the later tasks' fetchers start from it: robots.txt read once
    if result.home_page:  # match_theme's look: the home page is not asked again
        home_path = out / "home.json"
        home_path.write_text(json.dumps(result.home_page))
        record["home_page_uri"] = str(home_path)
    site_path.write_text(json.dumps(record, default=str))
    _write(out / "skipped.jsonl", result.skipped)
    log.info("discovered %s (%d batches, %d requests)", result.counts, len(batches), requests["requests"])
    ti.xcom_push(key="site", value=str(site_path))
    ti.xcom_push(key="counts", value=result.counts)
    ti.xcom_push(key="counts_by_via", value=result.counts_by_via)
    ti.xcom_push(key="limits", value=result.limits)
    return batches


def scrape_comments(conf: ScrapeRebuildConf, source: ScrapeRebuildSource, site_uri: str) -> CommentsScrape:
    """The source's approved comments, streamed from its REST API to ``comments.jsonl``."""
    scope = conf.content_scope
    out = artifacts_dir(conf, "comments")
    out.mkdir(parents=True, exist_ok=True)
    path, skipped_path = out / "comments.jsonl", out / "skipped.jsonl"
    wanted = scope.include_comments and (scope.include_pages or scope.include_posts)
    requests = 0
    with path.open("w") as stream:
        if wanted:
            site = _site(site_uri)
            with _fetcher(site) as fetcher:
                done = comments.read_comments(fetcher, site["info"], stream)
                requests = fetcher.request_count
        else:
            done = comments.CommentsRead()
    _write(skipped_path, [done.skipped] if done.skipped else [])
    note = None  # off by the conf: nothing to report
    if done.skipped:
        note = f"approved comments not read: {done.skipped.detail}"
        log.warning("%s (%s)", note, done.skipped.url)
    log.info("%d approved comments on %d posts (%d requests)", done.count, len(done.posts), requests)
    return {"comments_uri": str(path), "skipped_uri": str(skipped_path),
            "read": bool(wanted and not done.skipped), "count": done.count, "posts": len(done.posts),
            "note": note, "requests": requests}


def scrape_batch(conf: ScrapeRebuildConf, source: ScrapeRebuildSource, site_uri: str,
                 batch: DiscoveryBatch) -> ScrapedBatch:
    name = batch["uri"].rsplit("/", 1)[-1].removesuffix(".jsonl")
    out = artifacts_dir(conf, "scraped")
    site = _site(site_uri)
    with _fetcher(site) as fetcher:
        done = scrape_batch_items(fetcher, _read(batch["uri"], DiscoveredItem), site, batch["label"])
    scraped_path = out / f"{name}.jsonl"
    refs_path = out / f"{name}.media.json"
    _write(scraped_path, done.scraped)
    refs_path.write_text(json.dumps(done.media_refs))
    skipped_path = out / f"{name}.skipped.jsonl"
    _write(skipped_path, done.skipped)
    return {"label": batch["label"], "kind": batch["kind"], "scraped_uri": str(scraped_path),
            "media_refs_uri": str(refs_path), "skipped_uri": str(skipped_path),
            "count": len(done.scraped), "pages": sum(r.kind == "page" for r in done.scraped),
            "posts": sum(r.kind == "post" for r in done.scraped), "media_refs": len(done.media_refs),
            "skipped": len(done.skipped)}


def download_media(conf: ScrapeRebuildConf, source: ScrapeRebuildSource, scraped: ScrapedBatch,
                   site_uri: str | None = None, run_id: str | None = None) -> MediaBatch:
    """``run_id``: the DAG run's; the run's batches share one index of fetched URLs, so a file
    two batches show is fetched once (``media_url_index``)."""
    refs = json.loads(ObjectStoragePath(scraped["media_refs_uri"]).read_text())
    store = artifacts_dir(conf, "media")
    name = scraped["scraped_uri"].rsplit("/", 1)[-1].removesuffix(".jsonl")
    index = None
    if run_id is not None:
        run_key = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:RUN_KEY_CHARS]
        index = MediaUrlIndex(artifacts_dir(conf, "media-urls", run_key), batch=name)
    files: list[MediaFile] = []
    skipped: list[Skipped] = []
    with _fetcher(_site(site_uri) if site_uri else None) as fetcher:
        for record in media_download.download_all(fetcher.open_stream, refs, store, index=index,
                                                  progress=progress_logger("download_media")):
            if isinstance(record, MediaFile):
                files.append(record)
            else:
                skipped.append(record)
    path = artifacts_dir(conf, "media-index") / f"{name}.jsonl"
    _write(path, files)
    skipped_path = artifacts_dir(conf, "media-index") / f"{name}.skipped.jsonl"
    _write(skipped_path, skipped)
    return {"label": scraped["label"], "media_uri": str(path), "skipped_uri": str(skipped_path),
            "count": len(files), "bytes": sum(f.size for f in files), "skipped": len(skipped),
            "peak_rss_mb": peak_rss_mb()}


def match_theme(conf: ScrapeRebuildConf, source: ScrapeRebuildSource,
                target: ScrapeRebuildTarget, site_uri: str | None = None) -> ThemeChoice:
    with _target(conf) as wp:
        # Reading an inactive theme's styles means activating it for a moment: a dry run
        # writes nothing, so it chooses among the active theme's looks only.
        candidates = site_rebuild.target_theme_candidates(wp, probe_inactive=not conf.dry_run)
    if conf.theme_preference == "select_theme":
        assert conf.selected_theme is not None, "the schema requires it with select_theme"
        return theme_choice.select_theme(conf.selected_theme, candidates)
    site = _site(site_uri) if site_uri else {}
    home_uri = site.get("home_page_uri")
    home_page = json.loads(ObjectStoragePath(home_uri).read_text()) if home_uri else None
    with _fetcher(site) as fetcher:
        choice = theme_choice.auto_match(fetcher, source["home"], candidates, home_page=home_page)
    log.info("theme: %s (confidence %s)", choice["label"], choice["confidence"])
    return choice


def build_site(conf: ScrapeRebuildConf, site_uri: str, target: ScrapeRebuildTarget,
               theme: ThemeChoice) -> SiteBuild | DryRun:
    if conf.dry_run:
        return {"dry_run": True}
    info = _site(site_uri)["info"]
    with _target(conf) as wp:
        return site_rebuild.build_site(wp, title=info.get("name") or "",
                                       tagline=info.get("description") or "",
                                       theme=theme["theme"], variation=theme.get("variation"),
                                       permalink_structure=(info.get("permalinks") or {}).get("structure"))


def import_content(conf: ScrapeRebuildConf, source: ScrapeRebuildSource, site_uri: str,
                   target: ScrapeRebuildTarget, scraped: list[ScrapedBatch],
                   media: list[MediaBatch], source_comments: CommentsScrape | None = None
                   ) -> ContentImport | DryRun:
    if conf.dry_run:
        return {"dry_run": True}
    site = _site(site_uri)
    scraped_uris = [s["scraped_uri"] for s in scraped]
    media_uris = [m["media_uri"] for m in media]
    with _target(conf) as wp:
        result = content_import.import_content(
            wp, lambda: _read_all(scraped_uris, ScrapedItem), _read_all(media_uris, MediaFile),
            open_media=lambda f: ObjectStoragePath(f.artifact_uri).read_bytes(),
            source_home=source["home"], target_home=target["url"])
        menu = site_rebuild.ensure_menu(
            wp, site.get("menu") or [], result.url_map,
            rewrite_text=content_import.origin_text_rewriter(source["old_origins"], target["url"]))
        reports = artifacts_dir(conf, "reports")
        reports.mkdir(parents=True, exist_ok=True)
        imported_comments = None
        if source_comments and source_comments["count"]:  # after every page and post exists
            imported_comments = _import_comments(wp, source_comments["comments_uri"], source, target,
                                                 scraped_uris, result, reports)
    media_urls = {k: v["url"] for k, v in result.media_map.items()}
    entries = content_import.redirect_map(result.url_map, media_urls)
    redirects = reports / "redirect-map.json"
    with redirects.open("w") as out:
        content_import.write_redirect_map(out, entries, "json")
    with (reports / "redirect-map.csv").open("w") as out:  # the same map for a CSV loader
        content_import.write_redirect_map(out, entries, "csv")
    url_map = reports / "url-map.json"
    url_map.write_text(json.dumps({"pages_and_posts": result.url_map, "media": media_urls,
                                   "refused_media": result.refused_media,
                                   "refused_items": result.refused_items}))
    for source_url, refused in result.refused_items.items():
        # The task succeeds so that verify reports every loss; the run fails there.
        log.warning("not imported: %s: %s", source_url, content_import.describe_refusal(refused))
    done: ContentImport = {
        "redirect_map_uri": str(redirects), "url_map_uri": str(url_map), "counts": result.counts,
        "refused_media": len(result.refused_media), "refused_items": len(result.refused_items),
        "warnings": result.warnings[:50], "menu": menu, "peak_rss_mb": peak_rss_mb()}
    if imported_comments is not None:
        done["comments"] = imported_comments
    return done


def _import_comments(wp: WordPressRestTarget, uri: str, source: ScrapeRebuildSource,
                     target: ScrapeRebuildTarget, scraped_uris: list[str],
                     result: content_import.ImportResult, reports: ObjectStoragePath) -> CommentsImported:
    """The comments onto the posts the content import made (streamed twice: the posts they
    need, then the comments); ``comments-map.json`` is what verify checks them against."""
    wanted = comments_import.commented_posts(_read_comments(uri))
    collections: dict[int, str] = {}  # target post -> pages/posts: to open a closed one for its comments
    posts = comments_import.target_posts(wp, _read_all(scraped_uris, ScrapedItem), wanted, result.url_map,
                                         collections)
    done = comments_import.import_comments(
        wp, lambda: _read_comments(uri), post_ids=posts, source_home=source["home"],
        target_home=target["url"], url_map=result.url_map, media_map=result.media_map,
        collections=collections)
    for warning in done.warnings[:50]:
        log.warning("comments: %s", warning)
    path = reports / "comments-map.json"
    path.write_text(json.dumps(done.to_dict()))
    return {"comments_map_uri": str(path), "created": done.created, "unchanged": done.unchanged,
            "refused": len(done.refused), "not_migrated": len(done.not_migrated)}


def verify(conf: ScrapeRebuildConf, ti: RuntimeTaskInstanceProtocol, source: ScrapeRebuildSource,
           site_uri: str, target: ScrapeRebuildTarget, scraped: list[ScrapedBatch], media: list[MediaBatch],
           imported: ContentImport | DryRun, theme: ThemeChoice,
           source_comments: CommentsScrape | None = None) -> ReportSummary:
    skipped_uris = [str(artifacts_dir(conf, "discovery") / "skipped.jsonl"),
                    *(s["skipped_uri"] for s in scraped), *(m["skipped_uri"] for m in media),
                    *([source_comments["skipped_uri"]] if source_comments else [])]
    skipped = [asdict(s) for s in _read_all(skipped_uris, Skipped)]
    discovery_summary = rebuild_report.discovery_summary(_site(site_uri), skipped)
    if "url_map_uri" not in imported:  # a dry run imported nothing
        report = rebuild_report.dry_run_report(discovery_summary)
        stats = rebuild_report.rebuild_stats(scraped, media)
    else:
        maps = json.loads(ObjectStoragePath(imported["url_map_uri"]).read_text())
        comments_check: dict[str, Any] = {}
        if source_comments and source_comments["read"]:
            mapped = imported.get("comments")
            comments_check = {
                "comments": _read_comments(source_comments["comments_uri"]),
                "comments_map": json.loads(ObjectStoragePath(mapped["comments_map_uri"]).read_text())
                if mapped else {}}
        elif source_comments and source_comments["note"]:
            comments_check = {"comments_note": source_comments["note"]}
        # The target's origin is reached whatever its address; a redirect off it is guarded.
        with target_client(target["url"], Settings.from_env().allowed_source_networks, timeout=30.0,
                           follow_redirects=False) as client:
            report = verify_rebuild.verify_rebuild(
                client=client, scraped=_read_all([s["scraped_uri"] for s in scraped], ScrapedItem),
                url_map=maps["pages_and_posts"], media=_read_all([m["media_uri"] for m in media], MediaFile),
                media_url_map=maps["media"], source_origins=source["old_origins"],
                extract=extract_main, normalise=normalised_text, discovery=discovery_summary,
                expected_text=content_import.origin_text_rewriter(source["old_origins"], target["url"]),
                refused_media=maps.get("refused_media"), refused_items=maps.get("refused_items"),
                site_name=_site(site_uri)["info"].get("name"), target_home=target["url"],
                source_is_wordpress=source["is_wordpress"],
                **comments_check)
        stats = rebuild_report.rebuild_stats(scraped, media, report.get("media_bytes", 0),
                                              report["counts"].get("media_expected"))
    rebuild_report.add_theme(report, theme)
    report.update({"migration_id": conf.migration_id, "stats": stats,
                   "source": {"url": source["url"]}, "target": {"url": target["url"]},
                   "generated_at": datetime.now(UTC).isoformat()})
    summary = publish_report(conf, ti, report, stats, skipped=len(skipped))
    if "redirect_map_uri" in imported:
        ti.xcom_push(key=XCOM_REDIRECT_MAP, value=imported["redirect_map_uri"])
    fail_on_losses(summary, report.get("losses_total", len(report["losses"])))
    return summary


def cleanup(conf: ScrapeRebuildConf, ti: RuntimeTaskInstanceProtocol,
            dag_run: DagRunProtocol) -> dict[str, Any]:
    """Mode B leaves nothing half-written on the target to drop (every write is an
    idempotent REST call a retry completes); the teardown reports the run's outcome."""
    failed = failed_work_tasks(ti, dag_run, WORK_TASKS)
    if failed:
        raise AirflowFailException(f"the migration did not complete (failed: {failed})")
    return {"failed": []}
