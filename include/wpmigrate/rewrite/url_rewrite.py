"""Search-replace of site URLs and paths in database values, serialization-aware.

One ``UrlRewriter`` per migration; ``rewrite()`` is called once per column value
(raw bytes as MySQL returns them) and keeps no state but bounded statistics, so a
table of any size streams through it.

How a value is handled:

1. No search term anywhere in it (checked with a few ``bytes in`` tests): returned
   as the same object. This is nearly every value, and the reason throughput is high.
2. WordPress would unserialize it (``is_serialized``), or it is a top-level
   ``C:``/``S:`` value: the serialized walker rewrites each string payload and
   recomputes its byte length, following serialized strings nested in strings.
   A value that looks serialized but does not parse (``s:2:"http://old";``) is
   rewritten as plain text, counted as ``unparseable`` (and
   ``unparseable_rewritten`` when that changed it) and sampled for the report: PHP
   cannot unserialize it before nor after, so a plain replace cannot make it worse,
   and the old URL does not survive. A walker bug (not a format error) leaves the
   value unchanged.
3. Anything else (text, HTML, block markup, JSON): plain replacement.

Text replacement never turns bytes PHP cannot unserialize into bytes it can
(``serialized_guard``): a wrong ``s:N:`` that happens to fit the new URL would
otherwise bring a value, or an object, to life. Such a value (or string payload) is
left unchanged and reported (``unparseable`` / ``skipped_parts``).

``/`` spelled as an HTML reference (``https:&#x2F;&#x2F;old``) is one more spelling of a
URL; an old host with escaped characters (``//&#111;ld``) is never rewritten, but counted
as ``escaped_urls`` and sampled (``escaped_urls``).

Array keys of serialized values are left alone by default (like wp-cli: two keys
could collide); a value that still holds a search term in a key afterwards is
counted as ``serialized_keys`` and sampled, so the report says where.

Schemes and hosts may be matched case-insensitively (``for_migration`` does:
``HTTP://OLD-HOST`` is the old site); what follows the host (a site path) and plain
path terms stay case-sensitive.

All search terms are matched in ONE pass by a single regex built as a trie of the
terms, so at any position the longest term wins and replaced text is never scanned
again: an old domain that is a substring of the new one, or an old path that
appears in the new URL, cannot be replaced twice. A term that ends in a hostname
character only matches when the next byte does not continue the host or port
(``http://old.example`` leaves ``http://old.example.com``, ``http://old.examplefoo``
and ``http://127.0.0.1:80812`` alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wpmigrate.rewrite.escaped_urls import EscapedUrlFinder
from wpmigrate.rewrite.php_serialized import (
    SerializedFormatError,
    is_serialized,
    transform_strings,
    validate,
)
from wpmigrate.rewrite.serialized_guard import becomes_unserializable
from wpmigrate.rewrite.url_variants import (
    PATH_ENCODINGS,
    URL_ENCODINGS,
    SiteUrl,
)

__all__ = [
    "DEFAULT_SKIP_COLUMNS",
    "RewriteStats",
    "UrlRewriter",
    "skip_column",
]

# (unprefixed table, column) pairs never rewritten by default: a post's guid is its
# permanent identifier (feed readers key on it), a password hash is opaque.
DEFAULT_SKIP_COLUMNS: frozenset[tuple[str, str]] = frozenset({("posts", "guid"), ("users", "user_pass")})

MAX_SAMPLES = 50
# Below this size a value is scanned by the regex directly; above it, only around
# needle occurrences (see UrlRewriter._sub_long).
_SHORT = 2048
SAMPLE_PREFIX_BYTES = 64
ESCAPED_URL = "an old URL with escaped host characters or slashes in a mix: left unchanged"
BECOMES_SERIALIZED = "left unchanged: rewritten as text it would become serialized data PHP accepts"

# After a term ending in a host/path character, the match must not continue a host
# label, a dotted name or a port: "-", "_", alnum, ".x", ":9".
_BOUNDARY = rb"(?![A-Za-z0-9_\-]|\.[A-Za-z0-9_\-]|:[0-9])"
_WORDISH = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MISSING: Any = object()


def skip_column(
    table: str,
    column: str,
    table_prefix: str = "wp_",
    skip: Iterable[tuple[str, str]] = DEFAULT_SKIP_COLUMNS,
) -> bool:
    """Whether ``table.column`` is left alone; multisite ``wp_2_posts`` counts as posts."""
    name = table[len(table_prefix) :] if table_prefix and table.startswith(table_prefix) else table
    name = re.sub(r"^[0-9]+_", "", name)
    return (name, column) in set(skip)


@dataclass
class RewriteStats:
    """Counters for a report; ``samples`` is bounded whatever the data size.

    ``serialized_values`` and ``unparseable`` count values that held a search term
    (only those are walked); ``unparseable_rewritten`` those of the unparseable ones
    that plain replacement changed; ``skipped_parts`` counts parts of otherwise
    rewritten values left as they were (opaque ``C:`` payloads, malformed nested
    serialized strings) that contain a search term; ``serialized_keys`` counts values
    left holding a search term in a serialized array key (keys are not rewritten
    unless asked); ``escaped_urls`` values left holding an old URL spelled with escaped
    host characters (``escaped_urls``: never rewritten, see there).
    """

    values_seen: int = 0
    values_changed: int = 0
    replacements: int = 0
    serialized_values: int = 0
    unparseable: int = 0
    unparseable_rewritten: int = 0
    skipped_parts: int = 0
    serialized_keys: int = 0
    escaped_urls: int = 0
    samples: list[dict[str, str]] = field(default_factory=list)
    max_samples: int = MAX_SAMPLES

    def add_sample(self, reason: str, value: bytes, detail: str = "", where: str | None = None) -> None:
        if len(self.samples) >= self.max_samples:
            return
        # A short prefix only: values may hold secrets (API keys in options).
        sample = {
            "reason": reason,
            "prefix": value[:SAMPLE_PREFIX_BYTES].decode("utf-8", "backslashreplace"),
            "length": str(len(value)),
        }
        if detail:
            sample["detail"] = detail
        if where:
            sample["where"] = where
        self.samples.append(sample)

    def merge(self, other: RewriteStats) -> None:
        self.values_seen += other.values_seen
        self.values_changed += other.values_changed
        self.replacements += other.replacements
        self.serialized_values += other.serialized_values
        self.unparseable += other.unparseable
        self.unparseable_rewritten += other.unparseable_rewritten
        self.skipped_parts += other.skipped_parts
        self.serialized_keys += other.serialized_keys
        self.escaped_urls += other.escaped_urls
        room = self.max_samples - len(self.samples)
        if room > 0:
            self.samples.extend(other.samples[:room])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom, report)."""
        return {
            "values_seen": self.values_seen,
            "values_changed": self.values_changed,
            "replacements": self.replacements,
            "serialized_values": self.serialized_values,
            "unparseable": self.unparseable,
            "unparseable_rewritten": self.unparseable_rewritten,
            "skipped_parts": self.skipped_parts,
            "serialized_keys": self.serialized_keys,
            "escaped_urls": self.escaped_urls,
            "samples": list(self.samples),
        }


def _b(s: bytes | str) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def _trie_pattern(terms: Iterable[bytes], boundary: bool, any_case: bool = False) -> bytes:
    """Regex for a set of literals, shaped as a trie: longer continuations are tried
    before a shorter term ends, which is exactly longest-match-first.

    ``any_case`` (terms given lower-cased): letters match in either case. Not with a
    global ``re.IGNORECASE``, which costs the regex its first-byte scan (about twice
    the time): a term's first byte is a plain literal per case (a branch each, so the
    engine still knows every byte a match can start with), the rest is ``(?i:...)``."""
    end = -1
    root: dict[int, Any] = {}
    for term in terms:
        node = root
        for byte in term:
            node = node.setdefault(byte, {})
        node[end] = _BOUNDARY if boundary and term[-1] in _WORDISH else b""

    def build(node: dict[int, Any]) -> bytes:
        branches = []
        for byte in sorted(k for k in node if k != end):
            literal = bytearray([byte])
            child = node[byte]
            while len(child) == 1 and end not in child:  # collapse single-child chains
                (nxt, child), = child.items()
                literal.append(nxt)
            branches.append(re.escape(bytes(literal)) + build(child))
        if end in node:
            branches.append(node[end])  # last: a term ending here is the shortest option
        if len(branches) == 1:
            return branches[0]
        return b"(?:" + b"|".join(branches) + b")"

    if not any_case:
        return build(root)
    firsts = []
    for byte in sorted(k for k in root if k != end):
        rest = build(root[byte])  # the subtree below this first byte
        rest = b"(?i:" + rest + b")" if rest else b""
        char = bytes([byte])
        for variant in dict.fromkeys((char.upper(), char.lower())):
            firsts.append(re.escape(variant) + rest)
    return b"(?:" + b"|".join(firsts) + b")"


def _minimal_needles(candidates: Iterable[bytes], terms: Iterable[bytes]) -> tuple[bytes, ...]:
    """Fewest substrings such that every term contains one: the cheap pre-check."""
    kept: list[bytes] = []
    for c in sorted(set(candidates), key=len):
        if c and not any(k in c for k in kept):
            kept.append(c)
    missing = [t for t in terms if not any(k in t for k in kept)]
    if missing:  # only when a candidate list was given that does not cover every term
        return _minimal_needles([*kept, *missing], terms)
    # Only keep needles some term actually uses.
    return tuple(k for k in kept if any(k in t for t in terms))


class UrlRewriter:
    """Literal search -> replace pairs applied in one longest-match-first pass.

    Not thread-safe (it counts into ``stats``): one instance per task/thread;
    ``RewriteStats.merge`` combines them.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[bytes | str, bytes | str]],
        *,
        boundary: bool = True,
        rewrite_keys: bool = False,
        needles: Iterable[bytes | str] = (),
        max_samples: int = MAX_SAMPLES,
        case_insensitive: Mapping[bytes, int] | None = None,
        escaped: EscapedUrlFinder | None = None,
    ) -> None:
        """``rewrite_keys``: also rewrite string keys of serialized arrays (off, like
        wp-cli: two keys could collide). ``needles``: optional cheap pre-check
        substrings (e.g. the bare host); missing coverage is completed automatically.
        ``case_insensitive``: search term -> how many of its leading bytes match in any
        ASCII letter case (``b"http://old.example/wp"`` -> 18: scheme and host); the
        rest of a term, and every term not listed, must match exactly. ``escaped``: finds
        old URLs spelled with escapes that are not rewritten, to count and sample them."""
        self._escaped = escaped
        table: dict[bytes, bytes | None] = {}
        for search, replace in pairs:
            s, r = _b(search), _b(replace)
            if not s:
                raise ValueError("empty search term")
            if s in table and (table[s] or s) != r:
                raise ValueError(f"conflicting replacements for {s!r}")
            # An identity pair stays in the pattern (it shields its text from a
            # shorter term: https://x must not be touched by a //x term) but is
            # stored as None so it is neither replaced nor counted.
            table[s] = None if s == r else r
        self._table = table
        self.rewrite_keys = rewrite_keys
        self.stats = RewriteStats(max_samples=max_samples)
        self._count = 0
        self._refused: list[bytes] = []  # payloads _sub_text left alone, per rewrite() call
        # Case folding: folded term -> [(term, bytes that must match exactly from)].
        self._folded: dict[bytes, list[tuple[bytes, int]]] = {}
        for raw, prefix in (case_insensitive or {}).items():
            term = _b(raw)
            if term not in table:
                raise ValueError(f"case_insensitive names an unknown term {term!r}")
            if prefix > 0:
                self._folded.setdefault(term.lower(), []).append((term, min(prefix, len(term))))
        if self._folded:  # exact terms take part too: their folded form must lead to them
            for term in table:
                entries = self._folded.setdefault(term.lower(), [])
                if all(t != term for t, _ in entries):
                    entries.append((term, 0))
        self._fold_needles: tuple[bytes, ...] = ()
        if not table:
            self._needles: tuple[bytes, ...] = ()
            self._regex = None
            self._reach = 0
            return
        self._needles = _minimal_needles([_b(n) for n in needles] or list(table), list(table))
        if self._folded:
            self._regex = re.compile(_trie_pattern(self._folded, boundary, any_case=True), re.DOTALL)
            # Needles with letters must also be found in another case (lower-cased value).
            self._fold_needles = tuple(
                n.lower() for n in self._needles if n.lower() != n.upper()
                and any(term.lower().find(n.lower()) < prefix for entries in self._folded.values()
                        for term, prefix in entries if n.lower() in term.lower()))
        else:
            self._regex = re.compile(_trie_pattern(table, boundary), re.DOTALL)
        # Every term holds a needle at most this far from its start: a match can only
        # begin within _reach bytes before a needle occurrence (see _sub).
        self._reach = max(min(t.find(n) for n in self._needles if n in t) for t in table)

    @property
    def pairs(self) -> dict[bytes, bytes]:
        return {s: s if r is None else r for s, r in self._table.items()}

    @property
    def case_insensitive(self) -> dict[bytes, int]:
        """Term -> how many leading bytes match in any ASCII letter case (0: exact)."""
        return {t: n for entries in self._folded.values() for t, n in entries}

    @property
    def needles(self) -> tuple[bytes, ...]:
        return self._needles

    # ------------------------------------------------------------------ factory

    @classmethod
    def for_migration(
        cls,
        old_urls: Iterable[str],
        new_url: str,
        old_path: str | None = None,
        new_path: str | None = None,
        **kwargs: Any,
    ) -> UrlRewriter:
        """Every variant real sites hold of each old site address -> the new one.

        ``old_urls`` are addresses of the same site root (``home`` as stored, aliases,
        the other scheme); they all map to ``new_url``. A ``siteurl`` below ``home``
        (``/wp``) needs no entry: it is rewritten as a prefix. Per old URL and host
        (with and without ``www.``; an IDN host in Unicode and in punycode):
        ``http://`` and ``https://`` (-> the new URL's scheme), ``//host`` (->
        ``//newhost``), each also JSON-escaped (``\\/``), JSON-escaped as ``\\u002F``
        and ``\\u002f``, double JSON-escaped (``\\\\\\/``), urlencoded and rawurlencoded
        with upper- and lower-case hex. Scheme and host match in any ASCII letter case
        (``HTTP://OLD.EXAMPLE``); the site path after them exactly. ``old_path`` ->
        ``new_path`` (when both are given) plain, JSON-escaped (both ways) and double
        JSON-escaped, case-sensitive.
        """
        new = SiteUrl.parse(new_url)
        base: dict[str, tuple[str, int]] = {}  # search -> (replace, length of scheme + host)
        hosts: set[str] = set()
        netlocs: list[str] = []
        for url in old_urls:
            old = SiteUrl.parse(url)
            for host in old.host_variants():
                netlocs.append(host)
                hosts.add(host.rsplit(":", 1)[0] if not host.endswith("]") else host)
                for scheme in ("http", "https"):
                    head = f"{scheme}://{host}"
                    base[head + old.path] = (f"{new.scheme}://{new.netloc}{new.path}", len(head))
                base[f"//{host}{old.path}"] = (f"//{new.netloc}{new.path}", len(host) + 2)
        pairs: dict[bytes, bytes] = {}
        folding: dict[bytes, int] = {}
        for search, (replace, head_len) in base.items():
            for enc in URL_ENCODINGS:
                term = enc(search)
                if term not in pairs:
                    pairs[term] = enc(replace)
                    # Every encoding maps character by character: the head stays a prefix.
                    folding[term] = len(enc(search[:head_len]))
        needles: list[bytes] = [h.encode("utf-8") for h in hosts]
        if old_path and new_path:  # paths are rewritten only when both are known
            op, np_ = old_path.rstrip("/"), new_path.rstrip("/")
            if not op or not np_:
                raise ValueError("a site path must not be the filesystem root")
            if op != np_:
                for enc in PATH_ENCODINGS:
                    pairs.setdefault(enc(op), enc(np_))
                # One needle for all the forms: the path's longest segment.
                needles.append(max(op.split("/"), key=len).encode("utf-8"))
        kwargs.setdefault("escaped", EscapedUrlFinder(netlocs) if netlocs else None)
        return cls(list(pairs.items()), needles=needles, case_insensitive=folding, **kwargs)

    # ------------------------------------------------------------------ rewriting

    def has_candidate(self, value: bytes) -> bool:
        """Cheap: could any search term occur in ``value``?"""
        for needle in self._needles:  # a plain loop beats any(<genexpr>) here
            if needle in value:
                return True
        # Another letter case: only possible with an upper-case letter in the value
        # (islower() stops at the first one and allocates nothing).
        if self._fold_needles and not value.islower():
            low = value.lower()
            for needle in self._fold_needles:
                if needle in low:
                    return True
        return False

    def _lookup(self, term: bytes) -> bytes | None:
        """The replacement of a matched text; None keeps it (an identity pair, or a
        case variant of a term whose case-sensitive part differs)."""
        new = self._table.get(term, _MISSING)
        if new is not _MISSING:
            return new
        best: tuple[int, bytes] | None = None
        for cand, exact_from in self._folded.get(term.lower(), ()):
            if term[exact_from:] != cand[exact_from:]:
                continue
            # Of the case variants listed (%3A / %3a, \u002F / \u002f), the closest.
            distance = sum(a != b for a, b in zip(term, cand, strict=True))
            if best is None or distance < best[0]:
                best = (distance, cand)
        return None if best is None else self._table[best[1]]

    def _replace(self, m: re.Match[bytes]) -> bytes:
        term = m.group()
        new = self._table.get(term, _MISSING)
        if new is _MISSING:
            new = self._lookup(term)
        if new is None:  # identity pair: keep the text
            return term
        self._count += 1
        return new

    def _sub(self, value: bytes) -> bytes:
        """One left-to-right pass, longest term first, over ``value``."""
        regex = self._regex
        assert regex is not None
        if len(value) < _SHORT:
            before = self._count
            new = regex.sub(self._replace, value)
            return value if self._count == before else new
        return self._sub_long(value, regex)

    def _sub_text(self, value: bytes) -> bytes:
        """``_sub``, unless that would turn bytes PHP cannot unserialize into bytes it can."""
        before = self._count
        new = self._sub(value)
        if becomes_unserializable(value, new):
            self._count = before
            self._refused.append(value)
            return value
        return new

    def _sub_long(self, value: bytes, regex: re.Pattern[bytes]) -> bytes:
        """Same result as ``regex.sub`` over the whole value, but the regex only runs
        near needle occurrences found by ``bytes.find`` (C speed, long HTML): a match
        cannot start before ``occurrence - reach``, or it would hold an earlier one.
        """
        lookup = self._lookup
        needles = self._needles
        # Lower-casing keeps every offset (ASCII letters only): needles are found in any case.
        find = value.lower().find if self._fold_needles else value.find
        if self._fold_needles:
            needles = tuple(dict.fromkeys(n.lower() for n in needles))
        nexts = [find(n) for n in needles]
        out: list[bytes] = []
        cursor = 0
        count = 0
        while True:
            occ = -1
            for i, at in enumerate(nexts):
                if 0 <= at < cursor:
                    at = nexts[i] = find(needles[i], cursor)
                if at >= 0 and (occ < 0 or at < occ):
                    occ = at
            if occ < 0:
                break
            m = regex.search(value, max(cursor, occ - self._reach))
            if m is None:
                break
            term = m.group()
            new = lookup(term)
            if new is None:
                new = term
            else:
                count += 1
            out.append(value[cursor : m.start()])
            out.append(new)
            cursor = m.end()
        if not count:
            return value
        self._count += count
        out.append(value[cursor:])
        return b"".join(out)

    def rewrite_plain(self, value: bytes) -> bytes:
        """Plain replacement, no serialized handling (for columns known to hold none)."""
        st = self.stats
        st.values_seen += 1
        if not self.has_candidate(value):
            if self._escaped is not None and (b"&" in value or b"%" in value):  # ESCAPE_BYTES
                self._report_escaped(value, None)
            return value
        self._count = 0
        new = self._account(value, self._sub(value))
        if self._escaped is not None and (b"&" in new or b"%" in new):
            self._report_escaped(new, None)
        return new

    def _report_escaped(self, value: bytes, where: str | None) -> None:
        """Count and sample ``value`` when it still holds an escaped old URL."""
        assert self._escaped is not None
        found = self._escaped.find(value)
        if found is not None:
            self.stats.escaped_urls += 1
            self.stats.add_sample("escaped_url", found, ESCAPED_URL, where)

    def rewrite(self, value: bytes, where: str | None = None) -> bytes:
        """Rewrite one column value. Never raises on bad data; ``where`` (e.g.
        ``"wp_options:option_value:siteurl"``) labels report samples."""
        st = self.stats
        st.values_seen += 1
        if not self.has_candidate(value):
            if self._escaped is not None and (b"&" in value or b"%" in value):  # ESCAPE_BYTES, inline: hot
                self._report_escaped(value, where)
            return value
        new = self._rewrite_candidate(value, where)
        if self._escaped is not None and (b"&" in new or b"%" in new):
            self._report_escaped(new, where)
        return new

    def _rewrite_candidate(self, value: bytes, where: str | None) -> bytes:
        """``rewrite`` of a value that may hold a search term."""
        st = self.stats
        self._count = 0
        self._refused.clear()
        if is_serialized(value) or (value[:2] in (b"C:", b"S:") and validate(value)):
            st.serialized_values += 1
            skipped: list[tuple[str, bytes]] = []
            try:
                new = transform_strings(
                    value,
                    self._sub_text,
                    keys=self.rewrite_keys,
                    visit=self.has_candidate,
                    on_skip=lambda kind, payload: skipped.append((kind, payload)),
                )
            except SerializedFormatError as exc:
                # PHP cannot unserialize it either: as text, the old URL does not survive.
                st.unparseable += 1
                self._count = 0
                new = self._sub(value)
                if becomes_unserializable(value, new):
                    st.add_sample("unparseable", value, f"{exc}; {BECOMES_SERIALIZED}", where)
                    return value
                if self._count:
                    st.unparseable_rewritten += 1
                    st.add_sample("unparseable_rewritten_as_text", value, str(exc), where)
                else:
                    st.add_sample("unparseable", value, str(exc), where)
                return self._account(value, new)
            except Exception as exc:  # a walker bug must not crash a table nor corrupt a value
                st.unparseable += 1
                st.add_sample("unparseable", value, f"internal error: {exc!r}"[:200], where)
                return value
            for kind, payload in skipped:
                if self.has_candidate(payload):
                    st.skipped_parts += 1
                    st.add_sample(kind, payload, "left unchanged", where)
            for payload in self._refused:
                st.skipped_parts += 1
                st.add_sample("would_become_serialized", payload, BECOMES_SERIALIZED, where)
            if not self.rewrite_keys and self.has_candidate(new):
                self._report_keys(new, where)
        else:
            new = self._sub_text(value)
            if self._refused:  # e.g. a C: value with a wrong length
                st.unparseable += 1
                st.add_sample("unparseable", value, BECOMES_SERIALIZED, where)
        return self._account(value, new)

    def _holds_term(self, value: bytes) -> bool:
        """Whether a search term that would be replaced occurs in ``value`` (exact)."""
        assert self._regex is not None
        return any(self._lookup(m.group()) is not None for m in self._regex.finditer(value))

    def _report_keys(self, value: bytes, where: str | None) -> None:
        """A walked value still holds a search term: count and sample the array keys
        that hold one (left as they are, like wp-cli). Rare, so walked a second time."""
        keys: list[bytes] = []
        try:
            transform_strings(value, lambda s: s, visit=self.has_candidate, on_key=keys.append)
        except SerializedFormatError:
            return
        keys = [k for k in keys if self._holds_term(k)]
        if keys:
            self.stats.serialized_keys += 1
            self.stats.add_sample("serialized_key", keys[0],
                                  f"{len(keys)} array key(s) hold an old URL; keys are not rewritten", where)

    def _account(self, old: bytes, new: bytes) -> bytes:
        if self._count == 0:
            return old  # only identity terms matched
        self.stats.replacements += self._count
        self.stats.values_changed += 1
        return new
