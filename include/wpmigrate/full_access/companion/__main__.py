"""Build the companion plugin's zip for a manual install (route wp_admin, ``companion_conn_id``).

    python -m wpmigrate.full_access.companion --migration-id UUID --out companion.zip

Writes the zip and prints its secret once on standard output: store it as the password of
an Airflow connection and name that connection as ``source_access.companion_conn_id``.
The secret is in no log and no file but the zip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wpmigrate.full_access.companion.package import build_zip, new_secret

# A hand-installed plugin may wait for its run longer than an automatic install does.
MANUAL_IDLE_HOURS = 72


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wpmigrate.full_access.companion",
                                     description="Build the companion plugin's zip for a manual install.")
    parser.add_argument("--migration-id", required=True,
                        help="the migration's id (the conf's migration_id, a UUID)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the zip")
    parser.add_argument("--idle-hours", type=int, default=MANUAL_IDLE_HOURS,
                        help="the plugin stops answering this long after its install or last use")
    args = parser.parse_args(argv)
    if args.idle_hours < 1:
        parser.error("--idle-hours must be at least 1")
    secret = new_secret()
    try:
        data = build_zip(secret, idle_seconds=args.idle_hours * 3600, migration_id=args.migration_id)
    except ValueError as err:
        parser.error(str(err))
    args.out.write_bytes(data)
    print(secret)
    print(f"wrote {args.out} ({len(data)} bytes); the line above is its secret", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
