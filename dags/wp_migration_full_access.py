"""Mode A: migrate a WordPress site with full access to the source: SFTP and its database
(route sftp_db), an SSH login (ssh), or a WordPress administrator's login (wp_admin).

validate_source -> wait_for_window -> provision_target -> {export_database, export_files}
-> import_database -> import_files -> verify -> notify; release_source (the wp_admin route's
plugin comes off the source) follows the exports, verify reports it; cleanup is the teardown and
final_state (and cleanup, for cancelled runs) fail the run when any work task failed. The work lives in
``wpmigrate_airflow.full_access`` (Airflow glue) and ``wpmigrate`` (domain library).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowFailException

from wpmigrate.core.conf import FULL_ACCESS
from wpmigrate.core.conf_model import FullAccessConf
from wpmigrate.core.contracts import (
    DatabaseExport,
    DatabaseImport,
    DryRun,
    FilesExport,
    FilesImport,
    FullAccessSource,
    FullAccessTarget,
    ReportSummary,
    RunOutcome,
    SourceRelease,
)
from wpmigrate.core.errors import ErrorCode
from wpmigrate_airflow import dag_support, run_outcome
from wpmigrate_airflow import full_access as fa
from wpmigrate_airflow.dag_support import current_task, migration_dag_args, reported, retry_args


@dag(**migration_dag_args(FULL_ACCESS, "wp_migration_full_access", ["mode-a", "full-access"], __doc__))
def wp_migration_full_access() -> None:
    @task(**retry_args("validate_source"))
    def validate_source() -> FullAccessSource:
        with reported(ErrorCode.SOURCE_UNREACHABLE, FullAccessConf) as run:
            return fa.validate_source(run.conf)

    wait_for_window = dag_support.wait_for_window()

    @task(**retry_args("provision_target"))
    def provision_target() -> FullAccessTarget:
        with reported(ErrorCode.PROVISION_FAILED, FullAccessConf) as run:
            return fa.provision_target(run.conf)

    @task(pool="wpmigrate_source_io", **retry_args("export_database"))
    def export_database(source: FullAccessSource) -> DatabaseExport:
        with reported(ErrorCode.EXPORT_FAILED, FullAccessConf) as run:
            return fa.export_database(run.conf, source)

    @task(pool="wpmigrate_source_io", **retry_args("export_files"))
    def export_files(source: FullAccessSource) -> FilesExport:
        with reported(ErrorCode.EXPORT_FAILED, FullAccessConf) as run:
            return fa.export_files(run.conf, source)

    @task(**retry_args("release_source"))
    def release_source() -> SourceRelease:
        with reported(ErrorCode.EXPORT_FAILED, FullAccessConf) as run:
            return fa.release_source(run.conf)

    @task(pool="wpmigrate_target_io", **retry_args("import_database"))
    def import_database(source: FullAccessSource, target: FullAccessTarget,
                        exported: DatabaseExport) -> DatabaseImport | DryRun:
        with reported(ErrorCode.IMPORT_FAILED, FullAccessConf) as run:
            return fa.import_database(run.conf, source, target, exported)

    @task(pool="wpmigrate_target_io", **retry_args("import_files"))
    def import_files(target: FullAccessTarget, exported: FilesExport) -> FilesImport | DryRun:
        with reported(ErrorCode.IMPORT_FAILED, FullAccessConf) as run:
            return fa.import_files(run.conf, target, exported)

    @task(**retry_args("verify"))
    def verify(source: FullAccessSource, target: FullAccessTarget, files: FilesExport, db: DatabaseExport,
               released: SourceRelease) -> ReportSummary:
        with reported(ErrorCode.VERIFICATION_FAILED, FullAccessConf) as run:
            return fa.verify_migration(run.conf, run.ti, source, target, files, db, released)

    @task(trigger_rule=TriggerRule.ALL_DONE, **retry_args("notify"))
    def notify() -> RunOutcome:
        run = current_task(FullAccessConf)
        return run_outcome.notify(run.conf, run.ti, run.dag_run, fa.WORK_TASKS)

    @task(**retry_args("cleanup"))
    def cleanup() -> dict[str, Any]:
        # Behind the tenant wall too: it writes to the target (drops staging tables).
        with reported(ErrorCode.IMPORT_FAILED, FullAccessConf) as run:
            return fa.cleanup(run.conf, run.ti, run.dag_run)

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def final_state() -> None:
        """Runs only when a work task failed, and fails the run with it (notify and the
        cleanup teardown succeed on their own and would otherwise hide the failure)."""
        raise AirflowFailException("the migration failed; see the 'error' XCom of the failed task")

    source = validate_source()
    # wait_for_window pulls 'window_start' from validate_source's multiple outputs.
    target = provision_target()
    source >> wait_for_window >> target
    db = export_database(source)
    files = export_files(source)
    target >> [db, files]
    released = release_source()
    [db, files] >> released
    imported_db = import_database(source, target, db)
    imported_files = import_files(target, files)
    imported_db >> imported_files
    verified = verify(source, target, files, db, released)
    imported_files >> verified
    done = notify()
    verified >> done
    # Teardown of everything after validate_source; it also fails the run when work failed
    # (a cancelled run skips final_state, see fa.cleanup).
    clean = cleanup().as_teardown(setups=source, on_failure_fail_dagrun=True)
    verified >> clean
    # A setup (validate_source) may only have ALL_SUCCESS followers; its failure still
    # reaches final_state through wait_for_window, which it leaves upstream_failed.
    work = [wait_for_window, target, db, files, imported_db, imported_files, verified]
    work >> final_state()


wp_migration_full_access()
