"""Mode B's report around the checks of ``verify_rebuild``: what discovery left out, the
theme decision, the seed's stats, and the dry run's report (what would move)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wpmigrate.core.contracts import MediaBatch, MigrationStats, ScrapedBatch, ThemeChoice

_THEME_KEYS = ("label", "theme", "variation", "confidence", "by", "ranking", "look")


def discovery_summary(site: Mapping[str, Any], skipped: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``verify_rebuild``'s ``discovery`` argument: skips of every step, limits, notes, counts,
    and the permalink structure learnt (the paths check says how posts kept their paths)."""
    return {"skipped": list(skipped), "limits": site.get("limits") or {},
            "notes": site.get("notes") or [], "counts": site.get("counts") or {},
            "permalinks": (site.get("info") or {}).get("permalinks") or {}}


def dry_run_report(discovery: Mapping[str, Any]) -> dict[str, Any]:
    """A dry run writes nothing to the target: nothing to check, only what was found."""
    return {"ok": True, "dry_run": True, "mode": "scrape_rebuild", "losses": [], "sections": {}, **discovery}


def add_theme(report: dict[str, Any], theme: ThemeChoice) -> None:
    """The theme decision, and a report section listing the candidates' distances."""
    ranking = theme.get("ranking") or []
    report["theme"] = {k: theme.get(k) for k in _THEME_KEYS}
    report.setdefault("sections", {})["theme"] = {
        "title": "Theme", "status": "pass", "checked": len(ranking) or 1, "problem_count": 0,
        "notes": [f"{theme.get('label')}: confidence {theme.get('confidence')} ({theme.get('by')})"]
        + [f"candidate {r['label']}: distance {r['distance']}" for r in ranking]}


def rebuild_stats(scraped: Iterable[ScrapedBatch], media: Iterable[MediaBatch], media_bytes: int = 0,
                  unique_media: int | None = None) -> MigrationStats:
    """The seed's stats; Mode B migrates no users or plugins (seed 000, Mode B worker).

    ``unique_media``/``media_bytes``: verification's counts, each source URL once (batches
    may download the same file); without them (dry run) the batches' own sums."""
    scraped, media = list(scraped), list(media)
    files = unique_media if unique_media is not None else sum(m["count"] for m in media)
    size = media_bytes or sum(m.get("bytes", 0) for m in media)
    return {"pagesCount": sum(s.get("pages", 0) for s in scraped),
            "postsCount": sum(s.get("posts", 0) for s in scraped),
            "mediaCount": files, "usersCount": 0, "pluginsCount": 0, "totalSizeMb": round(size / 1e6, 2)}
