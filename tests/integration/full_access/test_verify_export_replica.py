"""Verification from export artifacts (``verify.export_replica``): the ``wp_admin`` route
has no connection to the source database, so a replica of its export stands in for it.

The real sandbox source is exported with ``export_database`` (read-only user); replicas,
and the import they are checked against, live in a private scratch database made for
this module (root), never in the sandbox's own databases.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.exporter import export_database
from wpmigrate.full_access.db.importer import drop_staging_tables, import_database
from wpmigrate.full_access.db.table_prefix import map_option_name, map_usermeta_key
from wpmigrate.full_access.verify.db_checks import list_tables
from wpmigrate.full_access.verify.export_replica import source_replica
from wpmigrate.full_access.verify.verifier import verify_full_access
from wpmigrate.rewrite.url_rewrite import UrlRewriter

pytestmark = pytest.mark.sandbox

NEW_URL = "https://new-site.example"
TARGET_PREFIX = "wp_"
DB_CHECKS = ("row_counts", "posts", "terms", "comments", "users")
LABEL = "export artifacts (route wp_admin)"


def _root(sb: Any, database: str) -> MySQLdb.Connection:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user="root", password="", database=database,
                            unix_socket=sb.db.socket), local_infile=True)


def _reader(sb: Any) -> MySQLdb.Connection:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user=sb.db.reader_user,
                            password=sb.db.reader_password, database=sb.db.source_db))


def _exec(conn: Any, sql: str, args: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        rows = list(cur.fetchall())
    conn.commit()
    return rows


def _replica_tables(conn: MySQLdb.Connection) -> list[str]:
    return [r[0].decode() for r in _exec(conn, "SHOW TABLES LIKE '\\_wpm\\_rep\\_%'")]


@pytest.fixture(scope="module")
def exported(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("replica-export") / "db"
    conn = _reader(sandbox)
    try:
        manifest = export_database(conn, out, table_prefix=sandbox.source.table_prefix)
    finally:
        conn.close()
    return {"dir": out, "manifest": manifest}


@pytest.fixture(scope="module")
def scratch(sandbox: Any, exported: dict[str, Any]) -> Iterator[str]:
    """A private database holding the export imported under ``wp_`` (the target side)."""
    name = f"wpm_replica_{uuid.uuid4().hex[:8]}"
    admin = _root(sandbox, sandbox.db.source_db)
    _exec(admin, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        conn = _root(sandbox, name)
        import_database(conn, exported["dir"], source_prefix=sandbox.source.table_prefix,
                        target_prefix=TARGET_PREFIX,
                        rewriter=UrlRewriter.for_migration([sandbox.source.url], NEW_URL))
        conn.close()
        yield name
    finally:
        _exec(admin, f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _verify(conn: MySQLdb.Connection, replica_prefix: str, **kw: Any) -> dict[str, Any]:
    """The ``wp_admin`` route's verification: replica as source, import as target, one connection."""
    return verify_full_access(
        source_conn=conn, target_conn=conn, source_prefix=replica_prefix, target_prefix=TARGET_PREFIX,
        target_url=None, files_manifest=None, target_wp_content=None, source_label=LABEL, **kw)


# ---------------------------------------------------------------- (a) the replica is the source


def test_replica_equals_the_real_source(sandbox: Any, exported: dict[str, Any], scratch: str) -> None:
    sp = sandbox.source.table_prefix
    conn = _root(sandbox, scratch)
    admin = _root(sandbox, sandbox.db.source_db)
    with source_replica(conn, exported["dir"], source_prefix=sp) as rp:
        suffixes = sorted(t[len(sp):] for t in exported["manifest"]["tables"])
        assert sorted(t[len(rp):] for t in list_tables(conn, rp)) == suffixes
        assert {"posts", "postmeta", "options", "usermeta"} <= set(suffixes)
        # Byte for byte: CHECKSUM TABLE over every row of both tables...
        for suffix in suffixes:
            if suffix in ("options", "usermeta"):
                continue
            (_, src_sum), (_, rep_sum) = _exec(
                admin, f"CHECKSUM TABLE `{sandbox.db.source_db}`.`{sp}{suffix}`, `{scratch}`.`{rp}{suffix}`")
            assert src_sum == rep_sum and src_sum is not None, suffix
        # ...and where keys carry the prefix, the rows with that prefix mapped as an import does.
        for suffix, key_col, mapper in (("options", 1, map_option_name), ("usermeta", 2, map_usermeta_key)):
            src_rows = _exec(admin, f"SELECT * FROM `{sandbox.db.source_db}`.`{sp}{suffix}` ORDER BY 1")
            rep_rows = _exec(admin, f"SELECT * FROM `{scratch}`.`{rp}{suffix}` ORDER BY 1")
            mapped = [(*row[:key_col], mapper(row[key_col], sp, rp), *row[key_col + 1:]) for row in src_rows]
            assert rep_rows == mapped, suffix
        assert any(row[2] == (rp + "capabilities").encode() for row in rep_rows)

        # The verifier sees the real source and the replica as the same site.
        report = verify_full_access(
            source_conn=_reader(sandbox), target_conn=conn, source_prefix=sp, target_prefix=rp,
            old_origins=[], target_url=None, files_manifest=None, target_wp_content=None, checks=DB_CHECKS)
        assert report["ok"], report["losses"]
        assert report["summary"] == {name: "pass" for name in DB_CHECKS}
        assert all(t["status"] == "equal" for t in report["sections"]["row_counts"]["tables"])
        assert "from" not in report["source"]  # the default report is unchanged
    admin.close()


# ---------------------------------------------------------------- (b) as the source side


def test_replica_as_source_verifies_the_import_and_detects_losses(sandbox: Any, exported: dict[str, Any],
                                                                  scratch: str) -> None:
    sp = sandbox.source.table_prefix
    conn = _root(sandbox, scratch)
    checks = (*DB_CHECKS, "old_origins", "serialized")
    with source_replica(conn, exported["dir"], source_prefix=sp) as rp:
        pristine = _verify(conn, rp, old_origins=[sandbox.source.url], checks=checks)
        assert pristine["ok"], pristine["losses"]
        assert pristine["source"] == {"database": scratch, "prefix": rp,
                                      "tables": len(exported["manifest"]["tables"]), "from": LABEL}
        assert pristine["sections"]["row_counts"]["target_only_tables"] == []
        assert pristine["sections"]["users"]["source_users"] == len(sandbox.facts["users"])

        lost_post = sandbox.facts["posts"]["showcase"]
        (user_id,) = _exec(conn, f"SELECT ID FROM {TARGET_PREFIX}users WHERE user_login = %s",
                           ("subscriber_sam",))[0]
        saved_post = _exec(conn, f"SELECT * FROM {TARGET_PREFIX}posts WHERE ID = %s", (lost_post,))
        saved_cap = _exec(conn, f"SELECT * FROM {TARGET_PREFIX}usermeta WHERE user_id = %s AND meta_key = %s",
                          (user_id, TARGET_PREFIX + "capabilities"))
        assert saved_post and saved_cap
        try:
            _exec(conn, f"DELETE FROM {TARGET_PREFIX}posts WHERE ID = %s", (lost_post,))
            _exec(conn, f"DELETE FROM {TARGET_PREFIX}usermeta WHERE user_id = %s AND meta_key = %s",
                  (user_id, TARGET_PREFIX + "capabilities"))
            damaged = _verify(conn, rp, old_origins=[], checks=DB_CHECKS)
        finally:
            marks = ", ".join(["%s"] * len(saved_post[0]))
            _exec(conn, f"INSERT INTO {TARGET_PREFIX}posts VALUES ({marks})", saved_post[0])
            _exec(conn, f"INSERT INTO {TARGET_PREFIX}usermeta VALUES (%s, %s, %s, %s)", saved_cap[0])
    assert damaged["ok"] is False
    sections = damaged["sections"]
    rows = {p["table"]: p for p in sections["row_counts"]["problems"]}
    assert rows["posts"]["missing_rows"] == 1 and rows["usermeta"]["missing_rows"] == 1
    assert {p["type/status"]: p["missing"] for p in sections["posts"]["problems"]} == {"post/publish": 1}
    # Roles: the replica's keys follow its prefix, so the role comparison is a real one.
    assert any("capabilities" in p["reason"] and p["source"] - p["target"] == 1
               for p in sections["users"]["problems"])


# ---------------------------------------------------------------- (c) cleanup


def test_replica_tables_are_dropped_on_exit_and_on_error(sandbox: Any, exported: dict[str, Any],
                                                         scratch: str) -> None:
    sp = sandbox.source.table_prefix
    conn = _root(sandbox, scratch)
    live = sorted(list_tables(conn, TARGET_PREFIX))
    with source_replica(conn, exported["dir"], source_prefix=sp) as rp:
        assert len(_replica_tables(conn)) == len(exported["manifest"]["tables"])
    assert _replica_tables(conn) == []

    with pytest.raises(RuntimeError, match="verification blew up"), \
            source_replica(conn, exported["dir"], source_prefix=sp) as rp2:
        assert rp2 != rp and list_tables(conn, rp2)
        raise RuntimeError("verification blew up")
    assert _replica_tables(conn) == []
    assert sorted(list_tables(conn, TARGET_PREFIX)) == live  # the live tables were never touched


def test_a_corrupt_artifact_fails_the_replica_and_leaves_nothing(sandbox: Any, exported: dict[str, Any],
                                                                 scratch: str, tmp_path: Path) -> None:
    broken = tmp_path / "db"
    shutil.copytree(exported["dir"], broken)
    last_table, meta = list(exported["manifest"]["tables"].items())[-1]
    data = bytearray((broken / meta["data_file"]).read_bytes())
    data[-1] ^= 0xFF
    (broken / meta["data_file"]).write_bytes(bytes(data))
    conn = _root(sandbox, scratch)
    with pytest.raises(MigrationError) as err, \
            source_replica(conn, broken, source_prefix=sandbox.source.table_prefix):
        pytest.fail("a corrupt export must not yield a replica")
    assert err.value.code == ErrorCode.VERIFICATION_FAILED and err.value.permanent
    assert err.value.details["table"] == last_table
    assert _replica_tables(conn) == []


def test_a_crashed_replica_holds_the_import_lock_and_cleanup_drops_it(sandbox: Any, exported: dict[str, Any],
                                                                      scratch: str) -> None:
    conn = _root(sandbox, scratch)
    live = sorted(list_tables(conn, TARGET_PREFIX))
    victim = _root(sandbox, scratch)
    replica = source_replica(victim, exported["dir"], source_prefix=sandbox.source.table_prefix)
    rp = replica.__enter__()
    # While it exists no import can start (the import would drop it as a leftover).
    assert _exec(conn, "SELECT GET_LOCK(%s, 0)", (f"wpmigrate-import-{scratch}",)) == [(0,)]
    victim.close()  # the worker died: the context never exits
    leftovers = _replica_tables(conn)
    assert leftovers and all(t.startswith(rp) for t in leftovers)
    assert drop_staging_tables(conn) == sorted(leftovers)  # what the DAG's cleanup runs
    assert _replica_tables(conn) == []
    assert sorted(list_tables(conn, TARGET_PREFIX)) == live
    replica.__exit__(None, None, None)  # a late exit on the dead connection is harmless
