"""Peak memory of the database export and import does not grow with the table size.

Each operation runs in its own process (bench/db_export_import.py --child) against a
private MariaDB, for N and 10N postmeta rows; its peak RSS (getrusage ru_maxrss) must
stay flat. A loader that held a table or a result set in memory grows by tens of MB
here (10N rows are about 60 MB of data).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from wpsandbox.services import PrivateMariaDB

ROOT = Path(__file__).resolve().parents[3]
# Large enough that the import fills its 4 MB INSERT batches already at N.
N = 100_000


def _bench():
    spec = importlib.util.spec_from_file_location("bench_db", ROOT / "bench" / "db_export_import.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.sandbox
def test_export_and_import_peak_rss_is_flat_from_n_to_10n(tmp_path: Path) -> None:
    bench = _bench()
    src, tgt = PrivateMariaDB(tmp_path / "src"), PrivateMariaDB(tmp_path / "tgt")
    peaks = {}
    try:
        src.start()
        tgt.start()
        for n in (N, 10 * N):
            db = f"src_{n}"
            bench.seed_source(src, db, n)
            out = tmp_path / f"export_{n}"
            exported = bench.measure("export", str(src.socket), db, out)
            tgt.sql(f"CREATE DATABASE tgt_{n}")
            tgt.sql(bench.SCHEMA.format(p="wp_"), f"tgt_{n}")
            imported = bench.measure("import", str(tgt.socket), f"tgt_{n}", out)
            assert exported["rows"] >= n and imported["rows"] >= n
            peaks[n] = (exported["peak_rss_mb"], imported["peak_rss_mb"])
    finally:
        src.stop()
        tgt.stop()
    (export_small, import_small), (export_big, import_big) = peaks[N], peaks[10 * N]
    print(f"peak RSS export {export_small:.1f} -> {export_big:.1f} MB, "
          f"import {import_small:.1f} -> {import_big:.1f} MB")
    assert export_big <= export_small * 1.15 + 4
    assert import_big <= import_small * 1.15 + 4
