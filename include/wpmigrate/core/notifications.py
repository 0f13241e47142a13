"""The message sent to the portal (webhook) and to people when a migration ends."""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from wpmigrate.core.contracts import MigrationStats, ReportSummary


def migration_summary(*, migration_id: str, tenant_id: str, run_id: str, dag_id: str, ok: bool,
                      failed_tasks: list[str], error: dict[str, Any] | None,
                      stats: MigrationStats | None, report: ReportSummary | None) -> dict[str, Any]:
    return {
        "event": "migration.completed" if ok else "migration.failed",
        "migration_id": migration_id,
        "tenant_id": tenant_id,
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "status": "completed" if ok else "failed",
        "failed_tasks": failed_tasks,
        "error": error,
        "stats": stats,
        "report": report,
    }


class _RetryableHTTPError(Exception):
    pass


@retry(retry=retry_if_exception_type((httpx.TransportError, _RetryableHTTPError)),
       wait=wait_exponential(multiplier=1, max=30), stop=stop_after_attempt(5), reraise=True)
def post_webhook(url: str, payload: dict[str, Any], *, client: httpx.Client, timeout: float = 10.0) -> int:
    """POST the summary; 5xx and network errors are retried with exponential backoff.

    ``client``: the SSRF guard's (``web.url_guard.webhook_client``): the URL comes from the
    run's conf, so it is checked like a source URL, hop by hop, without environment proxies.
    A refused address raises ``MigrationError(SOURCE_REFUSED)`` and is not retried."""
    response = client.post(url, json=payload, timeout=timeout)
    if response.status_code >= 500:
        raise _RetryableHTTPError(f"webhook answered {response.status_code}")
    response.raise_for_status()
    return response.status_code
