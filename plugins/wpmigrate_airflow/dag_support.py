"""Small helpers the DAG files share: Params from the conf schema, retry arguments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import Param

from wpmigrate.core.conf import NO_DEFAULT, param_specs
from wpmigrate.core.retry_policy import POLICIES


def params_for(mode: str) -> dict[str, Param]:
    """One Param per top-level conf property; a property without a default is required
    (a trigger without it is refused with 400 by the REST API)."""
    params = {}
    for name, (default, schema) in param_specs(mode).items():
        if default is NO_DEFAULT:
            params[name] = Param(**schema)
        else:
            params[name] = Param(default, **schema)
    return params


def retry_args(task_id: str) -> dict[str, Any]:
    policy = POLICIES[task_id]
    args: dict[str, Any] = {"retries": policy.retries, "retry_delay": policy.scaled_delay()}
    if policy.exponential:
        args["retry_exponential_backoff"] = 2.0
    return args


def migration_dag_args(mode: str, dag_id: str, tags: list[str], doc_md: str | None) -> dict[str, Any]:
    """What both migration DAGs share: triggered only (by the portal), Params from the conf
    schema, bounded concurrency and an overall timeout."""
    return {
        "dag_id": dag_id,
        "schedule": None,
        "catchup": False,
        "max_active_runs": 8,
        "max_active_tasks": 16,
        "params": params_for(mode),
        "tags": ["wpmigrate", *tags],
        "doc_md": doc_md,
        "dagrun_timeout": timedelta(hours=8),
    }


def wait_for_window() -> DateTimeSensor:
    """Holds the run until ``window_start`` (from validate_source) without holding a worker
    slot: ``schedule: off_peak`` or a date in the conf."""
    return DateTimeSensor(
        task_id="wait_for_window",
        target_time="{{ ti.xcom_pull(task_ids='validate_source', key='window_start') }}",
        mode="reschedule",
        poke_interval=300,
    )
