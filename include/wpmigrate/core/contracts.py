"""What tasks hand each other through XCom: one TypedDict per task result.

They are plain JSON dicts at run time (XCom serialises them as such); the types only name
the keys a downstream task may rely on. Keys are part of the public interface (the portal
reads ``validate_source``/``provision_target``/``verify`` results, docs/portal-contract.md):
add keys, do not rename them. Bulk data never travels here, only artifact URIs and counts.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, final

# --- both modes ---------------------------------------------------------------------------


class MigrationStats(TypedDict):
    """XCom ``stats`` of ``verify``: the seed's MigrationStats (camelCase on purpose)."""

    pagesCount: int
    postsCount: int
    mediaCount: int
    usersCount: int
    pluginsCount: int
    totalSizeMb: float


class ReportSummary(TypedDict):
    """XCom ``report`` and the return value of ``verify``: where the full report is."""

    ok: bool
    json_uri: str
    html_uri: str
    losses: list[dict[str, Any]]  # the first 20
    dry_run: NotRequired[bool]
    skipped: NotRequired[int]  # Mode B: what discovery and scraping left out


@final  # no other keys: ``"key" in result`` tells a real result from it
class DryRun(TypedDict):
    """What a writing task returns in a dry run, instead of its result."""

    dry_run: Literal[True]


# --- Mode A: full access ------------------------------------------------------------------


class FullAccessSource(TypedDict):
    url: str
    wp_root: str
    wp_content_dir: str
    table_prefix: str
    siteurl: str
    home: str
    old_origins: list[str]  # every origin the site was reachable at, for rewriting
    db_size_mb: float
    wp_version: str | None
    window_start: str  # ISO 8601: when wait_for_window lets the run go on


class FullAccessTarget(TypedDict):
    provisioner: str
    url: str
    table_prefix: str
    siteurl: str
    home: str
    wp_content_uri: str
    wp_root: str | None  # a local target's ABSPATH (path rewriting), None on object storage


class SourceRelease(TypedDict):
    """``release_source`` (and the cleanup's ``source_release`` XCom): what the migration
    left on the source. Only the wp_admin route installs something (the companion plugin)."""

    route: str
    companion: Literal["not_used", "removed", "absent", "left_installed", "manual"]
    removed: bool  # nothing of ours is left on the source
    error: NotRequired[str]
    action_needed: NotRequired[str]  # what the operator must do by hand


class DatabaseExport(TypedDict):
    manifest_uri: str
    dir_uri: str
    tables: int
    rows: int
    bytes: int
    peak_rss_mb: float


class FilesExport(TypedDict):
    """``dir_uri`` plus the exporter's summary (files, bytes, resumed/transferred counts,
    skips; see ``full_access.files.exporter.export_files``)."""

    dir_uri: str
    files: int
    bytes: int
    peak_rss_mb: float


class DatabaseImport(TypedDict):
    report_uri: str
    rows: int | None
    unparseable: int | None
    # Of those, rewritten as plain text; values left with an old URL in array keys.
    unparseable_rewritten: int | None
    serialized_keys: int | None
    # Values left with an old URL whose host characters are escaped (never rewritten).
    escaped_urls: int | None
    peak_rss_mb: float


class FilesImport(TypedDict):
    """The importer's summary (files, bytes_total, copied, skipped_identical, errors...)."""

    files: int
    bytes_total: int
    peak_rss_mb: float


# --- Mode B: scrape and rebuild -----------------------------------------------------------


class ScrapeRebuildSource(TypedDict):
    url: str
    home: str  # the URL the source's home page ended at (after redirects)
    old_origins: list[str]
    is_wordpress: bool
    wp_version: str | None
    rest_api: str | None
    site_name: str | None
    window_start: str
    # What the probe read (home page, API index), so discover need not ask again: a URI.
    probe_uri: NotRequired[str]


class ScrapeRebuildTarget(TypedDict):
    provisioner: str
    url: str
    user: str | None  # the platform login's slug


class DiscoveryBatch(TypedDict):
    """One mapped ``scrape_content`` task's input: discovered items of one kind (JSON lines)."""

    label: str  # "pages 1-40": the mapped task's name in the UI
    kind: Literal["page", "post", "media", "unknown"]
    uri: str
    count: int


class ScrapedBatch(TypedDict):
    label: str
    kind: str
    scraped_uri: str  # ScrapedItem JSON lines
    media_refs_uri: str  # JSON list of media references for download_media
    skipped_uri: str
    count: int
    pages: int
    posts: int
    media_refs: int
    skipped: int


class MediaBatch(TypedDict):
    label: str
    media_uri: str  # MediaFile JSON lines
    skipped_uri: str
    count: int
    bytes: int
    skipped: int
    peak_rss_mb: float


class RankedTheme(TypedDict):
    label: str
    distance: float


class ThemeChoice(TypedDict):
    """``match_theme``'s result: the chosen look and why (recorded in the report)."""

    theme: str
    variation: str | None
    label: str
    confidence: float
    by: str  # "select_theme", "preset palette" or "css colors"
    distance: NotRequired[float]
    ranking: NotRequired[list[RankedTheme]]
    look: NotRequired[dict[str, Any]]


class SiteBuild(TypedDict):
    """What ``build_site`` changed on the target."""

    settings: dict[str, str]
    theme: dict[str, Any]  # {stylesheet, activated}
    styles: dict[str, Any]


class CommentsScrape(TypedDict):
    """``scrape_comments``: the source's approved comments (``comments.SourceComment`` JSON
    lines, by source id) read from its public REST API. ``read`` is false when they were not
    read (``content_scope.include_comments`` off, or the REST API closed: ``note`` says why,
    and a ``Skipped`` in ``skipped_uri`` reports it)."""

    comments_uri: str
    skipped_uri: str
    read: bool
    count: int
    posts: int  # source posts with approved comments
    note: str | None
    requests: int


class CommentsImported(TypedDict):
    """What ``import_content`` did with the comments; ``comments_map_uri``: JSON
    ``{created, unchanged, ids, posts, refused, not_migrated}`` (``CommentsImport.to_dict``)."""

    comments_map_uri: str
    created: int
    unchanged: int
    refused: int  # refused by the target: each is a loss in verify
    not_migrated: int  # on a post that is not on the target


class ContentImport(TypedDict):
    redirect_map_uri: str
    url_map_uri: str
    counts: dict[str, dict[str, int]]  # kind -> {created, updated, unchanged}
    refused_media: int
    refused_items: int  # pages/posts not imported (target refusal, password); each is a loss in verify
    warnings: list[str]  # the first 50
    menu: dict[str, Any]
    peak_rss_mb: float
    comments: NotRequired[CommentsImported]  # absent when comments were not read


class RunOutcome(TypedDict):
    """``notify``'s return value: what it told the portal and people."""

    status: str
    webhook_status: NotRequired[int]
    emails: NotRequired[int]
