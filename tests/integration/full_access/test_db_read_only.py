"""connect()'s read-only session (DbParams.read_only) against a real MariaDB: writes refused
by the server whatever the grants, today's behaviour without it, and a whole export through
the SSH tunnel that leaves nothing but reads in the server's query log."""

from __future__ import annotations

import getpass
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import paramiko
import pytest

from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.db.exporter import export_database
from wpmigrate.full_access.db.ssh_tunnel import SocketDestination, SshTunnel
from wpsandbox.services import PrivateMariaDB, PrivateSshd

pytestmark = pytest.mark.sandbox

USER, PASSWORD, DB = "wpcfg", "from-wp-config-7", "shop"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    base = tmp_path_factory.mktemp("ro-db")
    db = PrivateMariaDB(base, extra_args=("--general-log=1", f"--general-log-file={base / 'general.log'}"))
    try:
        db.start()
        for _ in range(200):
            try:
                db.sql("SELECT 1")
                break
            except Exception:
                time.sleep(0.1)
        # wp-config credentials: the owner of the database, free to write
        db.sql(f"CREATE DATABASE {DB};"
               f"CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}';"
               f"GRANT ALL ON {DB}.* TO '{USER}'@'localhost';"
               f"CREATE TABLE {DB}.wp_options (option_id bigint unsigned auto_increment primary key,"
               " option_name varchar(191) unique, option_value longtext, autoload varchar(20));"
               f"CREATE TABLE {DB}.wp_posts (ID bigint unsigned auto_increment primary key,"
               " post_title text, post_content longtext);"
               f"INSERT INTO {DB}.wp_options (option_name, option_value, autoload) VALUES"
               " ('siteurl', 'http://old.example', 'yes'), ('home', 'http://old.example', 'yes');"
               f"INSERT INTO {DB}.wp_posts (post_title, post_content) VALUES ('a', 'x'), ('b', 'y');")
        yield db
    finally:
        db.stop()


def _params(db: PrivateMariaDB, **kw: Any) -> DbParams:
    return DbParams("localhost", 0, USER, PASSWORD, DB, unix_socket=str(db.socket), **kw)


def _run(conn: MySQLdb.Connection, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    rows = list(cur.fetchall())
    cur.close()
    return rows


def test_default_session_still_writes(server: PrivateMariaDB) -> None:
    conn = connect(_params(server))
    try:
        assert _run(conn, "SELECT @@session.tx_read_only") == [(0,)]
        _run(conn, "INSERT INTO wp_posts (post_title) VALUES ('rolled back')")
        conn.rollback()
    finally:
        conn.close()
    assert server.sql(f"SELECT COUNT(*) FROM {DB}.wp_posts").strip() == "2"


def test_read_only_session_refuses_every_write(server: PrivateMariaDB) -> None:
    assert "from-wp-config" not in repr(_params(server, read_only=True))
    conn = connect(_params(server, read_only=True))
    try:
        assert _run(conn, "SELECT @@session.tx_read_only") == [(1,)]
        assert _run(conn, "SELECT option_value FROM wp_options WHERE option_name = 'home'") == \
            [(b"http://old.example",)]
        for write in ("INSERT INTO wp_posts (post_title) VALUES ('no')",
                      "UPDATE wp_options SET option_value = 'http://new.example'",
                      "DELETE FROM wp_posts", "REPLACE INTO wp_posts (ID, post_title) VALUES (1, 'no')",
                      "TRUNCATE TABLE wp_posts", "DROP TABLE wp_posts", "CREATE TABLE x (id int)"):
            with pytest.raises(MySQLdb.OperationalError) as e:
                _run(conn, write)
            assert e.value.args[0] == 1792, write  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        # a new transaction (after COMMIT, or in autocommit mode) is read-only as well
        conn.commit()
        conn.autocommit(True)
        with pytest.raises(MySQLdb.OperationalError) as e:
            _run(conn, "INSERT INTO wp_posts (post_title) VALUES ('no')")
        assert e.value.args[0] == 1792
    finally:
        conn.close()
    assert server.sql(f"SELECT COUNT(*) FROM {DB}.wp_posts").strip() == "2"
    assert "wp_posts" in server.sql("SHOW TABLES", DB)


def _statements_of(log: Path, thread_id: int) -> list[str]:
    """The Query lines the server logged for one connection (general log, file format)."""
    out: list[str] = []
    current: str | None = None
    pattern = re.compile(r"^(?:\d{6} [\d:]+)?\s+(\d+) (\w[\w ]*?)\t(.*)$")
    for line in log.read_text(errors="replace").splitlines():
        m = pattern.match(line)
        if m:
            current = m.group(3) if int(m.group(1)) == thread_id and m.group(2) == "Query" else None
            if current is not None:
                out.append(current)
        elif current is not None and out:
            out[-1] += "\n" + line  # a statement over several lines
    return out


def test_export_through_the_tunnel_only_reads(server: PrivateMariaDB, tmp_path: Path) -> None:
    sshd = PrivateSshd(tmp_path / "sshd")
    sshd.start()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # test-only: throwaway host key
    try:
        client.connect("127.0.0.1", port=sshd.port, username=getpass.getuser(),
                       key_filename=str(sshd.client_key), look_for_keys=False, allow_agent=False)
        with SshTunnel(client, SocketDestination(str(server.socket))) as local:
            conn = connect(local.apply(DbParams("unused", 1, USER, PASSWORD, DB, read_only=True)))
            try:
                thread_id = int(_run(conn, "SELECT CONNECTION_ID()")[0][0])
                manifest = export_database(conn, tmp_path / "export", table_prefix="wp_")
            finally:
                conn.close()
    finally:
        client.close()
        sshd.stop()
    assert set(manifest["tables"]) == {"wp_options", "wp_posts"}
    statements = _statements_of(server.base / "general.log", thread_id)
    assert len(statements) > 5 and any(s.startswith("SELECT") and "wp_posts" in s for s in statements)
    # the client library's own session setup, then read-only before anything reads a table
    assert statements[:4] == ["SET NAMES utf8mb4", "SET autocommit=0", "SET SESSION TRANSACTION READ ONLY",
                              "SELECT @@session.tx_read_only"]
    # session settings only (no SET GLOBAL, no @user variable)
    reads = re.compile(r"^(SELECT|SHOW|START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY$"
                       r"|COMMIT$|ROLLBACK$|SET SESSION \w+)\b")
    assert [s for s in statements[2:] if not reads.match(s)] == []
