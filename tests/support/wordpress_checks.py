"""Independent checks of a migrated site, used by the end-to-end tests.

They query the source and target directly (SQL, HTTP, files, PHP) rather than trusting
the verification report the DAG produced: the report is what is under test.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from wpmigrate.full_access.db.connect import DbParams, connect

PHP_UNSERIALIZE_CHECK = r"""
while (($line = fgets(STDIN)) !== false) {
    $raw = base64_decode(trim($line));
    echo (@unserialize($raw) !== false || $raw === 'b:0;') ? "1\n" : "0\n";
}
"""


def db(sb: Any, which: str) -> Any:
    """A root connection to the ``source``, ``target`` or ``classic`` (the classic-theme
    source's) database."""
    database = {"source": sb.db.source_db, "target": sb.db.target_db}.get(which) or sb.classic_source.db_name
    return db_named(sb, database)


def db_named(sb: Any, database: str) -> Any:
    """A root connection to any database of the sandbox's main MariaDB (an extra target's)."""
    conn = connect(DbParams(host=sb.db.host, port=sb.db.port, user="root", password="",
                            database=database, unix_socket=sb.db.socket))
    # No open transaction between checks: it would hold metadata locks that block the
    # import's atomic RENAME.
    conn.autocommit(True)
    return conn


def rows(conn: Any, sql: str, args: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def posts(conn: Any, prefix: str) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in rows(
        conn, f"SELECT ID, post_type, post_status, post_title, post_name, post_parent FROM {prefix}posts")}


def text_columns(conn: Any) -> list[tuple[str, str]]:
    return [(t.decode(), c.decode()) for t, c in rows(
        conn, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = DATABASE()"
              " AND data_type IN ('char','varchar','tinytext','text','mediumtext','longtext')")]


def old_origin_hits(conn: Any, needles: list[str], skip: set[tuple[str, str]]) -> list[tuple[str, str, int]]:
    hits = []
    for table, column in text_columns(conn):
        if (table, column) in skip:
            continue
        for needle in needles:
            (count,) = rows(conn, f"SELECT COUNT(*) FROM `{table}` WHERE LOCATE(%s, `{column}`) > 0",
                            (needle,))[0]
            if count:
                hits.append((f"{table}.{column}", needle, count))
    return hits


def serialized_values(conn: Any, prefix: str) -> Iterator[bytes]:
    sources = [(f"{prefix}options", "option_id", "option_value")] + [
        (f"{prefix}{meta}", "meta_id" if meta != "usermeta" else "umeta_id", "meta_value")
        for meta in ("postmeta", "usermeta", "termmeta", "commentmeta")]
    for table, pk, column in sources:
        last = -1
        while True:
            batch = rows(conn, f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {column}"
                               f" REGEXP '^(a|O|s|i|b|d):[0-9:]|^N;$' ORDER BY {pk} LIMIT 2000", (last,))
            if not batch:
                break
            last = batch[-1][0]
            yield from (value for _, value in batch)


def php_unserialize_failures(values: Iterator[bytes]) -> tuple[int, int]:
    """(checked, failed) with PHP's own unserialize as the judge."""
    proc = subprocess.Popen(["php", "-r", PHP_UNSERIALIZE_CHECK], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    data = b"".join(base64.b64encode(v) + b"\n" for v in values)
    out, _ = proc.communicate(data)
    verdicts = out.split()
    return len(verdicts), verdicts.count(b"0")


def sha256_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def assert_no_old_origin_and_serialized_valid(sb: Any, source_url: str, source_conn: Any) -> None:
    """No text column of the target names the source's host (raw or URL-encoded; the check is
    shown able to fail on the source itself), and PHP unserializes every serialized value."""
    host = urlsplit(source_url).netloc
    prefix = sb.target.table_prefix
    skip = {(f"{prefix}posts", "guid"), (f"{prefix}users", "user_pass")}
    assert old_origin_hits(db(sb, "target"), [host, host.replace(":", "%3A")], skip) == []
    assert old_origin_hits(source_conn, [host], set())
    checked, failed = php_unserialize_failures(serialized_values(db(sb, "target"), prefix))
    assert checked > 50 and failed == 0


def assert_published_answer_and_platform_login_works(sb: Any, source_conn: Any, source_prefix: str) -> None:
    """Every published post and page of the source answers 200 on the target (by id), and the
    platform's service user still logs in to the target's REST API."""
    published = rows(source_conn, f"SELECT ID FROM {source_prefix}posts WHERE post_status = 'publish' "
                                  "AND post_type IN ('post', 'page')")
    assert published
    with httpx.Client(base_url=sb.target.url, follow_redirects=True, timeout=30) as client:
        for (post_id,) in published:
            page = client.get("/", params={"p": post_id, "page_id": post_id})
            assert page.status_code == 200 and str(page.url).startswith(sb.target.url), post_id
        me = client.get("/wp-json/wp/v2/users/me", auth=(sb.platform.service_user, sb.platform.app_password))
        assert me.status_code == 200 and me.json()["slug"] == sb.platform.service_user


def migrated_rows(conn: Any, prefix: str, table: str) -> int:
    """Rows of ``table`` a migration carries, for comparing source and target counts: all of
    them but WordPress's oEmbed cache (``_oembed_*`` postmeta), which WordPress itself writes
    on either site whenever a page with an embed is viewed (verification views pages)."""
    where = " WHERE meta_key NOT LIKE '\\\\_oembed\\\\_%%'" if table == "postmeta" else ""
    return int(rows(conn, f"SELECT COUNT(*) FROM {prefix}{table}{where}")[0][0])


def rest_listing(client: httpx.Client, endpoint: str) -> list[dict[str, Any]]:
    """Every record of a REST collection (``/wp-json/wp/v2/<endpoint>``), 100 a page, from a
    client whose base URL is the site."""
    found: list[dict[str, Any]] = []
    for page in range(1, 20):  # the seed's 120-odd tags take two pages
        response = client.get(f"/wp-json/wp/v2/{endpoint}", params={"per_page": 100, "page": page})
        response.raise_for_status()
        found += response.json()
        if page >= int(response.headers.get("x-wp-totalpages", 1)):
            return found
    raise AssertionError(f"{endpoint}: too many pages")
