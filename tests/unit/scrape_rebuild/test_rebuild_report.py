"""Mode B's report pieces around the checks: stats, theme section, dry run."""

from __future__ import annotations

from typing import Any

from wpmigrate.core.contracts import MediaBatch, ScrapedBatch, ThemeChoice
from wpmigrate.scrape_rebuild.rebuild_report import (
    add_theme,
    discovery_summary,
    dry_run_report,
    rebuild_stats,
)


def _scraped(pages: int, posts: int) -> ScrapedBatch:
    return {"label": "x", "kind": "page", "scraped_uri": "", "media_refs_uri": "", "skipped_uri": "",
            "count": pages + posts, "pages": pages, "posts": posts, "media_refs": 0, "skipped": 0}


def _media(count: int, size: int) -> MediaBatch:
    return {"label": "x", "media_uri": "", "skipped_uri": "", "count": count, "bytes": size, "skipped": 0,
            "peak_rss_mb": 1.0}


def test_stats_from_batches_or_from_verification() -> None:
    scraped = [_scraped(2, 0), _scraped(0, 3)]
    media = [_media(2, 1_500_000), _media(1, 500_000)]
    assert rebuild_stats(scraped, media) == {"pagesCount": 2, "postsCount": 3, "mediaCount": 3,
                                             "usersCount": 0, "pluginsCount": 0, "totalSizeMb": 2.0}
    # verification counts each source URL once
    verified = rebuild_stats(scraped, media, media_bytes=1_000_000, unique_media=2)
    assert verified["mediaCount"] == 2 and verified["totalSizeMb"] == 1.0


def test_theme_section_lists_the_candidates() -> None:
    theme: ThemeChoice = {"theme": "tt3", "variation": None, "label": "tt3", "confidence": 0.8,
                          "by": "css colors", "ranking": [{"label": "tt3", "distance": 1.5}]}
    report: dict[str, Any] = {"sections": {"content": {}}}
    add_theme(report, theme)
    assert report["theme"]["label"] == "tt3" and report["theme"]["look"] is None
    assert report["sections"]["theme"]["notes"] == ["tt3: confidence 0.8 (css colors)",
                                                    "candidate tt3: distance 1.5"]
    assert "content" in report["sections"]


def test_dry_run_report_carries_what_discovery_found() -> None:
    summary = discovery_summary({"limits": {"max_pages": 1}, "counts": {"page": 1}}, [{"url": "u"}])
    report = dry_run_report(summary)
    assert report["ok"] and report["dry_run"] and report["skipped"] == [{"url": "u"}]
    assert report["limits"] == {"max_pages": 1} and report["notes"] == []
