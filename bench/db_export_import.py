"""Benchmark: peak memory and throughput of the database export/import.

Builds a WordPress-shaped source database with N and 10*N postmeta rows on a private
MariaDB, then for each size measures, in separate child processes (so peak RSS is
per operation):
  - export_database()  vs  mariadb-dump --single-transaction --quick
  - import_database()  vs  the mariadb client loading that dump
and prints peak RSS at N and 10*N (bounded memory means they stay close) and the
time ratios against the standard tools, measured in the same run.

Note: our import does more than the client (URL rewriting of every text value,
prefix mapping, temporary tables and the swap), so a ratio > 1 is expected there.

    .venv/bin/python bench/db_export_import.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for sub in ("include", "sandbox"):
    sys.path.insert(0, str(ROOT / sub))

OLD, NEW = "http://old.example", "https://new.example"

SCHEMA = """
CREATE TABLE {p}options (option_id bigint unsigned NOT NULL auto_increment,
  option_name varchar(191) NOT NULL default '', option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL default 'yes', PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}posts (ID bigint unsigned NOT NULL auto_increment, post_author bigint unsigned NOT NULL
  default 0, post_date datetime NOT NULL default '0000-00-00 00:00:00', post_content longtext NOT NULL,
  post_title text NOT NULL, guid varchar(255) NOT NULL default '', PRIMARY KEY (ID)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}postmeta (meta_id bigint unsigned NOT NULL auto_increment, post_id bigint unsigned NOT NULL
  default 0, meta_key varchar(255) default NULL, meta_value longtext, PRIMARY KEY (meta_id),
  KEY post_id (post_id), KEY meta_key (meta_key(191))
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
"""


def seed_source(src: Any, db: str, n: int) -> None:
    """A WordPress-shaped source with ``n`` postmeta rows (a quarter serialized with
    URLs) and n/20 posts, in database ``db`` of PrivateMariaDB ``src``."""
    src.sql(f"CREATE DATABASE {db}")
    src.sql(SCHEMA.format(p="wpsrc_"), db)
    posts = max(1, n // 20)
    src.sql(
        "INSERT INTO wpsrc_options (option_name, option_value) VALUES ('siteurl', '" + OLD + "'),"
        "('home', '" + OLD + "');"
        "INSERT INTO wpsrc_posts (post_author, post_content, post_title, guid) SELECT 1, "
        "REPEAT(CONCAT('<p>Caf\u00e9 \U0001F600 <a href=\"" + OLD + "/p/', seq, "
        "'\">link</a></p>'), 20), CONCAT('Post ', seq), CONCAT('" + OLD + "/?p=', seq) "
        f"FROM seq_1_to_{posts};"
        "INSERT INTO wpsrc_postmeta (post_id, meta_key, meta_value) SELECT seq % 5000 + 1, "
        "CONCAT('_meta_', seq % 13), IF(seq % 4 = 0, CONCAT('a:2:{s:3:\"url\";s:', "
        "LENGTH(CONCAT('" + OLD + "/wp-content/uploads/', seq, '.jpg')), ':\"', "
        "CONCAT('" + OLD + "/wp-content/uploads/', seq, '.jpg'), '\";s:1:\"w\";i:640;}'), "
        "CONCAT('value number ', seq, ' with some text to make it realistic')) "
        "FROM seq_1_to_" + str(n), db)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(args: argparse.Namespace) -> None:
    """One measured operation; prints a JSON line."""
    from wpmigrate.full_access.db.connect import DbParams, connect
    from wpmigrate.full_access.db.exporter import export_database
    from wpmigrate.full_access.db.importer import import_database
    from wpmigrate.rewrite.url_rewrite import DEFAULT_SKIP_COLUMNS, UrlRewriter

    baseline = _maxrss_mb()
    params = DbParams("127.0.0.1", 0, "root", "", args.db, unix_socket=args.socket)
    conn = connect(params, local_infile=True)
    t0 = time.perf_counter()
    if args.child == "export":
        result = export_database(conn, Path(args.dir), table_prefix="wpsrc_")
        rows = result["totals"]["rows"]
    else:
        result = import_database(conn, Path(args.dir), source_prefix="wpsrc_", target_prefix="wp_",
                                 rewriter=UrlRewriter.for_migration([OLD], NEW),
                                 skip_columns=DEFAULT_SKIP_COLUMNS)
        rows = result["rows_total"]
    seconds = time.perf_counter() - t0
    conn.close()
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": _maxrss_mb(),
                      "baseline_rss_mb": baseline}))


def measure(op: str, socket: str, db: str, directory: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", op, "--socket", socket, "--db", db,
                          "--dir", str(directory)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(cmd: list[str], stdin: Path | None = None, stdout: Path | None = None) -> float:
    with contextlib.ExitStack() as stack:
        i = stack.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL
        o = stack.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        t0 = time.perf_counter()
        subprocess.run(cmd, stdin=i, stdout=o, check=True)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="N postmeta rows (also runs 10*N)")
    ap.add_argument("--child", choices=("export", "import"))
    ap.add_argument("--socket")
    ap.add_argument("--db")
    ap.add_argument("--dir")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if not shutil.which("mariadbd"):
        sys.exit("needs MariaDB (mariadbd, mariadb, mariadb-dump)")
    from wpsandbox.services import PrivateMariaDB

    work = Path(tempfile.mkdtemp(prefix="wpm-bench-"))
    src, tgt = PrivateMariaDB(work / "source"), PrivateMariaDB(work / "target")
    results = []
    try:
        src.start()
        tgt.start()
        time.sleep(0.5)
        for n in (args.rows, 10 * args.rows):
            db = f"src_{n}"
            seed_source(src, db, n)
            export_dir = work / f"export_{n}"
            ours_exp = measure("export", str(src.socket), db, export_dir)
            tgt.sql(f"CREATE DATABASE tgt_{n}")
            tgt.sql(SCHEMA.format(p="wp_"), f"tgt_{n}")
            ours_imp = measure("import", str(tgt.socket), f"tgt_{n}", export_dir)
            dump = work / f"dump_{n}.sql"
            dump_s = _timed(["mariadb-dump", "--no-defaults", f"--socket={src.socket}", "-uroot",
                             "--single-transaction", "--quick", "--hex-blob",
                             "--default-character-set=utf8mb4", db], stdout=dump)
            tgt.sql(f"CREATE DATABASE plain_{n}")
            load_s = _timed(["mariadb", "--no-defaults", f"--socket={tgt.socket}", "-uroot",
                             "--default-character-set=utf8mb4", f"plain_{n}"], stdin=dump)
            export_bytes = sum(p.stat().st_size for p in export_dir.iterdir())
            results.append({"n": n, "export": ours_exp, "import": ours_imp, "dump_s": dump_s,
                            "client_import_s": load_s, "export_mb": export_bytes / 2**20,
                            "dump_mb": dump.stat().st_size / 2**20})
    finally:
        src.stop()
        tgt.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'postmeta rows':>14} {'rows total':>10} | {'export s':>8} {'dump s':>7} {'ratio':>6} | "
          f"{'import s':>8} {'client s':>8} {'ratio':>6} | {'export RSS':>10} {'import RSS':>10} | "
          f"{'artifact MB':>11} {'dump MB':>8}")
    for r in results:
        e, i = r["export"], r["import"]
        print(f"{r['n']:>14,} {e['rows']:>10,} | {e['seconds']:>8.2f} {r['dump_s']:>7.2f} "
              f"{e['seconds'] / r['dump_s']:>6.2f} | {i['seconds']:>8.2f} {r['client_import_s']:>8.2f} "
              f"{i['seconds'] / r['client_import_s']:>6.2f} | {e['peak_rss_mb']:>8.1f}MB "
              f"{i['peak_rss_mb']:>8.1f}MB | {r['export_mb']:>11.1f} {r['dump_mb']:>8.1f}")
    small, big = results
    print(f"\nthroughput: export {small['export']['rows'] / small['export']['seconds']:,.0f} / "
          f"{big['export']['rows'] / big['export']['seconds']:,.0f} rows/s, import "
          f"{small['import']['rows'] / small['import']['seconds']:,.0f} / "
          f"{big['import']['rows'] / big['import']['seconds']:,.0f} rows/s (N / 10N)")
    exp_growth = big["export"]["peak_rss_mb"] / small["export"]["peak_rss_mb"]
    imp_growth = big["import"]["peak_rss_mb"] / small["import"]["peak_rss_mb"]
    print(f"peak RSS growth from N to 10N: export x{exp_growth:.2f}, import x{imp_growth:.2f} "
          f"(interpreter + imports baseline {small['export']['baseline_rss_mb']:.1f} MB)")
    print("ratio = our seconds / standard tool seconds (lower is better); our import also rewrites URLs,"
          " maps prefixes and swaps tables atomically")


if __name__ == "__main__":
    main()
