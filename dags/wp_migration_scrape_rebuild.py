"""Mode B: rebuild a WordPress site on the platform from nothing but its public URL.

validate_source -> wait_for_window -> provision_target -> discover -> scrape_content
(mapped over batches) -> download_media (mapped over the scraped batches) -> match_theme
-> build_site -> import_content -> verify -> notify; cleanup is the teardown and
final_state fails the run when any work task failed. The work lives in
``wpmigrate_airflow.scrape_rebuild`` (Airflow glue) and ``wpmigrate`` (domain library).
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from wpmigrate.core.conf import SCRAPE_REBUILD
from wpmigrate.core.errors import ErrorCode
from wpmigrate_airflow import dag_support, run_outcome
from wpmigrate_airflow import scrape_rebuild as sr
from wpmigrate_airflow.dag_support import migration_dag_args, retry_args
from wpmigrate_airflow.portal import portal_errors


def _ctx():
    ctx = get_current_context()
    return ctx["params"], ctx["ti"]


def _label(batch: dict) -> None:
    # Rendered into map_index_template: the UI shows "pages 1-40" instead of "3".
    get_current_context()["batch_label"] = batch.get("label", "")


@dag(**migration_dag_args(SCRAPE_REBUILD, "wp_migration_scrape_rebuild", ["mode-b", "scrape-rebuild"],
                          __doc__))
def wp_migration_scrape_rebuild():
    @task(**retry_args("validate_source"))
    def validate_source() -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.SOURCE_UNREACHABLE):
            return sr.validate_source(params)

    wait_for_window = dag_support.wait_for_window()

    @task(**retry_args("provision_target"))
    def provision_target() -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.PROVISION_FAILED):
            return sr.provision_target(params)

    @task(pool="wpmigrate_source_io", **retry_args("discover"))
    def discover(source: dict) -> list:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.EXPORT_FAILED):
            return sr.discover(params, ti, source)

    # One batch at a time per run: the source's 10 requests/second (seed 8.3) is the limit,
    # so parallel batches would only have to share it; other runs still proceed in parallel.
    @task(pool="wpmigrate_source_io", map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=1,
          **retry_args("scrape_content"))
    def scrape_content(batch: dict, source: dict, site: dict) -> dict:
        params, ti = _ctx()
        _label(batch)
        with portal_errors(ti, wrap=ErrorCode.EXPORT_FAILED):
            return sr.scrape_batch(params, source, site, batch)

    @task(pool="wpmigrate_source_io", map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=1,
          **retry_args("download_media"))
    def download_media(scraped: dict, source: dict) -> dict:
        params, ti = _ctx()
        _label(scraped)
        with portal_errors(ti, wrap=ErrorCode.EXPORT_FAILED):
            return sr.download_media(params, source, scraped)

    @task(**retry_args("match_theme"))
    def match_theme(source: dict, target: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.IMPORT_FAILED):
            return sr.match_theme(params, source, target)

    @task(pool="wpmigrate_target_io", **retry_args("build_site"))
    def build_site(site: dict, target: dict, theme: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.IMPORT_FAILED):
            return sr.build_site(params, site, target, theme)

    @task(pool="wpmigrate_target_io", **retry_args("import_content"))
    def import_content(source: dict, site: dict, target: dict, scraped: list, media: list) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.IMPORT_FAILED):
            return sr.import_content(params, source, site, target, list(scraped), list(media))

    @task(**retry_args("verify"))
    def verify(source: dict, site: dict, target: dict, scraped: list, media: list, imported: dict,
               theme: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.VERIFICATION_FAILED):
            return sr.verify(params, ti, source, site, target, list(scraped), list(media), imported, theme)

    @task(trigger_rule=TriggerRule.ALL_DONE, **retry_args("notify"))
    def notify() -> dict:
        ctx = get_current_context()
        return run_outcome.notify(ctx["params"], ctx["ti"], ctx["dag_run"], sr.WORK_TASKS)

    @task(**retry_args("cleanup"))
    def cleanup() -> dict:
        ctx = get_current_context()
        return sr.cleanup(ctx["params"], ctx["ti"], ctx["dag_run"])

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def final_state() -> None:
        """Runs only when a work task failed, and fails the run with it."""
        raise AirflowFailException("the migration failed; see the 'error' XCom of the failed task")

    source = validate_source()
    target = provision_target()
    source >> wait_for_window >> target
    found = discover(source)
    target >> found
    scraped = scrape_content.partial(source=source, site=found["site"]).expand(batch=found)
    media = download_media.partial(source=source).expand(scraped=scraped)
    theme = match_theme(source, target)
    media >> theme  # it reads the source too: after the downloads, never beside them
    built = build_site(found["site"], target, theme)
    imported = import_content(source, found["site"], target, scraped, media)
    built >> imported
    verified = verify(source, found["site"], target, scraped, media, imported, theme)
    done = notify()
    verified >> done
    clean = cleanup().as_teardown(setups=source, on_failure_fail_dagrun=True)
    verified >> clean
    work = [wait_for_window, target, found, scraped, media, theme, built, imported, verified]
    work >> final_state()


wp_migration_scrape_rebuild()
