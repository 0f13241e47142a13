"""Small helpers the DAG files share: Params from the conf schema, retry arguments, the
run window, and the context every task body runs in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import Param, get_current_context
from airflow.sdk.types import DagRunProtocol, RuntimeTaskInstanceProtocol

from wpmigrate.core.conf import NO_DEFAULT, load_conf, param_specs
from wpmigrate.core.conf_model import FullAccessConf, RunConf, ScrapeRebuildConf
from wpmigrate.core.errors import ErrorCode
from wpmigrate.core.retry_policy import POLICIES
from wpmigrate.core.schedule_window import earliest_start
from wpmigrate.core.settings import Settings
from wpmigrate_airflow.portal import portal_errors
from wpmigrate_airflow.run_outcome import peak_rss_mb
from wpmigrate_airflow.tenant_wall import check_connections

log = logging.getLogger(__name__)
# The words of the task log line that carries a task's peak RSS (load tests read it).
PEAK_RSS_LOG = "peak RSS"
C = TypeVar("C", FullAccessConf, ScrapeRebuildConf)


@dataclass(frozen=True)
class TaskRun(Generic[C]):
    """What a task body needs: its run's conf (typed, validated) and its Airflow context."""

    conf: C
    ti: RuntimeTaskInstanceProtocol
    dag_run: DagRunProtocol


def current_task(model: type[C]) -> TaskRun[C]:
    """The task's context and its conf, schema-checked and typed, without the tenant wall:
    for ``notify``, which names no connection and must report even a refused conf."""
    ctx = get_current_context()
    return TaskRun(load_conf(model, ctx["params"]), ctx["ti"], ctx["dag_run"])


@contextmanager
def reported(wrap: ErrorCode, model: type[C]) -> Iterator[TaskRun[C]]:
    """A task's body, behind the conf boundary: the conf read once (``load_conf``: schema,
    defaults, typed) and every connection it names checked against the tenant wall, before
    anything is contacted; failures reported to the portal (``portal_errors``, anything
    unexpected wrapped in ``wrap``); its peak memory logged at the end, whatever the outcome
    (what sizes the workers: the seed gives them 1024 MB)."""
    ctx = get_current_context()
    ti = ctx["ti"]
    try:
        with portal_errors(ti, wrap=wrap):
            conf = load_conf(model, ctx["params"])
            check_connections(conf)
            yield TaskRun(conf, ti, ctx["dag_run"])
    finally:
        log.info("%s %s: %.1f MB", ti.task_id, PEAK_RSS_LOG, peak_rss_mb())


def label_mapped_task(label: str) -> None:
    """Rendered into ``map_index_template="{{ batch_label }}"``: the UI shows "pages 1-40"
    instead of "3"."""
    # Airflow's documented way to feed map_index_template; its Context TypedDict does not
    # list the keys a task adds.
    get_current_context()["batch_label"] = label  # type: ignore[typeddict-unknown-key]


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
        # Platform-wide, not per tenant: the pools bound what reaches sources and targets, and
        # a run waiting for its window holds no worker. The seed asks 10 at once per tenant.
        "max_active_runs": 32,
        "max_active_tasks": 16,
        "params": params_for(mode),
        "tags": ["wpmigrate", *tags],
        "doc_md": doc_md,
        "dagrun_timeout": timedelta(hours=8),
    }


def window_start(conf: RunConf, settings: Settings) -> str:
    """``validate_source``'s ``window_start`` (ISO 8601): the moment ``wait_for_window`` waits for."""
    return earliest_start(conf.schedule, datetime.now(UTC), settings.off_peak_window,
                          settings.off_peak_timezone).isoformat()


def wait_for_window() -> DateTimeSensor:
    """Holds the run until ``window_start`` (from validate_source) without holding a worker
    slot: ``schedule: off_peak`` or a date in the conf."""
    return DateTimeSensor(
        task_id="wait_for_window",
        target_time="{{ ti.xcom_pull(task_ids='validate_source', key='window_start') }}",
        mode="reschedule",
        poke_interval=300,
    )
