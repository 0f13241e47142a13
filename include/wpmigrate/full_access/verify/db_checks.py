"""The database checks: row counts, posts/terms/comments/users and serialized values,
source against target (the old-origin scan is ``origin_scan``).

Counts run inside MariaDB; rows are paged by primary key. DB connections are opened
with ``use_unicode=False`` (``db.connect``): values are bytes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from wpmigrate.full_access.db.sql import (
    Connection,
    query,
    quote_ident,
    scalar,
)
from wpmigrate.full_access.verify.options import VerifyOptions
from wpmigrate.full_access.verify.php_oracle import Validator, serialized_validator
from wpmigrate.full_access.verify.report import ProblemList, Section, report_text, section

# Why the import leaves these columns alone (``rewrite.url_rewrite.DEFAULT_SKIP_COLUMNS``),
# so old origins may legitimately remain there; shown in the report.
SKIP_REASONS: Mapping[tuple[str, str], str] = {
    ("posts", "guid"): (
        "WordPress uses guid as a permanent identifier (feed readers); it must not be rewritten"
    ),
    ("users", "user_pass"): "password hashes are opaque and never rewritten",
}
# Tables where the target may hold more rows than the source: the platform's service
# user (users/usermeta) and target-only options survive the import.
EXPLAINED_EXTRA_TABLES = frozenset({"users", "usermeta", "options"})

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


def skip_reasons(
    skip_columns: Mapping[tuple[str, str], str] | Collection[tuple[str, str]],
) -> dict[tuple[str, str], str]:
    """``(unprefixed table, column) -> reason``; pairs given without one get ours."""
    if isinstance(skip_columns, Mapping):
        return dict(skip_columns)
    return {pair: SKIP_REASONS.get(pair, "never rewritten by the import") for pair in sorted(skip_columns)}


def list_tables(conn: Connection, prefix: str) -> list[str]:
    rows = query(
        conn,
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
    )
    return [name for (raw,) in rows if (name := report_text(raw)).startswith(prefix)]


def _count(conn: Connection, table: str) -> int:
    return int(scalar(conn, f"SELECT COUNT(*) FROM {quote_ident(table)}"))


def _grouped(conn: Connection, sql: str) -> dict[str, int]:
    return {"/".join(report_text(k) for k in row[:-1]): int(row[-1]) for row in query(conn, sql)}


# ---------------------------------------------------------------- counts

def row_counts(o: VerifyOptions) -> Section:
    problems, warnings = ProblemList(o.max_problems), ProblemList(o.max_problems)
    rows: list[dict[str, object]] = []
    src_names = {t[len(o.source_prefix):] for t in o.source_tables}
    for table in o.source_tables:
        name = table[len(o.source_prefix):]
        target = o.target_table(name)
        src = _count(o.source_conn, table)
        if target not in o.target_tables:
            rows.append({"table": name, "source": src, "target": None, "status": "missing"})
            problems.add({"table": name, "source_table": table, "target_table": target,
                          "reason": "table missing on target", "source_rows": src})
            continue
        tgt = _count(o.target_conn, target)
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
    target_only = sorted(t[len(o.target_prefix):] for t in o.target_tables
                         if t[len(o.target_prefix):] not in src_names)
    notes = ["Exact COUNT(*) per table. More rows on the target in users/usermeta/options are "
             "expected: the platform's service user and target-only options survive the import."]
    if target_only:
        notes.append("Tables only on the target (not compared): " + ", ".join(target_only))
    return section("Row counts per table", problems, checked=len(o.source_tables),
                   warnings=warnings, notes=notes, tables=rows, target_only_tables=target_only)


def _grouped_compare(o: VerifyOptions, title: str, key_name: str, sql_src: str, sql_tgt: str,
                     notes: Sequence[str] = ()) -> Section:
    problems, warnings = ProblemList(o.max_problems), ProblemList(o.max_problems)
    src, tgt = _grouped(o.source_conn, sql_src), _grouped(o.target_conn, sql_tgt)
    table = []
    for key in sorted(set(src) | set(tgt)):
        s, t = src.get(key, 0), tgt.get(key, 0)
        table.append({key_name: key, "source": s, "target": t})
        if t < s:
            problems.add({key_name: key, "source": s, "target": t, "missing": s - t})
        elif t > s:
            warnings.add({key_name: key, "source": s, "target": t, "extra": t - s})
    return section(title, problems, checked=sum(src.values()), warnings=warnings,
                   notes=notes, counts=table)


def _per_group(o: VerifyOptions, sql: str, table: str) -> tuple[str, str]:
    return (sql.format(quote_ident(o.source_table(table))),
            sql.format(quote_ident(o.target_table(table))))


def posts(o: VerifyOptions) -> Section:
    sql = "SELECT post_type, post_status, COUNT(*) FROM {} GROUP BY post_type, post_status"
    return _grouped_compare(o, "Posts per type and status", "type/status", *_per_group(o, sql, "posts"))


def terms(o: VerifyOptions) -> Section:
    sql = "SELECT taxonomy, COUNT(*) FROM {} GROUP BY taxonomy"
    return _grouped_compare(o, "Terms per taxonomy", "taxonomy", *_per_group(o, sql, "term_taxonomy"))


def comments(o: VerifyOptions) -> Section:
    sql = "SELECT comment_approved, COUNT(*) FROM {} GROUP BY comment_approved"
    return _grouped_compare(o, "Comments per status", "status", *_per_group(o, sql, "comments"),
                            notes=["comment_approved: 1 approved, 0 pending, spam, trash"])


def users(o: VerifyOptions) -> Section:
    problems, warnings = ProblemList(o.max_problems), ProblemList(o.max_problems)
    src_users, tgt_users = quote_ident(o.source_table("users")), quote_ident(o.target_table("users"))
    last, checked, found = -1, 0, 0
    while True:
        page = query(o.source_conn,
                     f"SELECT ID, user_login FROM {src_users} WHERE ID > %s ORDER BY ID LIMIT %s",
                     (last, o.page_size))
        if not page:
            break
        last = int(page[-1][0])
        logins = [row[1] for row in page]
        marks = ",".join(["%s"] * len(logins))
        present = {r[0] for r in query(
            o.target_conn, f"SELECT user_login FROM {tgt_users} WHERE user_login IN ({marks})", logins)}
        for uid, login in page:
            checked += 1
            if login in present:
                found += 1
            else:
                problems.add({"id": int(uid), "login": report_text(login),
                              "reason": "user missing on target"})
    tgt_total = _count(o.target_conn, o.target_table("users"))
    service_present: list[str] = []
    if o.service_users:
        marks = ",".join(["%s"] * len(o.service_users))
        service_present = sorted(report_text(r[0]) for r in query(
            o.target_conn, f"SELECT user_login FROM {tgt_users} WHERE user_login IN ({marks})",
            list(o.service_users)))
    unexplained = tgt_total - found - len(service_present)
    if unexplained > 0:
        warnings.add({"reason": "target has users that are neither from the source nor service users",
                      "count": unexplained})
    for missing in sorted(set(o.service_users) - set(service_present)):
        warnings.add({"login": missing, "reason": "platform service user not found on target"})
    # Roles live in prefixed keys: a wrong prefix mapping silently strips every role.
    cap_src = scalar(o.source_conn,
                     f"SELECT COUNT(*) FROM {quote_ident(o.source_table('usermeta'))} WHERE meta_key = %s",
                     (o.source_prefix + "capabilities",))
    cap_tgt = scalar(o.target_conn,
                     f"SELECT COUNT(*) FROM {quote_ident(o.target_table('usermeta'))} WHERE meta_key = %s",
                     (o.target_prefix + "capabilities",))
    if int(cap_tgt) < int(cap_src):
        problems.add({"reason": f"fewer '{o.target_prefix}capabilities' usermeta rows than the "
                                f"source's '{o.source_prefix}capabilities' (roles lost?)",
                      "source": int(cap_src), "target": int(cap_tgt)})
    roles = scalar(o.target_conn,
                   f"SELECT COUNT(*) FROM {quote_ident(o.target_table('options'))} WHERE option_name = %s",
                   (o.target_prefix + "user_roles",))
    if not int(roles):
        problems.add({"reason": f"option '{o.target_prefix}user_roles' missing on target"})
    return section("Users (by login)", problems, checked=checked, warnings=warnings,
                   notes=["Every source user_login must exist on the target; the platform's "
                          "service users may be extra."],
                   source_users=checked, target_users=tgt_total, service_users_present=service_present)


# ---------------------------------------------------------------- serialized values

BROKEN_AT_SOURCE = (
    "already broken on the source: PHP cannot unserialize the source's value either (the "
    "import rewrites such a value as plain text, it cannot repair it)"
)


def _broken_on_source(o: VerifyOptions, table: str, pk: str, rids: Sequence[int],
                      check: Validator) -> set[int]:
    """Of the target rows ``rids`` whose value does not unserialize, those whose source row
    (the same option_name, or the same meta id) does not unserialize either."""
    if not rids:
        return set()
    source_table = o.source_table(table[len(o.target_prefix):])
    if source_table not in o.source_tables:
        return set()
    qt, qpk = quote_ident(table), quote_ident(pk)
    marks = ",".join(["%s"] * len(rids))
    col = "option_value" if pk == "option_id" else "meta_value"
    if pk == "option_id":  # options are matched by name: the import may renumber them
        by_name = {bytes(n): int(i) for i, n in query(
            o.target_conn, f"SELECT {qpk}, option_name FROM {qt} WHERE {qpk} IN ({marks})", list(rids))}
        rows = query(o.source_conn, f"SELECT option_name, option_value FROM {quote_ident(source_table)} "
                                    f"WHERE option_name IN ({','.join(['%s'] * len(by_name))})",
                     list(by_name)) if by_name else []
        source = [(by_name[bytes(n)], bytes(v)) for n, v in rows]
    else:
        rows = query(o.source_conn, f"SELECT {qpk}, {quote_ident(col)} FROM {quote_ident(source_table)} "
                                    f"WHERE {qpk} IN ({marks})", list(rids))
        source = [(int(i), bytes(v)) for i, v in rows]
    verdicts = check([v for _, v in source])
    return {rid for (rid, _), ok in zip(source, verdicts, strict=True) if ok is False}


def serialized(o: VerifyOptions) -> Section:
    problems, warnings = ProblemList(o.max_problems), ProblemList(o.max_problems)
    check, oracle, close = serialized_validator(o.php_binary)
    targets = []
    for table in sorted(o.target_tables):
        name = table[len(o.target_prefix):]
        for pattern, pk, col in SERIALIZED_TABLES:
            if pattern.fullmatch(name):
                targets.append((table, pk, col))
    prefilter = " OR ".join(["LEFT({col}, 2) = %s"] * len(_SQL_PREFIXES))
    per_table: dict[str, int] = {}
    checked, crashed = 0, 0
    try:
        for table, pk, col in targets:
            last, n = -1, 0
            qt, qpk, qcol = quote_ident(table), quote_ident(pk), quote_ident(col)
            where = prefilter.format(col=qcol)
            while True:
                page = query(
                    o.target_conn,
                    f"SELECT {qpk}, {qcol} FROM {qt} WHERE {qpk} > %s AND ({where}) "
                    f"ORDER BY {qpk} LIMIT %s",
                    (last, *_SQL_PREFIXES, o.page_size),
                )
                if not page:
                    break
                last = int(page[-1][0])
                cands = [(int(r[0]), bytes(r[1])) for r in page if SERIALIZED_START.match(bytes(r[1]))]
                verdicts = check([v for _, v in cands])
                failing = [(rid, value, ok)
                           for (rid, value), ok in zip(cands, verdicts, strict=True) if not ok]
                broken_at_source = _broken_on_source(o, table, pk, [rid for rid, _, _ in failing], check)
                for rid, value, ok in failing:
                    if ok is None:
                        crashed += 1
                    item = {
                        "table": table, "column": col, "pk": {pk: rid}, "bytes": len(value),
                        "head": report_text(value[:120]),
                        "reason": "unserialize() fails" if ok is False else "php crashed on value",
                        **_serialized_name(o.target_conn, table, pk, rid),
                    }
                    if ok is False and rid in broken_at_source:
                        warnings.add({**item, "expected": True, "reason": BROKEN_AT_SOURCE})
                    else:
                        problems.add(item)
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
    notes.append("A value the source cannot unserialize either is listed as expected, not as a loss.")
    return section("Serialized values unserialize", problems, checked=checked, warnings=warnings, notes=notes,
                   oracle=oracle, candidates_per_table=per_table)


def _serialized_name(conn: Connection, table: str, pk: str, rid: int) -> dict[str, str]:
    """The option_name / meta_key of a failing row, for a readable report."""
    col = "option_name" if pk == "option_id" else "meta_key"
    try:
        rows = query(conn, f"SELECT {quote_ident(col)} FROM {quote_ident(table)} "
                           f"WHERE {quote_ident(pk)} = %s", (rid,))
    except Exception:
        return {}
    return {col: report_text(rows[0][0])} if rows else {}
