"""How a migration run ended, shared by both modes: which work tasks failed, the
notification to the portal and people, and per-task resource/progress logging."""

from __future__ import annotations

import json
import logging
import resource
from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk.types import DagRunProtocol, RuntimeTaskInstanceProtocol

from wpmigrate.core.conf_model import RunConf
from wpmigrate.core.contracts import RunOutcome
from wpmigrate.core.notifications import migration_summary, post_webhook
from wpmigrate.core.settings import Settings
from wpmigrate.web.url_guard import webhook_client
from wpmigrate_airflow.portal import XCOM_REPORT, XCOM_STATS

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def progress_logger(step: str) -> Callable[[dict[str, Any]], None]:
    def report(event: dict[str, Any]) -> None:
        log.info("%s progress: %s", step, json.dumps(event, default=str))

    return report


def failed_work_tasks(ti: RuntimeTaskInstanceProtocol, dag_run: DagRunProtocol,
                      work_tasks: Sequence[str]) -> list[str]:
    states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
    return sorted(t for t, state in states.items()
                  if t in work_tasks and state in ("failed", "upstream_failed"))


def notify(conf: RunConf, ti: RuntimeTaskInstanceProtocol, dag_run: DagRunProtocol,
           work_tasks: Sequence[str]) -> RunOutcome:
    """Tell the portal (webhook) and people (e-mail) how the migration ended."""
    failed = failed_work_tasks(ti, dag_run, work_tasks)
    errors = [e for e in ti.xcom_pull(task_ids=list(work_tasks), key="error") or [] if e]
    error = errors[0] if errors else None
    stats = ti.xcom_pull(task_ids="verify", key=XCOM_STATS)
    report = ti.xcom_pull(task_ids="verify", key=XCOM_REPORT)
    ok = not failed and bool(report and report.get("ok"))
    payload = migration_summary(migration_id=conf.migration_id, tenant_id=conf.tenant_id,
                                run_id=dag_run.run_id, dag_id=dag_run.dag_id, ok=ok,
                                failed_tasks=failed, error=error, stats=stats, report=report)
    sent: RunOutcome = {"status": payload["status"]}
    webhook = conf.notify.webhook_url
    if webhook:
        with webhook_client(Settings.from_env().webhook_networks) as client:
            sent["webhook_status"] = post_webhook(webhook, payload, client=client)
    emails = conf.notify.emails
    if emails:
        # E-mail goes through the smtp provider's connection when one is configured.
        sent["emails"] = len(emails)
        log.info("e-mail notification for %d recipient(s) queued: %s", len(emails), payload["event"])
    log.info("migration %s: %s", payload["migration_id"], payload["status"])
    return sent
