"""Benchmark: rows/s of mysqlclient (MySQLdb, what wpmigrate uses) vs PyMySQL streaming a table.

Seeds the same WordPress-shaped database as ``db_export_import.py`` (``--rows``
postmeta rows) on a private MariaDB, then streams ``SELECT * FROM wpsrc_postmeta``
with each driver's unbuffered cursor (``SSCursor``, ``fetchmany(500)`` like the
export), both over the same unix socket and with the same conversions (integers as
int, everything else the server's raw bytes: what ``full_access.db.connect`` asks
for). The two drivers alternate, first one then the other, for ``--repeat`` rounds;
before timing, the first rows of both are checked to be identical.

Prints per driver the median and best rows/s and the client CPU seconds per run,
and the ratio mysqlclient / PyMySQL (above 1: mysqlclient streams faster).

    PYTHONPATH=include:sandbox .venv/bin/python bench/db_driver.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))

import MySQLdb.cursors
import pymysql  # type: ignore[import-untyped]  # PyMySQL ships no type information
import pymysql.constants.FIELD_TYPE as FT  # type: ignore[import-untyped]
import pymysql.converters  # type: ignore[import-untyped]
import pymysql.cursors  # type: ignore[import-untyped]
from db_export_import import seed_source

from wpmigrate.full_access.db.connect import DbParams, connect
from wpsandbox.services import PrivateMariaDB

DB = "bench_driver"
QUERY = b"SELECT meta_id, post_id, meta_key, meta_value FROM wpsrc_postmeta"
BATCH = 500  # the export's fetchmany size
CHECK_ROWS = 1000

Row = tuple[Any, ...]
Rows = Generator[Row, None, None]


def mysqlclient_rows(socket: str) -> Rows:
    conn = connect(DbParams("127.0.0.1", 0, "root", "", DB, unix_socket=socket))
    try:
        yield from _stream(conn.cursor(MySQLdb.cursors.SSCursor))
    finally:
        conn.close()


def pymysql_rows(socket: str) -> Rows:
    # The same contract as connect(): keep the encoders (keys are Python types), decode
    # only integers; use_unicode=False leaves every other field the server's raw bytes.
    conv: dict[Any, Any] = {k: v for k, v in pymysql.converters.conversions.items()
                            if not isinstance(k, int)}
    for t in (FT.TINY, FT.SHORT, FT.LONG, FT.LONGLONG, FT.INT24, FT.YEAR):
        conv[t] = int
    conn = pymysql.connect(unix_socket=socket, user="root", password="", database=DB,
                           charset="utf8mb4", use_unicode=False, conv=conv, autocommit=False)
    try:
        yield from _stream(conn.cursor(pymysql.cursors.SSCursor))
    finally:
        conn.close()


def _stream(cur: Any) -> Rows:
    try:
        cur.execute(QUERY)
        while batch := cur.fetchmany(BATCH):
            yield from batch
    finally:
        cur.close()


DRIVERS: dict[str, Callable[[str], Rows]] = {
    f"mysqlclient {'.'.join(map(str, MySQLdb.version_info[:3]))}": mysqlclient_rows,
    f"PyMySQL {'.'.join(map(str, pymysql.VERSION[:3]))}": pymysql_rows,
}


def check_same_rows(socket: str) -> None:
    firsts = []
    for rows in DRIVERS.values():
        it = rows(socket)
        firsts.append([next(it) for _ in range(CHECK_ROWS)])
        it.close()
    if firsts[0] != firsts[1]:
        sys.exit("the drivers return different rows: the comparison would not be fair")


def timed(rows: Callable[[str], Rows], socket: str) -> tuple[int, float, float]:
    """(rows, wall seconds, client CPU seconds) of one full stream."""
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in rows(socket):
        n += 1
    return n, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="postmeta rows to stream")
    ap.add_argument("--repeat", type=int, default=5, help="rounds; each driver streams once per round")
    args = ap.parse_args()
    if not shutil.which("mariadbd"):
        sys.exit("needs MariaDB (mariadbd, mariadb)")

    work = Path(tempfile.mkdtemp(prefix="wpm-bench-driver-"))
    server = PrivateMariaDB(work / "db")
    runs: dict[str, list[tuple[int, float, float]]] = {name: [] for name in DRIVERS}
    try:
        server.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        seed_source(server, DB, args.rows)
        server.sql("ANALYZE TABLE wpsrc_postmeta", DB)
        mb = float(server.sql("SELECT SUM(LENGTH(meta_key) + LENGTH(meta_value)) / 1048576 "
                              "FROM wpsrc_postmeta", DB))
        print(f"seeded {args.rows:,} postmeta rows ({mb:.0f} MB of text) in {time.perf_counter() - t0:.0f} s")
        socket = str(server.socket)
        check_same_rows(socket)
        for rows in DRIVERS.values():  # warm up: every timed run reads the buffer pool
            timed(rows, socket)
        names = list(DRIVERS)
        for r in range(args.repeat):
            for name in names if r % 2 == 0 else names[::-1]:
                n, wall, cpu = timed(DRIVERS[name], socket)
                if n != args.rows:
                    sys.exit(f"{name} streamed {n} rows, expected {args.rows}")
                runs[name].append((n, wall, cpu))
                print(f"  round {r + 1}: {name:20} {n / wall:>10,.0f} rows/s "
                      f"({wall:.2f} s, CPU {cpu:.2f} s)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'driver':20} {'median rows/s':>14} {'best rows/s':>12} {'median s':>9} {'median CPU s':>13}")
    medians = {}
    for name, rs in runs.items():
        medians[name] = statistics.median(n / wall for n, wall, _ in rs)
        best = max(n / wall for n, wall, _ in rs)
        wall_s, cpu_s = statistics.median(w for _, w, _ in rs), statistics.median(c for _, _, c in rs)
        print(f"{name:20} {medians[name]:>14,.0f} {best:>12,.0f} {wall_s:>9.2f} {cpu_s:>13.2f}")
    ours, other = medians.values()
    print(f"\nratio mysqlclient / PyMySQL (median rows/s): {ours / other:.2f} "
          f"({args.rows:,} rows, {args.repeat} rounds, alternating order)")


if __name__ == "__main__":
    main()
