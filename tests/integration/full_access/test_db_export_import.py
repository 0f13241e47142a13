"""Database export and import against real MariaDB servers (no mocks).

Two private servers per test module: the source (prefix ``wpsrc_``) and the target
(prefix ``wp_``, started with a 1 MiB ``max_allowed_packet`` so oversized rows are
exercised). Tables are WordPress-shaped (core schema) plus plugin-like tables without
a primary key, with a composite key, with a latin1 column and with a BLOB.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.exporter import export_database
from wpmigrate.full_access.db.importer import import_database
from wpmigrate.full_access.db.row_stream import ArtifactCorrupt, RowReader, RowWriter
from wpmigrate.rewrite.url_rewrite import DEFAULT_SKIP_COLUMNS, UrlRewriter
from wpsandbox.services import PrivateMariaDB

OLD, NEW = "http://old.example", "https://new.example"
POSTMETA_ROWS = 60_000
TARGET_PACKET = 1 << 20
needs_mariadb = pytest.mark.skipif(shutil.which("mariadbd") is None, reason="needs MariaDB")


def make_rewriter() -> UrlRewriter:
    return UrlRewriter.for_migration([OLD], NEW)


# --------------------------------------------------------------------------- row_stream


def test_row_stream_round_trip_and_sha256(tmp_path: Path) -> None:
    rows = [(1, None, b"", b"\x00\xff" * 10), (2**64 - 1, -5, "😀".encode() * 3, b"x" * (3 << 20))]
    with RowWriter(tmp_path / "t.rows", ["a", "b", "c", "d"]) as w:
        for r in rows:
            w.write(r)
    reader = RowReader(tmp_path / "t.rows", w.sha256)
    assert reader.columns == ["a", "b", "c", "d"]
    assert list(reader) == rows
    assert w.rows == 2 and w.bytes == (tmp_path / "t.rows").stat().st_size
    data = bytearray((tmp_path / "t.rows").read_bytes())
    data[-1] ^= 1
    (tmp_path / "t.rows").write_bytes(bytes(data))
    with pytest.raises(ArtifactCorrupt):
        list(RowReader(tmp_path / "t.rows", w.sha256))
    (tmp_path / "t.rows").write_bytes(bytes(data[:-5]))
    with pytest.raises(ArtifactCorrupt):
        list(RowReader(tmp_path / "t.rows"))


def test_row_stream_works_on_any_path_object(tmp_path: Path) -> None:
    """Only ``/``, ``open()``, ``exists()``, ``mkdir()``: a memory-backed path is enough."""
    store: dict[str, bytes] = {}

    class MemPath:
        def __init__(self, key: str) -> None:
            self.key = key

        def __truediv__(self, other: str) -> MemPath:
            return MemPath(f"{self.key}/{other}")

        def open(self, mode: str = "rb") -> Any:
            if mode == "wb":
                buf = io.BytesIO()
                real_close = buf.close

                def close() -> None:
                    store[self.key] = buf.getvalue()
                    real_close()
                buf.close = close  # type: ignore[method-assign]
                return buf
            return io.BytesIO(store[self.key])

        def exists(self) -> bool:
            return self.key in store

        def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
            pass

    with RowWriter(MemPath("s3://bucket") / "x.rows", ["a"]) as w:
        w.write((b"v",))
    assert list(RowReader(MemPath("s3://bucket") / "x.rows", w.sha256)) == [(b"v",)]


# --------------------------------------------------------------------------- servers

SCHEMA = """
CREATE TABLE {p}options (
  option_id bigint(20) unsigned NOT NULL auto_increment,
  option_name varchar(191) NOT NULL default '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL default 'yes',
  PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name), KEY autoload (autoload)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}users (
  ID bigint(20) unsigned NOT NULL auto_increment,
  user_login varchar(60) NOT NULL default '',
  user_pass varchar(255) NOT NULL default '',
  user_nicename varchar(50) NOT NULL default '',
  user_email varchar(100) NOT NULL default '',
  user_url varchar(100) NOT NULL default '',
  user_registered datetime NOT NULL default '0000-00-00 00:00:00',
  user_activation_key varchar(255) NOT NULL default '',
  user_status int(11) NOT NULL default '0',
  display_name varchar(250) NOT NULL default '',
  PRIMARY KEY (ID), KEY user_login_key (user_login), KEY user_nicename (user_nicename),
  KEY user_email (user_email)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}usermeta (
  umeta_id bigint(20) unsigned NOT NULL auto_increment,
  user_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (umeta_id), KEY user_id (user_id), KEY meta_key (meta_key(191))
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}posts (
  ID bigint(20) unsigned NOT NULL auto_increment,
  post_author bigint(20) unsigned NOT NULL default '0',
  post_date datetime NOT NULL default '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL default '0000-00-00 00:00:00',
  post_content longtext NOT NULL,
  post_title text NOT NULL,
  post_status varchar(20) NOT NULL default 'publish',
  post_name varchar(200) NOT NULL default '',
  guid varchar(255) NOT NULL default '',
  menu_order int(11) NOT NULL default '0',
  post_type varchar(20) NOT NULL default 'post',
  PRIMARY KEY (ID), KEY post_name (post_name(191))
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}postmeta (
  meta_id bigint(20) unsigned NOT NULL auto_increment,
  post_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id), KEY post_id (post_id), KEY meta_key (meta_key(191))
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE {p}term_relationships (
  object_id bigint(20) unsigned NOT NULL default 0,
  term_taxonomy_id bigint(20) unsigned NOT NULL default 0,
  term_order int(11) NOT NULL default 0,
  PRIMARY KEY (object_id,term_taxonomy_id), KEY term_taxonomy_id (term_taxonomy_id)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
"""

SOURCE_EXTRA = """
CREATE TABLE wpsrc_redirects (  -- composite text key
  site varchar(50) NOT NULL, path varchar(150) NOT NULL, target text NOT NULL, hits decimal(12,4),
  PRIMARY KEY (site, path)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE wpsrc_activity_log (  -- no primary key, duplicates allowed
  at timestamp NULL, message text, score double
) DEFAULT CHARSET=utf8mb4;
CREATE TABLE wpsrc_legacy (  -- latin1 table holding UTF-8 and invalid bytes
  id int NOT NULL PRIMARY KEY, body longtext
) DEFAULT CHARSET=latin1;
CREATE TABLE wpsrc_files (
  id int NOT NULL PRIMARY KEY, name varchar(100), data longblob
) DEFAULT CHARSET=utf8mb4;
CREATE VIEW wpsrc_recent AS SELECT ID, post_title FROM wpsrc_posts;
CREATE TABLE wpsrc_other_options (option_name varchar(10));  -- another install (wpsrc_other_)
CREATE TABLE wpsrc_other_posts (ID int);
CREATE TABLE wp_posts (ID int);  -- another prefix
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateMariaDB, PrivateMariaDB]]:
    if shutil.which("mariadbd") is None:
        pytest.skip("needs MariaDB")
    base = tmp_path_factory.mktemp("dbx")
    src = PrivateMariaDB(base / "source")
    tgt = PrivateMariaDB(base / "target", extra_args=(f"--max-allowed-packet={TARGET_PACKET}",))
    try:
        src.start()
        tgt.start()
        _wait_sql(src)
        _wait_sql(tgt)
        src.sql("CREATE DATABASE src")
        tgt.sql("CREATE DATABASE tgt")
        yield src, tgt
    finally:
        src.stop()
        tgt.stop()


def _wait_sql(db: PrivateMariaDB) -> None:
    import time
    for _ in range(100):
        try:
            db.sql("SELECT 1")
            return
        except Exception:
            time.sleep(0.1)
    db.sql("SELECT 1")


def params(db: PrivateMariaDB, database: str) -> DbParams:
    return DbParams("127.0.0.1", db.port, "root", "", database, unix_socket=str(db.socket))


def admin(db: PrivateMariaDB, database: str) -> MySQLdb.Connection:
    conn = connect(params(db, database))
    conn.autocommit(True)
    cur = conn.cursor()
    cur.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
    cur.execute("SET SESSION character_set_results = binary")
    cur.execute("SET SESSION time_zone = '+00:00'")
    return conn


def run(conn: MySQLdb.Connection, sql: str | bytes, args: Any = None) -> list[tuple]:
    cur = conn.cursor()
    cur.execute(sql, args)
    rows = list(cur.fetchall() or ())
    cur.close()
    return rows


BIG_TEXT = ("Start <a href=\"http://old.example/x\">old</a> é'\\中😀 " * 80_000).encode()  # ~3 MB
QUOTED_TEXT = ("''''\\\\é😀" * 66_000).encode()  # 792 kB, escapes to ~1.2 MB
BIG_BLOB = bytes(range(256)) * 10_000  # 2.5 MB
MID_BLOB = bytes(range(256)) * 2_400  # 600 kB, 1.2 MB as hex
SERIALIZED = b'a:2:{s:3:"url";s:22:"http://old.example/img";s:5:"title";s:8:"Caf\xc3\xa9 \xf0\x9f\x98\x80";}'
LATIN1_BYTES = b"caf\xc3\xa9 \xc3( \xff\x81 http://old.example/legacy"


@pytest.fixture(scope="module")
def source(servers: tuple[PrivateMariaDB, PrivateMariaDB]) -> PrivateMariaDB:
    src, _ = servers
    conn = admin(src, "src")
    for stmt in (SCHEMA.format(p="wpsrc_") + SOURCE_EXTRA).split(";\n"):
        if stmt.strip():
            run(conn, stmt)
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO wpsrc_options (option_id, option_name, option_value, autoload) VALUES (%s,%s,%s,%s)",
        [(0, "zero_id_option", "id zero kept", "no"),
         (1, "siteurl", OLD, "yes"), (2, "home", OLD, "yes"),
         (3, "blogname", "Café 😀 中文 ブログ", "yes"),
         (4, "wpsrc_user_roles", 'a:1:{s:13:"administrator";a:1:{s:4:"name";s:13:"Administrator";}}', "yes"),
         (5, "wp_user_roles", "stale copy of an old prefix", "yes"),
         (6, "theme_mods_x", SERIALIZED, "yes"),
         (7, "_transient_feed", "source transient", "no"),
         (8, "wpsrc_settings", "plugin option that merely starts with the prefix", "yes"),
         # rewriting makes the second name equal to the first (unique key): it keeps its own
         (9, f"cache_{NEW}/a", "new", "no"), (10, f"cache_{OLD}/a", "old", "no")])
    cur.executemany(
        "INSERT INTO wpsrc_users (ID, user_login, user_pass, user_email, user_registered, display_name)"
        " VALUES (%s,%s,%s,%s,%s,%s)",
        [(1, "admin", "$P$hash-http://old.example", "a@old.example", "0000-00-00 00:00:00", "Admin 😀"),
         (2, "platform-bot", "$P$x", "bot@old.example", "2020-01-01 00:00:00", "Source bot"),
         (7, "author7", "$P$y", "a7@old.example", "2021-02-03 04:05:06", "Seven")])
    cur.executemany(
        "INSERT INTO wpsrc_usermeta (user_id, meta_key, meta_value) VALUES (%s,%s,%s)",
        [(1, "wpsrc_capabilities", 'a:1:{s:13:"administrator";b:1;}'), (1, "wpsrc_user_level", "10"),
         (1, "wpsrc_user-settings", "libraryContent=browse"), (1, "nickname", "admin"),
         (1, "my_wpsrc_capabilities", "not a prefix key"),
         (7, "wpsrc_capabilities", 'a:1:{s:6:"author";b:1;}'),
         (7, "wp_capabilities", 'a:1:{s:13:"administrator";b:1;}')])  # stale: must not grant admin
    cur.executemany(
        "INSERT INTO wpsrc_posts (ID, post_author, post_date, post_date_gmt, post_content, post_title,"
        " post_status, post_name, guid, post_type) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        [(1, 1, "2020-05-06 07:08:09", "2020-05-06 05:08:09", f'<a href="{OLD}/about/">x</a>', "Hello 世界",
          "publish", "hello", f"{OLD}/?p=1", "post"),
         (2, 1, "0000-00-00 00:00:00", "0000-00-00 00:00:00", "draft", "Draft", "draft", "", f"{OLD}/?p=2",
          "post"),
         (10, 1, "2022-01-01 00:00:00", "2022-01-01 00:00:00", BIG_TEXT, "Big", "publish", "big",
          f"{OLD}/?p=10", "post"),
         (11, 7, "2022-01-02 00:00:00", "2022-01-02 00:00:00", QUOTED_TEXT, "Quotes", "publish", "quotes",
          f"{OLD}/?p=11", "page")])
    run(conn, "INSERT INTO wpsrc_postmeta (post_id, meta_key, meta_value) SELECT seq % 50 + 1, "
              "CONCAT('key_', seq % 7), IF(seq % 3 = 0, NULL, CONCAT('" + OLD + "/img/', seq, '.jpg')) "
              f"FROM seq_1_to_{POSTMETA_ROWS}")
    run(conn, "INSERT INTO wpsrc_term_relationships SELECT seq DIV 3, seq % 3, seq FROM seq_0_to_2499")
    cur.executemany("INSERT INTO wpsrc_redirects VALUES (%s,%s,%s,%s)",
                    [("a", f"/p{i:04d}-é", f"{OLD}/n{i}", f"{i}.5000") for i in range(1500)]
                    + [("b", "/Ünïcode-中", f"{OLD}/u", None), ("b", "/", "//old.example/", "0.0001")])
    cur.executemany("INSERT INTO wpsrc_activity_log VALUES (%s,%s,%s)",
                    [("2023-03-04 05:06:07", f"event {i % 10}", 0.1 * (i % 10)) for i in range(2500)]
                    + [(None, None, None), (None, None, None), ("1970-01-01 00:00:01", "dup", 1e300)])
    run(conn, b"INSERT INTO wpsrc_legacy VALUES (1, X'" + LATIN1_BYTES.hex().encode() + b"'), (2, '')")
    cur.executemany("INSERT INTO wpsrc_files VALUES (%s,%s,%s)",
                    [(1, "big.bin", BIG_BLOB), (2, "mid.bin", MID_BLOB), (3, "empty", b""),
                     (4, "null", None)])
    cur.close()
    conn.close()
    return src


def snapshot_table(conn: MySQLdb.Connection, table: str) -> list[tuple]:
    cols = [r[0].decode() for r in run(conn, f"SHOW COLUMNS FROM `{table}`")]
    order = ", ".join(f"`{c}`" for c in cols)
    return run(conn, f"SELECT * FROM `{table}` ORDER BY {order}")


@pytest.fixture(scope="module")
def exported(source: PrivateMariaDB, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Export with a progress callback that writes to the source mid-export."""
    out = tmp_path_factory.mktemp("export") / "db"
    writer = admin(source, "src")
    events: list[dict[str, Any]] = []
    inserted: list[str] = []

    def progress(event: dict[str, Any]) -> None:
        events.append(event)
        if event["table"] == "wpsrc_postmeta" and event["rows_done"] > 0 and not inserted:
            run(writer, "INSERT INTO wpsrc_postmeta (meta_id, post_id, meta_key, meta_value) "
                        "VALUES (999999, 1, 'during_export', 'x'), (10, 1, 'x', 'y') "
                        "ON DUPLICATE KEY UPDATE meta_value = 'changed during export'")
            run(writer, "INSERT INTO wpsrc_posts (ID, post_content, post_title, guid) "
                        "VALUES (500, 'during export', 'late', '')")
            inserted.append("yes")

    before = {t: int(run(writer, f"SELECT COUNT(*) FROM {t}")[0][0])
              for t in ("wpsrc_postmeta", "wpsrc_posts")}
    meta10 = run(writer, "SELECT meta_value FROM wpsrc_postmeta WHERE meta_id = 10")[0][0]
    conn = connect(params(source, "src"))
    manifest = export_database(conn, out, table_prefix="wpsrc_", page_rows=1000, progress=progress,
                               progress_interval=0)
    conn.close()
    assert inserted, "the progress callback never ran during wpsrc_postmeta"
    # undo the concurrent writes so the source equals the snapshot again
    run(writer, "DELETE FROM wpsrc_postmeta WHERE meta_id = 999999")
    run(writer, "UPDATE wpsrc_postmeta SET meta_value = %s WHERE meta_id = 10", (meta10,))
    run(writer, "DELETE FROM wpsrc_posts WHERE ID = 500")
    writer.close()
    return {"dir": out, "manifest": manifest, "before": before, "events": events, "meta10": meta10}


# --------------------------------------------------------------------------- export


@needs_mariadb
@pytest.mark.sandbox
def test_export_selects_prefix_tables_and_writes_manifest(exported: dict[str, Any]) -> None:
    m = exported["manifest"]
    assert json.loads((exported["dir"] / "manifest.json").read_text()) == m
    assert set(m["tables"]) == {"wpsrc_options", "wpsrc_users", "wpsrc_usermeta", "wpsrc_posts",
                                "wpsrc_postmeta", "wpsrc_term_relationships", "wpsrc_redirects",
                                "wpsrc_activity_log", "wpsrc_legacy", "wpsrc_files"}
    assert m["skipped"] and m["skipped"][0]["name"] == "wpsrc_recent"
    assert m["source_prefix"] == "wpsrc_" and m["server_version"].startswith("10.11")
    pm = m["tables"]["wpsrc_postmeta"]
    assert pm["rows"] == POSTMETA_ROWS and pm["primary_key"] == ["meta_id"]
    assert m["tables"]["wpsrc_term_relationships"]["primary_key"] == ["object_id", "term_taxonomy_id"]
    assert m["tables"]["wpsrc_term_relationships"]["rows"] == 2500
    assert m["tables"]["wpsrc_redirects"]["rows"] == 1502
    assert m["tables"]["wpsrc_activity_log"]["primary_key"] == []
    assert m["tables"]["wpsrc_activity_log"]["rows"] == 2503
    files = {c["name"]: c for c in m["tables"]["wpsrc_files"]["columns"]}
    assert files["data"]["binary"] and not files["name"]["binary"] and files["name"]["text"]
    for t in m["tables"].values():
        rows = list(RowReader(exported["dir"] / t["data_file"], t["sha256"]))
        assert len(rows) == t["rows"]


@needs_mariadb
@pytest.mark.sandbox
def test_export_is_a_consistent_snapshot(exported: dict[str, Any]) -> None:
    m, d = exported["manifest"], exported["dir"]
    assert m["tables"]["wpsrc_postmeta"]["rows"] == exported["before"]["wpsrc_postmeta"]
    assert m["tables"]["wpsrc_posts"]["rows"] == exported["before"]["wpsrc_posts"]
    rows = {r[0]: r for r in RowReader(d / m["tables"]["wpsrc_postmeta"]["data_file"])}
    assert 999999 not in rows
    assert rows[10][3] == exported["meta10"]  # updated during the export: old value
    assert sorted(rows) == list(range(1, POSTMETA_ROWS + 1))
    assert any(e["table"] == "wpsrc_postmeta" and 0 < e["rows_done"] < POSTMETA_ROWS
               for e in exported["events"])


@needs_mariadb
@pytest.mark.sandbox
def test_export_values_are_the_stored_bytes(exported: dict[str, Any]) -> None:
    m, d = exported["manifest"], exported["dir"]

    def rows(t: str) -> list[tuple]:
        return list(RowReader(d / m["tables"][t]["data_file"]))
    posts = {r[0]: r for r in rows("wpsrc_posts")}
    assert posts[2][2] == b"0000-00-00 00:00:00" and posts[10][4] == BIG_TEXT
    assert posts[11][4] == QUOTED_TEXT
    assert rows("wpsrc_legacy")[0] == (1, LATIN1_BYTES)
    assert {r[0]: r[2] for r in rows("wpsrc_files")} == {1: BIG_BLOB, 2: MID_BLOB, 3: b"", 4: None}
    options = {r[1]: r for r in rows("wpsrc_options")}
    assert options[b"blogname"][2] == "Café 😀 中文 ブログ".encode()
    assert options[b"zero_id_option"][0] == 0
    assert b"2.5000" in {r[3] for r in rows("wpsrc_redirects")}  # DECIMAL as its text


@needs_mariadb
def test_connect_errors_are_classified(servers: tuple[PrivateMariaDB, PrivateMariaDB]) -> None:
    src, _ = servers
    src.sql("CREATE USER IF NOT EXISTS 'ro'@'127.0.0.1' IDENTIFIED BY 'right';"
            "GRANT SELECT ON src.* TO 'ro'@'127.0.0.1'")
    bad = DbParams("127.0.0.1", src.port, "ro", "wrong", "src")
    assert "wrong" not in repr(bad)
    with pytest.raises(MigrationError) as e:
        connect(bad)
    assert e.value.code == ErrorCode.INVALID_CREDENTIALS and e.value.permanent
    from wpsandbox.services import free_port
    with pytest.raises(MigrationError) as e:
        connect(DbParams("127.0.0.1", free_port(), "ro", "right", "src"),
                unreachable_code=ErrorCode.EXPORT_FAILED)
    assert e.value.code == ErrorCode.EXPORT_FAILED and e.value.permanent
    # a read-only user is enough for an export
    conn = connect(DbParams("127.0.0.1", src.port, "ro", "right", "src"))
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM wpsrc_posts")
        assert cur.fetchone()[0] == 4
    finally:
        conn.close()


# --------------------------------------------------------------------------- import

TARGET_CONTENT = """
INSERT INTO wp_options (option_id, option_name, option_value, autoload) VALUES
 (1, 'siteurl', 'https://new.example', 'yes'), (2, 'home', 'https://new.example', 'yes'),
 (3, 'blogname', 'Target blog', 'yes'), (4, 'wp_user_roles', 'target roles', 'yes'),
 (20, 'platform_site_id', '42', 'yes'), (21, 'platform_plan', 'a:1:{s:4:"plan";s:3:"pro";}', 'yes'),
 (22, 'target_only_plugin', 'kept', 'yes'), (23, '_transient_target', 'dropped', 'no'),
 (24, '_site_transient_x', 'dropped', 'no'), (25, 'platformXsite', 'not matched by platform_%', 'yes');
INSERT INTO wp_users (ID, user_login, user_pass, user_email, display_name) VALUES
 (1, 'target-admin', 'h', 'admin@new.example', 'Target admin'),
 (7, 'platform-bot', '$P$platform', 'bot@platform.example', 'Platform bot');
INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES
 (1, 'wp_capabilities', 'a:1:{s:13:"administrator";b:1;}'),
 (7, 'wp_capabilities', 'a:1:{s:13:"administrator";b:1;}'), (7, 'wp_user_level', '10'),
 (7, '_application_passwords', 'a:1:{i:0;a:2:{s:4:"uuid";s:3:"abc";s:8:"password";s:5:"$hash";}}');
INSERT INTO wp_posts (ID, post_content, post_title, guid) VALUES (1, 'target hello', 'Target', 'g');
INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (1, 'target', 'meta');
CREATE TABLE wp_target_only (id int primary key, v text);
INSERT INTO wp_target_only VALUES (1, 'untouched');
"""


def expected_rows(conn_src: MySQLdb.Connection, manifest: dict[str, Any], table: str) -> list[tuple]:
    """The source rows as the import must write them (values rewritten, prefixes mapped)."""
    rw = make_rewriter()
    cols = [c for c in manifest["tables"][table]["columns"] if not c["generated"]]
    base = table[len("wpsrc_"):]
    out = []
    for row in snapshot_table(conn_src, table):
        vals = list(row)
        for i, c in enumerate(cols):
            if c["text"] and (base, c["name"]) not in DEFAULT_SKIP_COLUMNS and isinstance(vals[i], bytes) \
                    and vals[i]:
                vals[i] = rw.rewrite(vals[i])
        out.append(tuple(vals))
    return sorted(out, key=repr)


def live_checksums(conn: MySQLdb.Connection) -> dict[str, Any]:
    tables = sorted(r[0].decode() for r in run(conn, "SHOW TABLES"))
    return {t: snapshot_table(conn, t) for t in tables}


@pytest.fixture(scope="module")
def imported(servers: tuple[PrivateMariaDB, PrivateMariaDB], exported: dict[str, Any]) -> dict[str, Any]:
    _, tgt = servers
    conn = admin(tgt, "tgt")
    for stmt in (SCHEMA.format(p="wp_") + TARGET_CONTENT).split(";\n"):
        if stmt.strip():
            run(conn, stmt)
    before = live_checksums(conn)
    kwargs: dict[str, Any] = dict(
        source_prefix="wpsrc_", target_prefix="wp_",
        preserve_options=("siteurl", "home", "platform_%"), service_users=("platform-bot",),
        skip_columns=DEFAULT_SKIP_COLUMNS)

    # 1. killed mid-way (from another connection) while loading postmeta
    victim = connect(params(tgt, "tgt"), local_infile=True)
    killed: list[int] = []
    during: dict[str, Any] = {}

    def kill_midway(event: dict[str, Any]) -> None:
        if event["table"] == "wp_postmeta" and event["rows_done"] >= 20_000 and not killed:
            during.update(live_checksums(conn))
            killed.append(victim.thread_id())
            run(conn, f"KILL {victim.thread_id()}")

    with pytest.raises(MigrationError) as err:
        import_database(victim, exported["dir"], rewriter=make_rewriter(), progress=kill_midway,
                        progress_interval=0, **kwargs)
    victim.close()
    after_kill = live_checksums(conn)
    leftovers = sorted(r[0].decode() for r in run(conn, "SHOW TABLES LIKE '\\_wpm\\_%'"))

    # 2. the retry
    events: list[dict[str, Any]] = []
    retry = connect(params(tgt, "tgt"), local_infile=True)
    rewriter = make_rewriter()
    report = import_database(retry, exported["dir"], rewriter=rewriter, progress=events.append, **kwargs)
    retry.close()
    return {"conn": conn, "before": before, "during": during, "after_kill": after_kill, "error": err.value,
            "leftovers": leftovers, "report": report, "events": events, "tgt": tgt}


@needs_mariadb
@pytest.mark.sandbox
def test_killed_import_leaves_live_tables_untouched(imported: dict[str, Any]) -> None:
    err = imported["error"]
    assert err.code == ErrorCode.IMPORT_FAILED and not err.permanent
    assert err.details["table"] == "wp_postmeta"
    live_during = {t: v for t, v in imported["during"].items() if not t.startswith("_wpm_")}
    assert live_during == imported["before"]  # the site served its old content meanwhile
    live_after = {t: v for t, v in imported["after_kill"].items() if not t.startswith("_wpm_")}
    assert live_after == imported["before"]
    assert "_wpm_new_wp_postmeta" in imported["leftovers"]  # cleaned by the retry
    conn = imported["conn"]
    assert not run(conn, "SHOW TABLES LIKE '\\_wpm\\_%'")


@needs_mariadb
@pytest.mark.sandbox
def test_import_writes_exactly_the_source_rows(imported: dict[str, Any], exported: dict[str, Any],
                                               source: PrivateMariaDB) -> None:
    conn, report = imported["conn"], imported["report"]
    src = admin(source, "src")
    m = exported["manifest"]
    for table in ("wpsrc_posts", "wpsrc_postmeta", "wpsrc_term_relationships", "wpsrc_redirects",
                  "wpsrc_activity_log", "wpsrc_legacy", "wpsrc_files"):
        target = "wp_" + table[len("wpsrc_"):]
        got = sorted(snapshot_table(conn, target), key=repr)
        assert got == expected_rows(src, m, table), table
        assert report["tables"][target]["rows"] == m["tables"][table]["rows"]
    src.close()
    assert run(conn, "SELECT COUNT(*) FROM wp_postmeta")[0][0] == POSTMETA_ROWS
    posts = {r[0]: r for r in snapshot_table(conn, "wp_posts")}
    assert posts[2][2] == b"0000-00-00 00:00:00"
    assert posts[1][8] == f"{OLD}/?p=1".encode()  # guid untouched
    assert posts[1][4] == f'<a href="{NEW}/about/">x</a>'.encode()
    assert len(posts[10][4]) > TARGET_PACKET and posts[10][4] == make_rewriter().rewrite(BIG_TEXT)
    assert posts[11][4] == QUOTED_TEXT
    # 792 kB of quotes and the 600 kB blob fit CONCAT; 3 MB text and 2.5 MB blob need LOAD DATA
    assert report["oversized_rows_by_method"] == {"concat_pieces": 2, "load_data_local": 2}
    assert run(conn, "SELECT body FROM wp_legacy WHERE id = 1")[0][0] == \
        LATIN1_BYTES.replace(OLD.encode(), NEW.encode())
    assert "wp_target_only" in report["untouched_target_tables"]
    assert run(conn, "SELECT v FROM wp_target_only")[0][0] == b"untouched"
    assert report["rewrite"]["values_changed"] > POSTMETA_ROWS // 2
    assert any(e["table"] == "wp_postmeta" for e in imported["events"])


@needs_mariadb
@pytest.mark.sandbox
def test_import_maps_prefix_and_preserves_target_options(imported: dict[str, Any]) -> None:
    conn, report = imported["conn"], imported["report"]
    options = {r[1]: r for r in snapshot_table(conn, "wp_options")}
    names = set(options)
    assert options[b"siteurl"][2] == b"https://new.example" and options[b"home"][2] == b"https://new.example"
    assert options[b"platform_site_id"][2] == b"42"
    assert options[b"platform_plan"][2] == b'a:1:{s:4:"plan";s:3:"pro";}'
    assert options[b"target_only_plugin"][2] == b"kept"
    assert options[b"platformXsite"][2] == b"not matched by platform_%"  # target-only, kept too
    assert options[b"blogname"][2] == "Café 😀 中文 ブログ".encode()  # source wins
    assert options[b"wp_user_roles"][2].startswith(b'a:1:{s:13:"administrator"')  # mapped source roles
    assert b"wpsrc_user_roles" not in names and b"_transient_target" not in names
    assert b"_site_transient_x" not in names
    assert b"_transient_feed" in names  # source transients are the source's business
    assert options[b"wpsrc_settings"][2].startswith(b"plugin option")
    assert options[b"zero_id_option"][0] == 0  # id 0 preserved (NO_AUTO_VALUE_ON_ZERO)
    assert options[b"theme_mods_x"][2] == make_rewriter().rewrite(SERIALIZED)
    assert report["dropped_stale_options"] == ["wp_user_roles"]
    assert options[f"cache_{NEW}/a".encode()][2] == b"new" and options[f"cache_{OLD}/a".encode()][2] == b"old"
    assert report["unique_collisions_kept_original"] == [{"table": "wp_options", "option_id": 10}]
    assert set(report["preserved_options"]) == {"siteurl", "home", "platform_site_id", "platform_plan"}
    assert "target_only_plugin" in report["kept_target_options"]

    meta = run(conn, "SELECT user_id, meta_key, meta_value FROM wp_usermeta ORDER BY umeta_id")
    keys = {(u, k) for u, k, _ in meta}
    assert {(1, b"wp_capabilities"), (1, b"wp_user_level"), (1, b"wp_user-settings"),
            (1, b"my_wpsrc_capabilities"), (7, b"wp_capabilities")} <= keys
    assert not any(k.startswith(b"wpsrc_") for _, k, _ in meta)
    # user 7 (author7) is an author: the stale wp_capabilities granting admin was dropped
    assert [v for u, k, v in meta if u == 7 and k == b"wp_capabilities"] == [b'a:1:{s:6:"author";b:1;}']


@needs_mariadb
@pytest.mark.sandbox
def test_import_keeps_service_user_with_fresh_id(imported: dict[str, Any]) -> None:
    conn, report = imported["conn"], imported["report"]
    users = {r[0]: r for r in snapshot_table(conn, "wp_users")}
    assert users[1][1] == b"admin" and users[7][1] == b"author7"  # source IDs unchanged
    assert users[2][1] == b"platform-bot-source"
    bot = [u for u in users.values() if u[1] == b"platform-bot"]
    assert len(bot) == 1 and bot[0][0] == 8 and bot[0][2] == b"$P$platform"
    assert users[1][2] == b"$P$hash-http://old.example"  # user_pass never rewritten
    meta = {k: v for u, k, v in run(conn, "SELECT user_id, meta_key, meta_value FROM wp_usermeta "
                                          "WHERE user_id = 8")}
    assert meta[b"wp_capabilities"] == b'a:1:{s:13:"administrator";b:1;}'
    assert meta[b"_application_passwords"].startswith(b"a:1:{i:0;")
    assert report["service_users"] == [{"login": "platform-bot", "target_user_id": 7, "new_user_id": 8,
                                        "usermeta_rows": 3}]
    assert report["renamed_users"][0]["renamed_to"] == "platform-bot-source"


@needs_mariadb
@pytest.mark.sandbox
def test_import_is_idempotent(imported: dict[str, Any], exported: dict[str, Any]) -> None:
    """Importing the same export again gives the same live tables (no duplicates)."""
    conn = imported["conn"]
    first = live_checksums(conn)
    again = connect(params(imported["tgt"], "tgt"), local_infile=True)
    report = import_database(again, exported["dir"], source_prefix="wpsrc_", target_prefix="wp_",
                             rewriter=make_rewriter(), preserve_options=("siteurl", "home", "platform_%"),
                             service_users=("platform-bot",), skip_columns=DEFAULT_SKIP_COLUMNS)
    again.close()
    second = live_checksums(conn)
    assert first.keys() == second.keys()
    for t in first:
        assert first[t] == second[t], t
    assert run(conn, "SELECT COUNT(*) FROM wp_users WHERE user_login = 'platform-bot'")[0][0] == 1
    assert report["rows_total"] == sum(len(v) for t, v in second.items() if t in report["tables"])


@needs_mariadb
@pytest.mark.sandbox
def test_import_without_local_infile_refuses_oversized_value(servers: tuple[PrivateMariaDB, PrivateMariaDB],
                                                             exported: dict[str, Any]) -> None:
    _, tgt = servers
    tgt.sql("CREATE DATABASE IF NOT EXISTS tgt2")
    conn = connect(params(tgt, "tgt2"))  # local_infile off
    with pytest.raises(MigrationError) as err:
        import_database(conn, exported["dir"], source_prefix="wpsrc_", target_prefix="wp_",
                        rewriter=make_rewriter(), skip_columns=DEFAULT_SKIP_COLUMNS)
    conn.close()
    assert err.value.permanent and err.value.details["table"] in ("wp_files", "wp_posts")
    assert tgt.sql("SHOW TABLES", "tgt2").strip() == ""  # nothing left behind, nothing swapped


@needs_mariadb
@pytest.mark.sandbox
def test_concurrent_imports_are_refused(servers: tuple[PrivateMariaDB, PrivateMariaDB],
                                        exported: dict[str, Any]) -> None:
    _, tgt = servers
    holder = connect(params(tgt, "tgt"))
    cur = holder.cursor()
    cur.execute("SELECT GET_LOCK('wpmigrate-import-tgt', 0)")
    conn = connect(params(tgt, "tgt"), local_infile=True)
    try:
        with pytest.raises(MigrationError) as err:
            import_database(conn, exported["dir"], source_prefix="wpsrc_", target_prefix="wp_",
                            rewriter=make_rewriter(), skip_columns=DEFAULT_SKIP_COLUMNS)
        assert not err.value.permanent
    finally:
        conn.close()
        holder.close()


@needs_mariadb
@pytest.mark.sandbox
def test_swap_blocked_by_an_open_transaction_fails_transiently(
        servers: tuple[PrivateMariaDB, PrivateMariaDB], exported: dict[str, Any],
        imported: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader holding a transaction on a live table blocks RENAME: the import gives up
    after the bounded wait (retryable) instead of hanging, and the live tables stay."""
    import wpmigrate.full_access.db.importer as db_import

    monkeypatch.setattr(db_import, "SWAP_LOCK_WAIT_SECONDS", 1)
    _, tgt = servers
    conn = imported["conn"]
    before = live_checksums(conn)
    reader = connect(params(tgt, "tgt"))  # autocommit off: the SELECT opens a transaction
    run(reader, "SELECT COUNT(*) FROM wp_posts")
    importer = connect(params(tgt, "tgt"), local_infile=True)
    try:
        with pytest.raises(MigrationError) as err:
            import_database(importer, exported["dir"], source_prefix="wpsrc_", target_prefix="wp_",
                            rewriter=make_rewriter(), skip_columns=DEFAULT_SKIP_COLUMNS)
        assert err.value.code == ErrorCode.IMPORT_FAILED and not err.value.permanent
        assert "1205" in err.value.message or "Lock wait" in err.value.message
    finally:
        importer.close()
        reader.close()
    assert {t: v for t, v in live_checksums(conn).items() if not t.startswith("_wpm_")} == before
