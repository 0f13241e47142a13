"""Verification of a Mode A (full access) migration: prove nothing was lost.

Compares the source and target databases, the target ``wp-content`` against the
export manifest, and the target site over HTTP. Everything streams: counts and
old-URL scans run inside MariaDB, rows are paged by primary key, files are hashed
in chunks, and every list in the report is bounded.

DB connections are ``MySQLdb`` connections opened with ``charset="utf8mb4"`` and
``use_unicode=False``, so values arrive as bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import ipaddress
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup

log = logging.getLogger(__name__)

REPORT_KIND = "wpmigrate.verification"
REPORT_VERSION = 1
ALL_CHECKS = (
    "row_counts", "posts", "terms", "comments", "users", "files", "http", "old_origins", "serialized",
)

# Columns never rewritten on purpose, so old origins may legitimately remain there.
DEFAULT_SKIP_COLUMNS: Mapping[tuple[str, str], str] = {
    ("posts", "guid"): (
        "WordPress uses guid as a permanent identifier (feed readers); it must not be rewritten"
    ),
    ("users", "user_pass"): "password hashes are opaque and never rewritten",
}
# Tables where the target may hold more rows than the source: the platform's service
# user (users/usermeta) and target-only options survive the import.
EXPLAINED_EXTRA_TABLES = frozenset({"users", "usermeta", "options"})

TEXT_TYPES = frozenset({
    "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json",
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
})
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})

# Meta-like tables holding serialized values: unprefixed name pattern -> (pk, value column).
SERIALIZED_TABLES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"(?:\d+_)?options"), "option_id", "option_value"),
    (re.compile(r"(?:\d+_)?(?:postmeta|termmeta|commentmeta)"), "meta_id", "meta_value"),
    (re.compile(r"usermeta"), "umeta_id", "meta_value"),
    (re.compile(r"sitemeta"), "meta_id", "meta_value"),
)
# What "looks serialized": how the value starts. Truncated values (no closing ; or })
# are candidates on purpose: that is exactly the damage we look for.
SERIALIZED_START = re.compile(rb"^(?:N;|[aOCE]:\d+:|s:\d+:\"|[bid]:[0-9.Ee+-]+;)")
_SQL_PREFIXES = ("a:", "O:", "C:", "E:", "s:", "i:", "b:", "d:", "N;")

PHP_ORACLE = r"""
error_reporting(0);
ini_set('memory_limit', '1024M');
$in = fopen('php://stdin', 'rb');
$out = fopen('php://stdout', 'wb');
while (($line = fgets($in)) !== false) {
    $s = base64_decode(rtrim($line, "\r\n"), true);
    if ($s === false) { fwrite($out, "E\n"); continue; }
    // allowed_classes=false: untrusted data, never instantiate classes (no __wakeup).
    $v = @unserialize($s, ['allowed_classes' => false]);
    fwrite($out, ($v !== false || $s === 'b:0;') ? "1\n" : "0\n");
}
"""

MAX_BODY_BYTES = 5 * 1024 * 1024


# ---------------------------------------------------------------- small helpers

def _s(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _q(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _query(conn: Any, sql: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql, args)
        return list(cur.fetchall())
    finally:
        cur.close()


class _Bounded:
    """A problem list that keeps the first ``limit`` entries and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[dict[str, Any]] = []
        self.total = 0

    def add(self, item: dict[str, Any]) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(item)

    def count_only(self, n: int) -> None:
        """Problems that exist but are not listed (the list is long enough)."""
        self.total += max(0, n)


def _section(
    title: str,
    problems: _Bounded,
    *,
    checked: int,
    warnings: _Bounded | None = None,
    notes: Sequence[str] = (),
    skipped: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    if skipped:
        status = "skipped"
    elif problems.total:
        status = "fail"
    elif warnings and warnings.total:
        status = "warn"
    else:
        status = "pass"
    section: dict[str, Any] = {
        "title": title,
        "status": status,
        "ok": status != "fail",
        "checked": checked,
        "problem_count": problems.total,
        "problems": problems.items,
        "problems_truncated": problems.total > len(problems.items),
        "warning_count": warnings.total if warnings else 0,
        "warnings": warnings.items if warnings else [],
        "notes": list(notes),
    }
    if skipped:
        section["skipped_reason"] = skipped
    section.update(extra)
    return section


def list_tables(conn: Any, prefix: str) -> list[str]:
    rows = _query(
        conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
    )
    return [name for (raw,) in rows if (name := _s(raw)).startswith(prefix)]


def _database(conn: Any) -> str:
    return _s(_query(conn, "SELECT DATABASE()")[0][0])


def _primary_key(conn: Any, table: str) -> list[str]:
    rows = _query(
        conn,
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        (table,),
    )
    return [_s(r[0]) for r in rows]


def _count(conn: Any, table: str) -> int:
    return int(_query(conn, f"SELECT COUNT(*) FROM {_q(table)}")[0][0])


def _grouped(conn: Any, sql: str) -> dict[str, int]:
    return {"/".join(_s(k) for k in row[:-1]): int(row[-1]) for row in _query(conn, sql)}


# ---------------------------------------------------------------- pure helpers (unit-tested)

def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def origin_variants(origin: str) -> list[str]:
    """Every spelling of an origin that real WordPress data holds.

    ``https://old.example`` -> ``http://``, ``https://``, ``//`` (protocol-relative),
    JSON-escaped ``\\/\\/``, urlencoded ``%3A%2F%2F`` (both hex cases), for the host
    with and without ``www.``. A port stays part of the host.
    """
    parts = urlsplit(origin if "//" in origin else "//" + origin)
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"no host in origin {origin!r}")
    hosts = [f"[{host}]" if ":" in host else host]
    if not host.isascii():
        hosts.append(host.encode("idna").decode("ascii"))
    if not _is_ip(host):  # www.<IP address> is not a thing
        for h in list(hosts):
            hosts.append(h[4:] if h.startswith("www.") else "www." + h)
    if parts.port:
        hosts = [f"{h}:{parts.port}" for h in hosts]
    variants: list[str] = []
    for h in hosts:
        enc = quote(h, safe="")
        for v in (
            f"http://{h}", f"https://{h}", f"//{h}",
            f"http:\\/\\/{h}", f"https:\\/\\/{h}", f"\\/\\/{h}",
            f"http%3A%2F%2F{enc}", f"https%3A%2F%2F{enc}", f"%2F%2F{enc}",
            f"http%3a%2f%2f{enc.replace('%3A', '%3a')}", f"%2f%2f{enc.replace('%3A', '%3a')}",
        ):
            if v not in variants:
                variants.append(v)
    return variants


def covering_variants(variants: Iterable[str]) -> list[str]:
    """The smallest subset such that any text containing a variant contains one of these.

    ``https://x`` contains ``//x``, so searching ``//x`` finds both: fewer LOCATE calls.
    """
    unique = list(dict.fromkeys(variants))
    return [v for v in unique if not any(w != v and w in v for w in unique)]


_TEXTURIZE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u2033": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00d7": "x",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2026": "...",
    "\u00a9": "(c)", "\u00ae": "(r)", "\u2122": "(tm)",
})
_TAG_RE = re.compile(r"<[^>]*>")


def normalise_title(value: str | bytes | None) -> str:
    """A title as WordPress would compare equal: entities decoded, tags stripped,
    wptexturize's curly quotes/dashes/ellipsis/(c) undone, whitespace collapsed, casefolded
    (capital_P_dangit turns "Wordpress" into "WordPress")."""
    text = _s(value)
    for _ in range(2):  # double-encoded entities (&amp;#8217;) occur in titles
        text = html.unescape(text)
    text = _TAG_RE.sub("", text).translate(_TEXTURIZE)
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.casefold()


def title_matches(
    source_title: str | bytes, candidates: Iterable[str | None], protected: bool = False
) -> bool:
    """True if the source title equals a candidate (REST title, h1) or starts the <title>."""
    want = normalise_title(source_title)
    if not want:
        return True  # untitled posts: WordPress shows the site name; nothing to compare
    for cand in candidates:
        got = normalise_title(cand)
        if protected:
            got = re.sub(r"^(protected|private): ", "", got)
        if got == want or got.startswith(want + " - ") or got.startswith(want + " | "):
            return True
    return False


def page_title_candidates(body: bytes, encoding: str | None = None) -> list[str]:
    soup = BeautifulSoup(body.decode(encoding or "utf-8", errors="replace"), "lxml")
    found = []
    if soup.title:
        found.append(soup.title.get_text(" ", strip=True))
    for tag in soup.find_all(["h1", "h2"], limit=20):
        found.append(tag.get_text(" ", strip=True))
    return found


# ---------------------------------------------------------------- PHP unserialize oracle

class PhpUnserializeOracle:
    """One long-running ``php`` process answering "does unserialize() accept this?".

    One base64 line in, one ``1``/``0`` line out; a page of values is written, then
    its answers read (2 bytes each, far below the pipe buffer, so no deadlock).
    """

    def __init__(self, php_binary: str = "php") -> None:
        self.php_binary = php_binary
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [self.php_binary, "-n", "-d", "display_errors=0", "-r", PHP_ORACLE],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        return self._proc

    def _ask(self, values: Sequence[bytes]) -> list[bool] | None:
        proc = self._start()
        assert proc.stdin and proc.stdout
        try:
            proc.stdin.write(b"".join(base64.b64encode(v) + b"\n" for v in values))
            proc.stdin.flush()
            answers = [proc.stdout.readline() for _ in values]
        except (BrokenPipeError, OSError):
            return None
        if any(a not in (b"1\n", b"0\n") for a in answers):
            return None
        return [a == b"1\n" for a in answers]

    def check(self, values: Sequence[bytes]) -> list[bool | None]:
        """True = valid, False = unserialize fails, None = PHP crashed on this value."""
        if not values:
            return []
        got = self._ask(values)
        if got is not None:
            return list(got)
        # The process died (memory limit, segfault): retry one by one to isolate the culprit.
        self.close()
        out: list[bool | None] = []
        for v in values:
            one = self._ask([v])
            if one is None:
                self.close()
            out.append(one[0] if one else None)
        return out

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                if self._proc.stdin:
                    self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> PhpUnserializeOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Validator = Callable[[Sequence[bytes]], list[bool | None]]


def _serialized_validator(php_binary: str | None) -> tuple[Validator | None, str, Callable[[], None]]:
    """(check function, which oracle, close function). PHP first, Python parser second."""
    php = shutil.which(php_binary) if php_binary else None
    if php:
        oracle = PhpUnserializeOracle(php)
        if oracle.check([b"a:1:{i:0;s:1:\"x\";}", b"s:2:\"x\";"]) == [True, False]:
            return oracle.check, f"php unserialize ({php})", oracle.close
        oracle.close()
    try:
        from wpmigrate.rewrite import php_serialized
    except ImportError:
        return None, "none", lambda: None

    def check(values: Sequence[bytes]) -> list[bool | None]:
        return [bool(php_serialized.validate(v)) for v in values]

    return check, "python strict parser (wpmigrate.php_serialized); php not available", lambda: None


# ---------------------------------------------------------------- the checks

class _Verifier:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)
        self.src_tables = list_tables(self.source_conn, self.source_prefix)
        self.tgt_tables = set(list_tables(self.target_conn, self.target_prefix))

    def st(self, name: str) -> str:
        return self.source_prefix + name

    def tt(self, name: str) -> str:
        return self.target_prefix + name

    # -- counts
    def row_counts(self) -> dict[str, Any]:
        problems, warnings = _Bounded(self.max_problems), _Bounded(self.max_problems)
        rows: list[dict[str, Any]] = []
        src_names = {t[len(self.source_prefix):] for t in self.src_tables}
        for table in self.src_tables:
            name = table[len(self.source_prefix):]
            target = self.tt(name)
            src = _count(self.source_conn, table)
            if target not in self.tgt_tables:
                rows.append({"table": name, "source": src, "target": None, "status": "missing"})
                problems.add({"table": name, "source_table": table, "target_table": target,
                              "reason": "table missing on target", "source_rows": src})
                continue
            tgt = _count(self.target_conn, target)
            status = "equal"
            if tgt < src:
                status = "fewer"
                problems.add({"table": name, "reason": "target has fewer rows", "source_rows": src,
                              "target_rows": tgt, "missing_rows": src - tgt})
            elif tgt > src:
                explained = name in EXPLAINED_EXTRA_TABLES or bool(re.fullmatch(r"\d+_options", name))
                status = "more (expected)" if explained else "more"
                warnings.add({
                    "table": name, "source_rows": src, "target_rows": tgt, "extra_rows": tgt - src,
                    "reason": ("service users and target-only options are preserved on the target"
                               if explained else "target has rows the source does not have"),
                    "expected": explained,
                })
            rows.append({"table": name, "source": src, "target": tgt, "status": status})
        target_only = sorted(t[len(self.target_prefix):] for t in self.tgt_tables
                             if t[len(self.target_prefix):] not in src_names)
        notes = ["Exact COUNT(*) per table. More rows on the target in users/usermeta/options are "
                 "expected: the platform's service user and target-only options survive the import."]
        if target_only:
            notes.append("Tables only on the target (not compared): " + ", ".join(target_only))
        return _section("Row counts per table", problems, checked=len(self.src_tables),
                        warnings=warnings, notes=notes, tables=rows, target_only_tables=target_only)

    def _grouped_compare(self, title: str, key_name: str, sql_src: str, sql_tgt: str,
                         notes: Sequence[str] = ()) -> dict[str, Any]:
        problems, warnings = _Bounded(self.max_problems), _Bounded(self.max_problems)
        src, tgt = _grouped(self.source_conn, sql_src), _grouped(self.target_conn, sql_tgt)
        table = []
        for key in sorted(set(src) | set(tgt)):
            s, t = src.get(key, 0), tgt.get(key, 0)
            table.append({key_name: key, "source": s, "target": t})
            if t < s:
                problems.add({key_name: key, "source": s, "target": t, "missing": s - t})
            elif t > s:
                warnings.add({key_name: key, "source": s, "target": t, "extra": t - s})
        return _section(title, problems, checked=sum(src.values()), warnings=warnings,
                        notes=notes, counts=table)

    def posts(self) -> dict[str, Any]:
        sql = "SELECT post_type, post_status, COUNT(*) FROM {} GROUP BY post_type, post_status"
        return self._grouped_compare("Posts per type and status", "type/status",
                                     sql.format(_q(self.st("posts"))), sql.format(_q(self.tt("posts"))))

    def terms(self) -> dict[str, Any]:
        sql = "SELECT taxonomy, COUNT(*) FROM {} GROUP BY taxonomy"
        return self._grouped_compare("Terms per taxonomy", "taxonomy",
                                     sql.format(_q(self.st("term_taxonomy"))),
                                     sql.format(_q(self.tt("term_taxonomy"))))

    def comments(self) -> dict[str, Any]:
        sql = "SELECT comment_approved, COUNT(*) FROM {} GROUP BY comment_approved"
        return self._grouped_compare("Comments per status", "status",
                                     sql.format(_q(self.st("comments"))), sql.format(_q(self.tt("comments"))),
                                     notes=["comment_approved: 1 approved, 0 pending, spam, trash"])

    def users(self) -> dict[str, Any]:
        problems, warnings = _Bounded(self.max_problems), _Bounded(self.max_problems)
        src_users, tgt_users = self.st("users"), self.tt("users")
        last, checked, found = -1, 0, 0
        while True:
            page = _query(self.source_conn,
                          f"SELECT ID, user_login FROM {_q(src_users)} WHERE ID > %s ORDER BY ID LIMIT %s",
                          (last, self.page_size))
            if not page:
                break
            last = int(page[-1][0])
            logins = [row[1] for row in page]
            marks = ",".join(["%s"] * len(logins))
            present = {r[0] for r in _query(
                self.target_conn, f"SELECT user_login FROM {_q(tgt_users)} WHERE user_login IN ({marks})",
                logins)}
            for uid, login in page:
                checked += 1
                if login in present:
                    found += 1
                else:
                    problems.add({"id": int(uid), "login": _s(login), "reason": "user missing on target"})
        tgt_total = _count(self.target_conn, tgt_users)
        service_present = []
        if self.service_users:
            marks = ",".join(["%s"] * len(self.service_users))
            service_present = sorted(_s(r[0]) for r in _query(
                self.target_conn, f"SELECT user_login FROM {_q(tgt_users)} WHERE user_login IN ({marks})",
                list(self.service_users)))
        extra = tgt_total - found
        unexplained = extra - len([u for u in service_present])
        if unexplained > 0:
            warnings.add({"reason": "target has users that are neither from the source nor service users",
                          "count": unexplained})
        for missing in sorted(set(self.service_users) - set(service_present)):
            warnings.add({"login": missing, "reason": "platform service user not found on target"})
        # Roles live in prefixed keys: a wrong prefix mapping silently strips every role.
        cap_src = _query(self.source_conn,
                         f"SELECT COUNT(*) FROM {_q(self.st('usermeta'))} WHERE meta_key = %s",
                         (self.source_prefix + "capabilities",))[0][0]
        cap_tgt = _query(self.target_conn,
                         f"SELECT COUNT(*) FROM {_q(self.tt('usermeta'))} WHERE meta_key = %s",
                         (self.target_prefix + "capabilities",))[0][0]
        if int(cap_tgt) < int(cap_src):
            problems.add({"reason": f"fewer '{self.target_prefix}capabilities' usermeta rows than the "
                                    f"source's '{self.source_prefix}capabilities' (roles lost?)",
                          "source": int(cap_src), "target": int(cap_tgt)})
        roles = _query(self.target_conn,
                       f"SELECT COUNT(*) FROM {_q(self.tt('options'))} WHERE option_name = %s",
                       (self.target_prefix + "user_roles",))[0][0]
        if not int(roles):
            problems.add({"reason": f"option '{self.target_prefix}user_roles' missing on target"})
        return _section("Users (by login)", problems, checked=checked, warnings=warnings,
                        notes=["Every source user_login must exist on the target; the platform's "
                               "service users may be extra."],
                        source_users=checked, target_users=tgt_total, service_users_present=service_present)

    # -- files
    def files(self) -> dict[str, Any]:
        problems = _Bounded(self.max_problems)
        if self.files_manifest is None or self.target_wp_content is None:
            return _section("Files (sha256)", problems, checked=0,
                            skipped="no files manifest or target wp-content given")
        root = self.target_wp_content
        if isinstance(root, str):
            root = Path(root)
        local_root = root.resolve() if isinstance(root, Path) else None
        checked, total_bytes = 0, 0
        for entry in self.files_manifest:
            rel = str(_field(entry, "path", "relpath") or "")
            want = str(_field(entry, "sha256") or "").lower()
            checked += 1
            pure = PurePosixPath(rel)
            if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel or "\x00" in rel:
                problems.add({"path": rel, "reason": "unsafe path in manifest"})
                continue
            path = root / rel
            try:
                if local_root is not None and not Path(path).resolve().is_relative_to(local_root):
                    problems.add({"path": rel, "reason": "resolves outside target wp-content"})
                    continue
                size = _field(entry, "size")
                if size is not None and hasattr(path, "stat"):
                    actual = path.stat().st_size
                    if actual != int(size):
                        problems.add({"path": rel, "reason": "size differs", "expected_size": int(size),
                                      "actual_size": actual})
                        continue
                digest, nbytes = _sha256(path)
            except FileNotFoundError:
                problems.add({"path": rel, "reason": "missing on target"})
                continue
            except OSError as exc:
                problems.add({"path": rel, "reason": f"unreadable: {exc.__class__.__name__}"})
                continue
            total_bytes += nbytes
            if want and digest != want:
                problems.add({"path": rel, "reason": "sha256 differs", "expected": want, "actual": digest})
        return _section("Files (sha256)", problems, checked=checked, bytes_hashed=total_bytes,
                        notes=["Every manifest entry must exist in the target wp-content with the same "
                               "sha256 (streamed, 1 MiB chunks)."])

    # -- HTTP
    def _published(self) -> Iterator[list[tuple[int, str, bytes, bool]]]:
        last = -1
        table = _q(self.st("posts"))
        while True:
            page = _query(
                self.source_conn,
                f"SELECT ID, post_type, post_title, post_password <> '' FROM {table} "
                "WHERE post_status = 'publish' AND post_type IN ('post', 'page') AND ID > %s "
                "ORDER BY ID LIMIT %s",
                (last, min(self.page_size, 100)),
            )
            if not page:
                return
            last = int(page[-1][0])
            yield [(int(r[0]), _s(r[1]), r[2], bool(r[3])) for r in page]

    def _rest_batch(self, client: httpx.Client, base: str, rest_type: str, ids: list[int]) -> dict[int, dict]:
        if not ids or self._rest_broken:
            return {}
        params = {"include": ",".join(map(str, ids)), "per_page": "100", "_fields": "id,link,title"}
        try:
            r = client.get(urljoin(base, f"wp-json/wp/v2/{rest_type}"), params=params)
            data = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            data = None
        if not isinstance(data, list):
            self._rest_broken = True  # fall back to /?p=ID for the rest of the run
            return {}
        out = {}
        for item in data:
            if isinstance(item, dict) and "id" in item:
                title = item.get("title")
                out[int(item["id"])] = {"link": item.get("link"),
                                        "title": title.get("rendered") if isinstance(title, dict) else None}
        return out

    def _check_one(self, client: httpx.Client, base: str, post: tuple[int, str, bytes, bool],
                   rest: dict | None) -> dict[str, Any] | None:
        pid, ptype, title, protected = post
        url = (rest or {}).get("link") or urljoin(base, f"?p={pid}")
        try:
            with client.stream("GET", url) as r:
                body = b""
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY_BYTES:
                        break
        except httpx.HTTPError as exc:
            return {"id": pid, "type": ptype, "title": _s(title), "url": url,
                    "reason": f"request failed: {exc.__class__.__name__}"}
        final = str(r.url)
        problem = {"id": pid, "type": ptype, "title": _s(title), "url": url, "final_url": final,
                   "status": r.status_code}
        if r.status_code != 200:
            return {**problem, "reason": f"HTTP {r.status_code}"}
        if urlsplit(final).netloc.lower() != self._target_netloc:
            return {**problem, "reason": "redirected away from the target site"}
        candidates = [(rest or {}).get("title"), *page_title_candidates(body, r.encoding)]
        if not title_matches(title, candidates, protected):
            return {**problem, "reason": "title differs",
                    "target_titles": [c for c in candidates if c][:3]}
        return None

    def http(self) -> dict[str, Any]:
        problems = _Bounded(self.max_problems)
        if not self.target_url:
            return _section("Published posts and pages answer on the target", problems, checked=0,
                            skipped="no target_url given")
        base = self.target_url.rstrip("/") + "/"
        self._target_netloc = urlsplit(base).netloc.lower()
        self._rest_broken = False
        own_client = self.http_client is None
        client = self.http_client or httpx.Client(follow_redirects=True, timeout=30.0,
                                                  headers={"User-Agent": "wpmigrate-verify/0.1"})
        checked, via_rest = 0, 0
        try:
            with ThreadPoolExecutor(max_workers=self.http_workers) as pool:
                for batch in self._published():
                    if self.http_limit is not None:
                        batch = batch[: max(0, self.http_limit - checked)]
                        if not batch:
                            break
                    rest: dict[int, dict] = {}
                    for rest_type, ptype in (("posts", "post"), ("pages", "page")):
                        rest.update(self._rest_batch(client, base, rest_type,
                                                     [p[0] for p in batch if p[1] == ptype]))
                    via_rest += sum(1 for p in batch if p[0] in rest)
                    results = pool.map(
                        lambda p, rest=rest: self._check_one(client, base, p, rest.get(p[0])), batch
                    )
                    for problem in results:
                        checked += 1
                        if problem:
                            problems.add(problem)
        finally:
            if own_client:
                client.close()
        notes = ["Each published post/page of the source DB is fetched on the target (URL from the "
                 "target's REST 'link', else /?p=ID redirect) and must answer 200 with the same title "
                 "(HTML entities and wptexturize quotes/dashes normalised)."]
        if self.http_limit is not None:
            notes.append(f"Limited to the first {self.http_limit} posts/pages by ID.")
        return _section("Published posts and pages answer on the target", problems, checked=checked,
                        notes=notes, resolved_via_rest=via_rest)

    # -- old origins
    def old_origins_scan(self) -> dict[str, Any]:
        problems = _Bounded(self.max_problems)
        variants: list[str] = []
        for origin in self.old_origins:
            variants += [v for v in origin_variants(origin) if v not in variants]
        if not variants:
            return _section("No old-origin references left", problems, checked=0,
                            skipped="no old origins given")
        # Lower-cased text searched as bytes: case-insensitive for hosts, and about twice as fast
        # as a collation-aware LOCATE (measured on 800k postmeta rows).
        cover = covering_variants(v.lower() for v in variants)
        skip = {(self.tt(t), c): why for (t, c), why in self.skip_columns.items()}
        columns: dict[str, list[tuple[str, bool]]] = {}
        for table, column, dtype in _query(
            self.target_conn,
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
        ):
            table, column, dtype = _s(table), _s(column), _s(dtype).lower()
            if table in self.tgt_tables and dtype in TEXT_TYPES and (table, column) not in skip:
                columns.setdefault(table, []).append((column, dtype in BINARY_TYPES))
        scanned, hits_total, errors = 0, 0, []
        per_column: list[dict[str, Any]] = []
        for table, cols in columns.items():
            conds, args = [], []
            for col, binary in cols:
                expr = _searchable(col, binary)
                conds.append("SUM(" + " OR ".join([f"LOCATE(%s, {expr}) > 0"] * len(cover)) + ")")
                args += cover
            try:
                sums = _query(self.target_conn, f"SELECT {', '.join(conds)} FROM {_q(table)}", args)[0]
            except Exception as exc:  # e.g. collation mix on an exotic column: report, go on
                errors.append({"table": table, "error": str(exc)[:200]})
                continue
            scanned += len(cols)
            pk = _primary_key(self.target_conn, table)
            for (col, binary), hits in zip(cols, sums, strict=True):
                hits = int(hits or 0)
                if not hits:
                    continue
                hits_total += hits
                per_column.append({"table": table, "column": col, "rows": hits})
                self._list_hits(table, col, binary, pk, cover, variants, hits, problems)
        notes = [
            "Scanned inside MariaDB with LOCATE per column (one pass per table) for: " + ", ".join(variants),
            *(f"Not scanned: {self.target_prefix}{t}.{c} ({why})"
              for (t, c), why in self.skip_columns.items()),
            "Matched case-insensitively (LOWER, then a byte search); BLOBs are read as utf8mb4.",
        ]
        problems_extra: dict[str, Any] = {"scan_errors": errors} if errors else {}
        if errors:
            for err in errors:
                problems.add({"table": err["table"], "reason": "scan failed", "error": err["error"]})
        return _section("No old-origin references left", problems, checked=scanned, notes=notes,
                        variants=variants, rows_with_old_origin=hits_total, columns_with_hits=per_column,
                        **problems_extra)

    def _list_hits(self, table: str, col: str, binary: bool, pk: list[str], cover: list[str],
                   variants: list[str], hits: int, problems: _Bounded) -> None:
        qc = _q(col)
        expr = _searchable(col, binary)
        where = " OR ".join([f"LOCATE(%s, {expr}) > 0"] * len(cover))
        first = "COALESCE(" + ", ".join([f"NULLIF(LOCATE(%s, {expr}), 0)"] * len(cover)) + ")"
        pk_sql = ", ".join(_q(c) for c in pk) if pk else "NULL"
        limit = min(self.hits_per_column, max(0, problems.limit - len(problems.items)))
        if limit == 0:
            problems.count_only(hits)
            return
        rows = _query(
            self.target_conn,
            f"SELECT {pk_sql}, SUBSTRING(CAST({qc} AS BINARY), GREATEST(1, {first} - 40), 160) "
            f"FROM {_q(table)} "
            f"WHERE {where} LIMIT {int(limit)}",
            [*cover, *cover],
        )
        for row in rows:
            snippet = _s(row[-1])
            matched = next((v for v in variants if v.lower() in snippet.lower()), None)
            problems.add({
                "table": table, "column": col,
                "pk": {c: _s(v) for c, v in zip(pk, row[:-1], strict=False)} if pk else None,
                "variant": matched, "snippet": snippet,
            })
        problems.count_only(hits - len(rows))

    # -- serialized values
    def serialized(self) -> dict[str, Any]:
        problems = _Bounded(self.max_problems)
        check, oracle, close = _serialized_validator(self.php_binary)
        if check is None:
            return _section("Serialized values unserialize", problems, checked=0,
                            skipped="neither php nor wpmigrate.php_serialized is available")
        targets = []
        for table in sorted(self.tgt_tables):
            name = table[len(self.target_prefix):]
            for pattern, pk, col in SERIALIZED_TABLES:
                if pattern.fullmatch(name):
                    targets.append((table, pk, col))
        prefilter = " OR ".join(["LEFT({col}, 2) = %s"] * len(_SQL_PREFIXES))
        per_table: dict[str, int] = {}
        checked, crashed = 0, 0
        try:
            for table, pk, col in targets:
                last, n = -1, 0
                where = prefilter.format(col=_q(col))
                while True:
                    page = _query(
                        self.target_conn,
                        f"SELECT {_q(pk)}, {_q(col)} FROM {_q(table)} WHERE {_q(pk)} > %s AND ({where}) "
                        f"ORDER BY {_q(pk)} LIMIT %s",
                        (last, *_SQL_PREFIXES, self.page_size),
                    )
                    if not page:
                        break
                    last = int(page[-1][0])
                    cands = [(int(r[0]), bytes(r[1])) for r in page if SERIALIZED_START.match(bytes(r[1]))]
                    verdicts = check([v for _, v in cands])
                    for (rid, value), ok in zip(cands, verdicts, strict=True):
                        if ok:
                            continue
                        if ok is None:
                            crashed += 1
                        problems.add({
                            "table": table, "column": col, "pk": {pk: rid}, "bytes": len(value),
                            "head": _s(value[:120]),
                            "reason": "unserialize() fails" if ok is False else "php crashed on value",
                            **self._serialized_name(table, pk, rid),
                        })
                    n += len(cands)
                per_table[table] = n
                checked += n
        finally:
            close()
        notes = [f"Oracle: {oracle}.",
                 "Candidates: values starting like PHP serialized data (a:, O:, s:, i:, b:, d:, N;, C:, E:) "
                 "in options/postmeta/usermeta/termmeta/commentmeta/sitemeta, paged by primary key."]
        if crashed:
            notes.append(f"{crashed} value(s) crashed the PHP process (memory?) and count as failures.")
        return _section("Serialized values unserialize", problems, checked=checked, notes=notes,
                        oracle=oracle, candidates_per_table=per_table)

    def _serialized_name(self, table: str, pk: str, rid: int) -> dict[str, str]:
        """The option_name / meta_key of a failing row, for a readable report."""
        col = "option_name" if pk == "option_id" else "meta_key"
        try:
            rows = _query(self.target_conn, f"SELECT {_q(col)} FROM {_q(table)} WHERE {_q(pk)} = %s", (rid,))
        except Exception:
            return {}
        return {col: _s(rows[0][0])} if rows else {}


def _searchable(col: str, binary: bool) -> str:
    """SQL for a column's text lower-cased, as bytes (LOWER is a no-op on binary strings)."""
    text = f"CONVERT({_q(col)} USING utf8mb4)" if binary else _q(col)
    return f"CAST(LOWER({text}) AS BINARY)"


def _field(entry: Any, *names: str) -> Any:
    """A manifest field from a dict or a ``file_manifest.ManifestEntry``."""
    for name in names:
        value = entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name, None)
        if value is not None:
            return value
    return None


def _sha256(path: Any) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


_CHECK_METHODS = {
    "row_counts": "row_counts", "posts": "posts", "terms": "terms", "comments": "comments",
    "users": "users", "files": "files", "http": "http", "old_origins": "old_origins_scan",
    "serialized": "serialized",
}


def _end_transaction(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()


def _run_checks(v: _Verifier, selected: Sequence[str]) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for name in selected:
        t0 = time.monotonic()
        try:
            section = getattr(v, _CHECK_METHODS[name])()
        except Exception as exc:  # a check that cannot run proves nothing: it fails the report
            log.exception("verification check %s failed to run", name)
            section = _section(name, _Bounded(1), checked=0)
            reason = f"check could not run: {exc.__class__.__name__}: {exc}"[:500]
            section.update(status="error", ok=False, problem_count=1, problems=[{"reason": reason}])
        section["duration_s"] = round(time.monotonic() - t0, 3)
        sections[name] = section
        log.info("verify %s: %s (%s checked, %s problems)", name, section["status"], section["checked"],
                 section["problem_count"])
    return sections


def verify_full_access(
    *,
    source_conn: Any,
    target_conn: Any,
    source_prefix: str,
    target_prefix: str,
    old_origins: Sequence[str],
    target_url: str | None,
    files_manifest: Iterable[Mapping[str, Any] | Any] | None,
    target_wp_content: Any | None,
    service_users: Sequence[str] = (),
    skip_columns: Mapping[tuple[str, str], str] = DEFAULT_SKIP_COLUMNS,
    http_client: httpx.Client | None = None,
    php_binary: str | None = "php",
    checks: Collection[str] | None = None,
    http_limit: int | None = None,
    http_workers: int = 4,
    page_size: int = 500,
    max_problems: int = 50,
    hits_per_column: int = 5,
) -> dict[str, Any]:
    """Compare a Mode A source and target; return the verification report (JSON-able).

    ``files_manifest``: ``file_manifest.ManifestEntry`` objects or dicts with ``path`` (relative
    to wp-content), ``sha256`` and optionally ``size`` (e.g. ``iter_manifest(path)``; streamed).
    ``skip_columns`` keys are ``(unprefixed table, column)``; the value is the reason shown.
    ``checks`` restricts which sections run (default: all of ``ALL_CHECKS``).
    The caller fails the run when ``report["ok"]`` is False.

    Both connections are rolled back before and after (verification only reads): an open
    transaction would pin a REPEATABLE READ snapshot older than the import and keep
    metadata locks that block later DDL (cleanup, a re-import's RENAME). Do not pass a
    connection that holds uncommitted writes.
    """
    started = time.monotonic()
    selected = list(ALL_CHECKS if checks is None else [c for c in ALL_CHECKS if c in set(checks)])
    unknown = set(checks or ()) - set(ALL_CHECKS)
    if unknown:
        raise ValueError(f"unknown checks: {sorted(unknown)}")
    _end_transaction(source_conn)
    _end_transaction(target_conn)
    v = _Verifier(
        source_conn=source_conn, target_conn=target_conn, source_prefix=source_prefix,
        target_prefix=target_prefix, old_origins=list(old_origins), target_url=target_url,
        files_manifest=files_manifest, target_wp_content=target_wp_content,
        service_users=tuple(service_users), skip_columns=dict(skip_columns), http_client=http_client,
        php_binary=php_binary, http_limit=http_limit, http_workers=max(1, http_workers),
        page_size=max(1, page_size), max_problems=max(1, max_problems),
        hits_per_column=max(1, hits_per_column),
    )
    try:
        sections = _run_checks(v, selected)
        source_db, target_db = _database(source_conn), _database(target_conn)
    finally:
        _end_transaction(source_conn)
        _end_transaction(target_conn)

    losses: list[dict[str, Any]] = []
    losses_total = 0
    for name, section in sections.items():
        if section["ok"]:
            continue
        losses_total += section["problem_count"]
        for problem in section["problems"]:
            if len(losses) < max_problems:
                losses.append({"section": name, **problem})
    return {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "mode": "full_access",
        "ok": all(s["ok"] for s in sections.values()),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 3),
        "source": {"database": source_db, "prefix": source_prefix, "tables": len(v.src_tables)},
        "target": {"database": target_db, "prefix": target_prefix, "url": target_url},
        "old_origins": list(old_origins),
        "summary": {name: s["status"] for name, s in sections.items()},
        "losses": losses,
        "losses_total": losses_total,
        "sections": sections,
    }
