"""CLI: ``PYTHONPATH=sandbox python -m wpsandbox
{up,down,status,env,conf,reset-target,source-rest,ssh-source,admin-source,classic-source,targets}``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

from wpsandbox import build
from wpsandbox.state import (
    PlatformTarget,
    SandboxState,
    airflow_connections,
    load,
    mode_a_admin_conf,
    mode_a_conf,
    mode_a_ssh_conf,
    mode_b_conf,
    state_path,
)


def _target(state: SandboxState, number: int | None) -> PlatformTarget | None:
    if number is None:
        return None
    for target in state.extra_targets:
        if target.number == number:
            return target
    raise SystemExit(f"no extra target {number}: run `python -m wpsandbox targets {number}` first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wpsandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the sandbox (reuses a healthy one)")
    p_up.add_argument("--postmeta-rows", type=int, default=None,
                      help=f"bulk postmeta rows on the source (default {build.DEFAULT_POSTMETA_ROWS}; "
                           "a running sandbox with another size is rebuilt)")
    p_up.add_argument("--force", action="store_true", help="rebuild even if the sandbox is healthy")
    sub.add_parser("down", help="stop every sandbox process")
    sub.add_parser("status", help="print what runs (JSON, no secrets)")
    sub.add_parser("env", help="print `export AIRFLOW_CONN_...=` lines (contains secrets)")
    p_conf = sub.add_parser("conf", help="print a DAG conf for the sandbox (JSON)")
    p_conf.add_argument("--migration-id", default=None)
    p_conf.add_argument("--mode", choices=["full_access", "scrape_rebuild"], default="full_access")
    p_conf.add_argument("--route", choices=["sftp_db", "ssh", "wp_admin"], default="sftp_db",
                        help="full_access only: ssh needs `ssh-source` first, wp_admin `admin-source`")
    p_conf.add_argument("--target", type=int, default=None,
                        help="into extra platform target N (needs `targets N` first)")
    p_conf.add_argument("--classic", action="store_true",
                        help="scrape_rebuild only: the classic source (needs `classic-source` first)")
    sub.add_parser("reset-target", help="restore the target to its freshly installed state")
    p_rest = sub.add_parser("source-rest", help="open or close the source's REST API")
    p_rest.add_argument("mode", choices=["on", "off"])
    p_ssh = sub.add_parser("ssh-source", help="add the socket-only ssh source (reuses a healthy one)")
    p_ssh.add_argument("--reset-log", action="store_true", help="only empty its query log")
    p_admin = sub.add_parser("admin-source", help="add the wp_admin route's source: tight PHP limits, "
                                                  "a 52 MiB file, a 5.5 MB option (reuses a healthy one)")
    p_admin.add_argument("--restart-php", action="store_true",
                         help="only restart its php -S on the same port")
    p_classic = sub.add_parser("classic-source", help="add a source on a classic theme (Twenty Twenty-One), "
                                                      "seeded like the main one (reuses a healthy one)")
    p_classic.add_argument("--rest", choices=["on", "off"], default=None,
                           help="only open or close its REST API")
    p_targets = sub.add_parser("targets", help="add extra platform targets beside the target, one per "
                                               "concurrent run (reuses healthy ones)")
    p_targets.add_argument("count", type=int)
    p_targets.add_argument("--reset", action="store_true", help="also restore each to its fresh install")
    args = parser.parse_args(argv)

    if args.command == "up":
        started, wall = time.monotonic(), time.time()
        state = build.up(postmeta_rows=args.postmeta_rows, force=args.force)
        took = time.monotonic() - started
        reused = state.created_at < wall
        print(f"sandbox {'already up' if reused else 'built'} in {took:.1f}s "
              f"(postmeta rows {state.facts.get('postmeta_count')}); state: {state_path()}")
        print(f"  source {state.source.url}  target {state.target.url}  static {state.static.url}")
        print(f"  mariadb 127.0.0.1:{state.db.port}  sftp 127.0.0.1:{state.sftp.port}")
    elif args.command == "down":
        stopped = build.down()
        print(f"stopped {len(stopped)} process group(s)")
    elif args.command == "status":
        info = build.status()
        print(json.dumps(info, indent=2))
        return 0 if info["up"] else 1
    elif args.command == "env":
        for name, value in airflow_connections(load()).items():
            print(f"export {name}={shlex.quote(value)}")
    elif args.command == "conf":
        if args.mode == "scrape_rebuild":
            state = load()
            if args.classic and state.classic_source is None:
                raise SystemExit("no classic source: run `python -m wpsandbox classic-source` first")
            classic_url = state.classic_source.url if args.classic and state.classic_source else None
            conf = mode_b_conf(state, args.migration_id, source_url=classic_url,
                               target=_target(state, args.target))
        elif args.target is not None:
            if args.route != "sftp_db":
                raise SystemExit("--target goes with the sftp_db route")
            state = load()
            conf = mode_a_conf(state, args.migration_id, target=_target(state, args.target))
        else:
            make = {"sftp_db": mode_a_conf, "ssh": mode_a_ssh_conf, "wp_admin": mode_a_admin_conf}[args.route]
            conf = make(load(), args.migration_id)
        print(json.dumps(conf, indent=2))
    elif args.command == "reset-target":
        started = time.monotonic()
        build.reset_target()
        print(f"target reset in {time.monotonic() - started:.2f}s")
    elif args.command == "source-rest":
        build.set_source_rest(args.mode == "on")
        print(f"source REST API {args.mode}")
    elif args.command == "ssh-source":
        if args.reset_log:
            build.reset_ssh_source_query_log(load())
            print("ssh source query log emptied")
            return 0
        started = time.monotonic()
        ssh = build.up_ssh_source(load()).ssh_source
        assert ssh is not None
        print(f"ssh source {ssh.url} ready in {time.monotonic() - started:.1f}s")
        print(f"  wp_root {ssh.docroot}  socket {ssh.db_socket}  query log {ssh.query_log}")
    elif args.command == "admin-source":
        started = time.monotonic()
        if args.restart_php:
            admin = build.restart_admin_source_php(load()).admin_source
        else:
            admin = build.up_admin_source(load()).admin_source
        assert admin is not None
        print(f"admin source {admin.url} ready in {time.monotonic() - started:.1f}s (pid {admin.pid})")
        print(f"  php {' '.join(f'-d {k}={v}' for k, v in admin.php_ini.items())}  "
              f"big file {admin.big_file} ({admin.big_file_size} B)  "
              f"big option {admin.big_option} ({admin.big_option_size} B)")
    elif args.command == "classic-source":
        if args.rest:
            build.set_classic_source_rest(args.rest == "on", load())
            print(f"classic source REST API {args.rest}")
            return 0
        started = time.monotonic()
        classic = build.up_classic_source(load()).classic_source
        assert classic is not None
        print(f"classic source {classic.url} ({classic.theme}) ready in {time.monotonic() - started:.1f}s "
              f"(pid {classic.pid})")
    elif args.command == "targets":
        started, state = time.monotonic(), load()
        for target in build.up_targets(args.count, state):
            if args.reset:
                build.reset_platform_target(state, target)
            print(f"target {target.number} {target.url}  connections {target.db_conn_id} {target.wp_conn_id}")
        print(f"{args.count} target(s) ready in {time.monotonic() - started:.1f}s "
              "(`conf --target N` gives a conf into one; `env` prints their connections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
