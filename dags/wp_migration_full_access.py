"""Mode A: migrate a WordPress site with SFTP and database access to the source.

validate_source -> wait_for_window -> provision_target -> {export_database, export_files}
-> import_database -> import_files -> verify -> notify; cleanup is the teardown and
final_state (and cleanup, for cancelled runs) fail the run when any work task failed. The work lives in
``wpmigrate_airflow.full_access`` (Airflow glue) and ``wpmigrate`` (domain library).
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from wpmigrate.core.conf import FULL_ACCESS
from wpmigrate.core.errors import ErrorCode
from wpmigrate_airflow import dag_support, run_outcome
from wpmigrate_airflow import full_access as fa
from wpmigrate_airflow.dag_support import migration_dag_args, retry_args
from wpmigrate_airflow.portal import portal_errors


def _ctx():
    ctx = get_current_context()
    return ctx["params"], ctx["ti"]


@dag(**migration_dag_args(FULL_ACCESS, "wp_migration_full_access", ["mode-a", "full-access"], __doc__))
def wp_migration_full_access():
    @task(**retry_args("validate_source"))
    def validate_source() -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.SOURCE_UNREACHABLE):
            return fa.validate_source(params)

    wait_for_window = dag_support.wait_for_window()

    @task(**retry_args("provision_target"))
    def provision_target() -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.PROVISION_FAILED):
            return fa.provision_target(params)

    @task(pool="wpmigrate_source_io", **retry_args("export_database"))
    def export_database(source: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.EXPORT_FAILED):
            return fa.export_database(params, source)

    @task(pool="wpmigrate_source_io", **retry_args("export_files"))
    def export_files(source: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.EXPORT_FAILED):
            return fa.export_files(params, source)

    @task(pool="wpmigrate_target_io", **retry_args("import_database"))
    def import_database(source: dict, target: dict, exported: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.IMPORT_FAILED):
            return fa.import_database(params, source, target, exported)

    @task(pool="wpmigrate_target_io", **retry_args("import_files"))
    def import_files(target: dict, exported: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.IMPORT_FAILED):
            return fa.import_files(params, target, exported)

    @task(**retry_args("verify"))
    def verify(source: dict, target: dict, files: dict) -> dict:
        params, ti = _ctx()
        with portal_errors(ti, wrap=ErrorCode.VERIFICATION_FAILED):
            return fa.verify_migration(params, ti, source, target, files)

    @task(trigger_rule=TriggerRule.ALL_DONE, **retry_args("notify"))
    def notify() -> dict:
        ctx = get_current_context()
        return run_outcome.notify(ctx["params"], ctx["ti"], ctx["dag_run"], fa.WORK_TASKS)

    @task(**retry_args("cleanup"))
    def cleanup() -> dict:
        ctx = get_current_context()
        return fa.cleanup(ctx["params"], ctx["ti"], ctx["dag_run"])

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
    imported_db = import_database(source, target, db)
    imported_files = import_files(target, files)
    imported_db >> imported_files
    verified = verify(source, target, files)
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
