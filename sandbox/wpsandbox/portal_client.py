"""A small client of Airflow's REST API, doing what the portal does: trigger a
migration with conf, poll its state, read XCom and logs, retry and cancel."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

TERMINAL = {"success", "failed"}


class AirflowRest:
    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        token = httpx.post(f"{self.url}/auth/token", json={"username": username, "password": password},
                           timeout=timeout)
        token.raise_for_status()
        self.http = httpx.Client(base_url=self.url, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token.json()['access_token']}"})

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> httpx.Response:
        """POST a run; the caller checks the status (400 on a conf that fails the Params)."""
        return self.http.post(f"/api/v2/dags/{dag_id}/dagRuns",
                              json={"dag_run_id": run_id, "logical_date": None, "conf": conf})

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        r.raise_for_status()
        return r.json()

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        r = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                          params={"limit": 100})
        r.raise_for_status()
        return r.json()["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id: state}``; a mapped task's instances appear as ``task_id[label]``, with
        the label its ``map_index_template`` rendered (or the map index)."""
        states = {}
        for ti in self.task_instances(dag_id, run_id):
            key = ti["task_id"]
            if ti.get("map_index", -1) >= 0:
                key = f"{key}[{ti.get('rendered_map_index') or ti['map_index']}]"
            states[key] = ti["state"]
        return states

    def wait(self, dag_id: str, run_id: str, *, timeout: float = 900, poll: float = 2.0,
             until: Callable[[dict[str, Any]], bool] | None = None,
             on_poll: Callable[[dict[str, str | None]], None] | None = None) -> dict[str, Any]:
        """Poll until the run ends (or ``until(run)`` holds); return the run."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if on_poll:
                on_poll(self.task_states(dag_id, run_id))
            if (until(run) if until else run["state"] in TERMINAL):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id}/{run_id} still {run['state']} after {timeout}s")
            time.sleep(poll)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        r = self.http.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": True})
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()["value"]

    def xcom_entries(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every XCom of a run, values included: ``[{task_id, map_index, key, value}]``."""
        r = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/~/xcomEntries",
                          params={"limit": 1000})
        r.raise_for_status()
        out = []
        for entry in r.json()["xcom_entries"]:
            one = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{entry['task_id']}"
                                f"/xcomEntries/{entry['key']}",
                                params={"deserialize": True, "map_index": entry.get("map_index", -1)})
            one.raise_for_status()
            out.append({**entry, "value": one.json()["value"]})
        return out

    def clear(self, dag_id: str, run_id: str, task_ids: list[str], *, downstream: bool = True) -> dict:
        """Clear tasks for a retry (the API's dry_run defaults to true: set it false)."""
        r = self.http.post(f"/api/v2/dags/{dag_id}/clearTaskInstances", json={
            "dry_run": False, "dag_run_id": run_id, "task_ids": task_ids,
            "include_downstream": downstream, "only_failed": False, "reset_dag_runs": True})
        r.raise_for_status()
        return r.json()

    def cancel(self, dag_id: str, run_id: str) -> dict[str, Any]:
        r = self.http.patch(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
        r.raise_for_status()
        return r.json()

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        r = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                          params={"map_index": map_index}, headers={"Accept": "application/json"})
        r.raise_for_status()
        content = r.json().get("content", [])
        if not isinstance(content, list):
            return str(content)
        lines = []
        for entry in content:
            if not isinstance(entry, dict):
                lines.append(str(entry))
                continue
            lines.append(str(entry.get("event", "")))
            for detail in entry.get("error_detail") or []:
                lines.append(f"{detail.get('exc_type')}: {detail.get('exc_value')}")
        return "\n".join(lines)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """New DAG files appear after the dag processor parsed them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.http.get(f"/api/v2/dags/{dag_id}")
            if r.status_code == 200:
                if r.json().get("is_paused"):
                    self.http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
                return
            time.sleep(2)
        raise TimeoutError(f"DAG {dag_id} not parsed after {timeout}s")
