"""Small helpers the DAG files share: Params from the conf schema, retry arguments."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from wpmigrate.conf import NO_DEFAULT, param_specs
from wpmigrate.retry_policy import POLICIES


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
