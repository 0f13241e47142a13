"""What the portal reads from a run: XCom keys, error reporting and the artifact store.

Public interface (see docs/portal-contract.md): XCom keys ``error``, ``stats``,
``report`` and each task's ``return_value``. Keep them stable.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeVar, cast

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.types import RuntimeTaskInstanceProtocol

from wpmigrate.core.contracts import FullAccessSource, MigrationStats, ReportSummary, ScrapeRebuildSource
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.report_html import render_report_html
from wpmigrate.core.settings import Settings
from wpmigrate.core.storage import join_under

log = logging.getLogger(__name__)

XCOM_ERROR = "error"
XCOM_STATS = "stats"
XCOM_REPORT = "report"

Source = TypeVar("Source", FullAccessSource, ScrapeRebuildSource)


class RunIds(Protocol):
    """What names a run's artifacts (a typed conf has both)."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def migration_id(self) -> str: ...


def artifacts_dir(conf: RunIds, *parts: str) -> ObjectStoragePath:
    """``{root}/{tenant_id}/{migration_id}/...`` on the configured object store; each part one
    plain name that keeps the path under the root (``INVALID_CONF`` otherwise)."""
    root = ObjectStoragePath(Settings.from_env().artifacts_root)
    return cast(ObjectStoragePath, join_under(root, conf.tenant_id, conf.migration_id, *parts))


def validated_source(source: Source) -> Source:
    """``validate_source``'s return value (the portal shows it), logged for the run's log."""
    log.info("source validated: %s", json.dumps(source))
    return source


def publish_report(conf: RunIds, ti: RuntimeTaskInstanceProtocol, report: Mapping[str, Any],
                   stats: MigrationStats, *, dry_run: bool = False,
                   skipped: int | None = None) -> ReportSummary:
    """Write the verification report (JSON and HTML) to the artifact store and push the
    ``stats`` and ``report`` XComs; returns the summary pushed as ``report``."""
    reports = artifacts_dir(conf, "reports")
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "verification.json").write_text(json.dumps(report, default=str, indent=1))
    (reports / "verification.html").write_text(render_report_html(report))
    summary: ReportSummary = {"ok": report["ok"], "json_uri": str(reports / "verification.json"),
                              "html_uri": str(reports / "verification.html"),
                              "losses": report.get("losses", [])[:20]}
    if dry_run:
        summary["dry_run"] = True
    if skipped is not None:
        summary["skipped"] = skipped
    ti.xcom_push(key=XCOM_STATS, value=stats)
    ti.xcom_push(key=XCOM_REPORT, value=summary)
    return summary


def fail_on_losses(summary: ReportSummary, problems: int) -> None:
    """A verification that found losses fails the task, pointing at the report."""
    if not summary["ok"]:
        # The first losses named in the message, so the failed task says what is missing.
        named = "; ".join(" ".join(str(v) for v in loss.values())[:300] for loss in summary["losses"][:3])
        raise MigrationError(ErrorCode.VERIFICATION_FAILED,
                             f"verification found {problems} problem(s)"
                             f"{f' ({named})' if named else ''}; see {summary['html_uri']}",
                             details={"losses": summary["losses"]})


@contextlib.contextmanager
def portal_errors(ti: RuntimeTaskInstanceProtocol, *, wrap: ErrorCode | None = None) -> Iterator[None]:
    """Report failures with a seed error code in XCom ``error``.

    Permanent errors end the task without retries (AirflowFailException); transient
    ones re-raise so Airflow retries them. Anything unexpected is wrapped in ``wrap``
    (e.g. EXPORT_FAILED) as a transient error: a retry is cheap, a lost run is not.
    """
    try:
        yield
    except MigrationError as err:
        _report(ti, err)
        if err.permanent:
            raise AirflowFailException(str(err)) from err
        raise
    except AirflowFailException:
        raise
    except Exception as err:
        if wrap is None:
            raise
        wrapped = MigrationError(wrap, f"{type(err).__name__}: {err}", permanent=False)
        _report(ti, wrapped)
        raise wrapped from err


def _report(ti: RuntimeTaskInstanceProtocol, err: MigrationError) -> None:
    payload = err.to_dict() | {"task_id": ti.task_id, "try_number": ti.try_number}
    ti.xcom_push(key=XCOM_ERROR, value=payload)
    log.error("migration error %s: %s", err.code, err.message)
