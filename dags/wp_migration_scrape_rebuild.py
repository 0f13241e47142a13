"""Mode B: rebuild a WordPress site on the platform from nothing but its public URL.

validate_source -> wait_for_window -> provision_target -> discover -> scrape_comments
-> scrape_content (mapped over batches) -> download_media (mapped over the scraped batches) -> match_theme
-> build_site -> import_content -> verify -> notify; cleanup is the teardown and
final_state fails the run when any work task failed. The work lives in
``wpmigrate_airflow.scrape_rebuild`` (Airflow glue) and ``wpmigrate`` (domain library).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowFailException

from wpmigrate.core.conf import SCRAPE_REBUILD
from wpmigrate.core.conf_model import ScrapeRebuildConf
from wpmigrate.core.contracts import (
    CommentsScrape,
    ContentImport,
    DiscoveryBatch,
    DryRun,
    MediaBatch,
    ReportSummary,
    RunOutcome,
    ScrapedBatch,
    ScrapeRebuildSource,
    ScrapeRebuildTarget,
    SiteBuild,
    ThemeChoice,
)
from wpmigrate.core.errors import ErrorCode
from wpmigrate_airflow import dag_support, run_outcome
from wpmigrate_airflow import scrape_rebuild as sr
from wpmigrate_airflow.dag_support import (
    current_task,
    label_mapped_task,
    migration_dag_args,
    reported,
    retry_args,
)


@dag(**migration_dag_args(SCRAPE_REBUILD, "wp_migration_scrape_rebuild", ["mode-b", "scrape-rebuild"],
                          __doc__))
def wp_migration_scrape_rebuild() -> None:
    @task(**retry_args("validate_source"))
    def validate_source() -> ScrapeRebuildSource:
        with reported(ErrorCode.SOURCE_UNREACHABLE, ScrapeRebuildConf) as run:
            return sr.validate_source(run.conf)

    wait_for_window = dag_support.wait_for_window()

    @task(**retry_args("provision_target"))
    def provision_target() -> ScrapeRebuildTarget:
        with reported(ErrorCode.PROVISION_FAILED, ScrapeRebuildConf) as run:
            return sr.provision_target(run.conf)

    @task(pool="wpmigrate_source_io", **retry_args("discover"))
    def discover(source: ScrapeRebuildSource) -> list[DiscoveryBatch]:
        with reported(ErrorCode.EXPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.discover(run.conf, run.ti, source)

    # Approved comments from the REST API: before the scrape, never beside it (one source rate).
    @task(pool="wpmigrate_source_io", **retry_args("scrape_comments"))
    def scrape_comments(source: ScrapeRebuildSource, site: str) -> CommentsScrape:
        with reported(ErrorCode.EXPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.scrape_comments(run.conf, source, site)

    # One batch at a time per run: the source's 10 requests/second (seed 8.3) is the limit,
    # so parallel batches would only have to share it; other runs still proceed in parallel.
    # ``site``: the URI of discovery's site.json (its "site" XCom).
    @task(pool="wpmigrate_source_io", map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=1,
          **retry_args("scrape_content"))
    def scrape_content(batch: DiscoveryBatch, source: ScrapeRebuildSource, site: str) -> ScrapedBatch:
        label_mapped_task(batch.get("label", ""))
        with reported(ErrorCode.EXPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.scrape_batch(run.conf, source, site, batch)

    @task(pool="wpmigrate_source_io", map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=1,
          **retry_args("download_media"))
    def download_media(scraped: ScrapedBatch, source: ScrapeRebuildSource, site: str) -> MediaBatch:
        label_mapped_task(scraped.get("label", ""))
        with reported(ErrorCode.EXPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.download_media(run.conf, source, scraped, site, run_id=run.ti.run_id)

    @task(**retry_args("match_theme"))
    def match_theme(source: ScrapeRebuildSource, target: ScrapeRebuildTarget, site: str) -> ThemeChoice:
        with reported(ErrorCode.IMPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.match_theme(run.conf, source, target, site)

    @task(pool="wpmigrate_target_io", **retry_args("build_site"))
    def build_site(site: str, target: ScrapeRebuildTarget, theme: ThemeChoice) -> SiteBuild | DryRun:
        with reported(ErrorCode.IMPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.build_site(run.conf, site, target, theme)

    # ``scraped``/``media``: the mapped tasks' results, a lazy sequence at run time.
    @task(pool="wpmigrate_target_io", **retry_args("import_content"))
    def import_content(source: ScrapeRebuildSource, site: str, target: ScrapeRebuildTarget,
                       scraped: list[ScrapedBatch], media: list[MediaBatch],
                       comments: CommentsScrape) -> ContentImport | DryRun:
        with reported(ErrorCode.IMPORT_FAILED, ScrapeRebuildConf) as run:
            return sr.import_content(run.conf, source, site, target, list(scraped), list(media), comments)

    @task(**retry_args("verify"))
    def verify(source: ScrapeRebuildSource, site: str, target: ScrapeRebuildTarget,
               scraped: list[ScrapedBatch], media: list[MediaBatch], imported: ContentImport | DryRun,
               theme: ThemeChoice, comments: CommentsScrape) -> ReportSummary:
        with reported(ErrorCode.VERIFICATION_FAILED, ScrapeRebuildConf) as run:
            return sr.verify(run.conf, run.ti, source, site, target, list(scraped), list(media), imported,
                             theme, comments)

    @task(trigger_rule=TriggerRule.ALL_DONE, **retry_args("notify"))
    def notify() -> RunOutcome:
        run = current_task(ScrapeRebuildConf)
        return run_outcome.notify(run.conf, run.ti, run.dag_run, sr.WORK_TASKS)

    @task(**retry_args("cleanup"))
    def cleanup() -> dict[str, Any]:
        run = current_task(ScrapeRebuildConf)
        return sr.cleanup(run.conf, run.ti, run.dag_run)

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def final_state() -> None:
        """Runs only when a work task failed, and fails the run with it."""
        raise AirflowFailException("the migration failed; see the 'error' XCom of the failed task")

    source = validate_source()
    target = provision_target()
    source >> wait_for_window >> target
    found = discover(source)
    target >> found
    comments = scrape_comments(source, found["site"])
    scraped = scrape_content.partial(source=source, site=found["site"]).expand(batch=found)
    comments >> scraped
    media = download_media.partial(source=source, site=found["site"]).expand(scraped=scraped)
    theme = match_theme(source, target, found["site"])
    media >> theme  # it reads the source too: after the downloads, never beside them
    built = build_site(found["site"], target, theme)
    imported = import_content(source, found["site"], target, scraped, media, comments)
    built >> imported
    verified = verify(source, found["site"], target, scraped, media, imported, theme, comments)
    done = notify()
    verified >> done
    clean = cleanup().as_teardown(setups=source, on_failure_fail_dagrun=True)
    verified >> clean
    work = [wait_for_window, target, found, comments, scraped, media, theme, built, imported, verified]
    work >> final_state()


wp_migration_scrape_rebuild()
