"""What the portal reads from a run: XCom keys, error reporting and the artifact store.

Public interface (see docs/portal-contract.md): XCom keys ``error``, ``stats``,
``report`` and each task's ``return_value``. Keep them stable.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.core.settings import Settings

log = logging.getLogger(__name__)

XCOM_ERROR = "error"
XCOM_STATS = "stats"
XCOM_REPORT = "report"


def artifacts_dir(conf: dict[str, Any], *parts: str) -> ObjectStoragePath:
    """``{root}/{tenant_id}/{migration_id}/...`` on the configured object store."""
    root = Settings.from_env().artifacts_root
    path = ObjectStoragePath(root) / conf["tenant_id"] / conf["migration_id"]
    for part in parts:
        path = path / part
    return path


def uri(path: ObjectStoragePath) -> str:
    return str(path)


@contextlib.contextmanager
def portal_errors(ti: Any, *, wrap: ErrorCode | None = None) -> Iterator[None]:
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


def _report(ti: Any, err: MigrationError) -> None:
    payload = err.to_dict() | {"task_id": ti.task_id, "try_number": ti.try_number}
    ti.xcom_push(key=XCOM_ERROR, value=payload)
    log.error("migration error %s: %s", err.code, err.message)
