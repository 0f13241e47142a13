"""The README's main command: migrate the sandbox source into a fresh sandbox target
through a local Airflow's REST API, as the portal would, and print the result: first with
full access (Mode A), then from the public site alone (Mode B) into a fresh target."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from pathlib import Path

from wpsandbox import local_airflow
from wpsandbox.portal_client import AirflowRest


def airflow_extra_env() -> dict[str, str]:
    from wpsandbox import state as sandbox_state

    env = sandbox_state.airflow_connections(sandbox_state.load())
    # The sandbox lives on 127.0.0.1, which production refuses (SSRF guard).
    env["WPMIGRATE_ALLOWED_SOURCE_NETWORKS"] = "127.0.0.0/8"
    return env


def sandbox(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "wpsandbox", *args], check=True)


MODE_A = "wp_migration_full_access"
# Mode A route -> (sandbox command that adds its source, state function making its conf).
ROUTES = {"sftp_db": ("", "mode_a_conf"), "ssh": ("ssh-source", "mode_a_ssh_conf"),
          "wp_admin": ("admin-source", "mode_a_admin_conf")}
MODE_B = "wp_migration_scrape_rebuild"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep-target", action="store_true", help="do not reset the target first")
    parser.add_argument("--mode", choices=["both", "full_access", "scrape_rebuild"], default="both",
                        help="which migrations to run (default: Mode A, then Mode B into a fresh target)")
    parser.add_argument("--route", choices=list(ROUTES), default="sftp_db",
                        help="how Mode A reads its source: SFTP + database (default), the SSH login "
                             "alone, or a WordPress administrator's login alone (companion plugin)")
    args = parser.parse_args()

    print("== sandbox: source and target WordPress, MariaDB, SFTP on 127.0.0.1")
    sandbox("up")
    if ROUTES[args.route][0]:
        print(f"== the {args.route} route's own source")
        sandbox(ROUTES[args.route][0])
    from wpsandbox import state as sandbox_state

    sb = sandbox_state.load()
    print("== local Airflow (standalone, SQLite, LocalExecutor)")
    af = local_airflow.up(extra_env=airflow_extra_env())
    print(f"   {af.url}  user={af.username}  password file={Path(af.home) / 'passwords.json'}")
    rest = AirflowRest(af.url, af.username, af.password)

    ok = True
    runs = []
    if args.mode in ("both", "full_access"):
        runs.append((MODE_A, getattr(sandbox_state, ROUTES[args.route][1])))
    if args.mode in ("both", "scrape_rebuild"):
        runs.append((MODE_B, sandbox_state.mode_b_conf))
    for dag_id, make_conf in runs:
        if not args.keep_target:
            sandbox("reset-target")
        ok = _migrate(rest, dag_id, make_conf(sb, str(uuid.uuid4()))) and ok
    print("   stop everything with: scripts/demo down")
    return 0 if ok else 1


def _migrate(rest: AirflowRest, dag_id: str, conf: dict) -> bool:
    """Trigger one run as the portal does, follow it, print what the portal reads."""
    rest.wait_for_dag(dag_id)
    migration_id = conf["migration_id"]
    print(f"== POST /api/v2/dags/{dag_id}/dagRuns  dag_run_id={migration_id}")
    response = rest.trigger(dag_id, migration_id, conf)
    if response.status_code != 200:
        print(f"trigger refused: {response.status_code} {response.text}")
        return False
    seen: dict[str, str | None] = {}

    def show(states: dict[str, str | None]) -> None:
        for task, state in sorted(states.items()):
            if seen.get(task) != state and state:
                print(f"   {task:30s} {state}")
        seen.update(states)

    run = rest.wait(dag_id, migration_id, timeout=1800, on_poll=show)
    report = rest.xcom(dag_id, migration_id, "verify", "report")
    stats = rest.xcom(dag_id, migration_id, "verify", "stats")
    print(f"== run {run['state']}")
    if stats:
        print("   stats: " + json.dumps(stats))
    if report:
        print(f"   verification ok={report['ok']}")
        print(f"   report: {report['html_uri']}")
        for loss in report.get("losses", []):
            print(f"   loss: {loss}")
        _print_sections(report["json_uri"])
    if dag_id == MODE_B:
        redirects = rest.xcom(dag_id, migration_id, "verify", "redirect_map")
        if redirects:
            print(f"   redirect map: {redirects}")
    error = None
    for task in rest.task_states(dag_id, migration_id):
        if "[" not in task:  # mapped tasks report through the unmapped ones downstream
            error = error or rest.xcom(dag_id, migration_id, task, "error")
    if error:
        print(f"   error: {error['code']}: {error['message']}")
    print(f"== target site: {conf['target']['url']}/")
    return run["state"] == "success"


def _print_sections(json_uri: str) -> None:
    from upath import UPath

    try:
        report = json.loads(UPath(json_uri).read_text())
    except (OSError, ValueError):
        return
    for section in (report.get("sections") or {}).values():
        print(f"   {section.get('status', '?').upper():5s} {section.get('title')}: "
              f"{section.get('checked')} checked, {section.get('problem_count')} problem(s)")
    theme = report.get("theme")
    if theme:
        print(f"   theme: {theme.get('label')} (confidence {theme.get('confidence')}, by {theme.get('by')})")


if __name__ == "__main__":
    sys.exit(main())
