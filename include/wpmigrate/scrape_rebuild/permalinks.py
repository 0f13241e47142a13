"""The source's permalink structure, inferred from its posts' public links, so the target can
serve every post at the path the source served it (bookmarks, search results and inbound
links keep working after the DNS switch, without a redirect).

WordPress builds a post's path from its structure's tags (``%year%``, ``%monthnum%``,
``%day%``, ``%hour%``, ``%minute%``, ``%second%``, ``%postname%``, ``%post_id%``,
``%category%``, ``%author%``). Each sample post's path is turned back into a structure by
putting the tag where a segment equals one of the post's values; the structure every sample
agrees on is the site's. A site whose posts disagree (a plugin rewriting some links) or use
plain links (``?p=123``: ids differ on the target) gets no structure: the target keeps its
own, and verification reports every post path it then loses. Pages need nothing: WordPress
serves them at their parent path under any structure but the plain one.

Samples come from REST records (``sample_from_rest``) or, with the API closed, from the
posts' rendered pages (``html.permalink_sample``); posts known only by their link (sitemaps)
must then ``fit`` the structure's shape as well.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

MIN_AGREEMENT = 1.0  # every sample: a structure that fits most posts moves the others
_TAG = re.compile(r"(%[a-z_]+%)")
_TWO_DIGITS = r"\d{2}"
_TAG_PATTERNS = {"%year%": r"\d{4}", "%monthnum%": _TWO_DIGITS, "%day%": _TWO_DIGITS, "%hour%": _TWO_DIGITS,
                 "%minute%": _TWO_DIGITS, "%second%": _TWO_DIGITS, "%post_id%": r"\d+",
                 "%postname%": "[^/]+", "%author%": "[^/]+", "%category%": ".+"}


@dataclass(frozen=True)
class PostSample:
    """What a post's path can be built from."""

    path: str  # the public link's path, as the source serves it
    date: str  # local time, ISO 8601 (REST ``date``)
    slug: str
    post_id: int
    category_paths: tuple[str, ...] = ()  # "parent/child" slugs of each of its categories
    author: str = ""  # the author's slug (REST ``author`` resolved), when known


@dataclass(frozen=True)
class Inference:
    structure: str | None  # None: no structure every sample agrees on
    samples: int
    agreeing: int
    reason: str


def sample_from_rest(record: Mapping[str, Any], category_paths: Iterable[str] = (),
                     author: str = "") -> PostSample | None:
    """A sample from a REST post record (``link``, ``date``, ``slug``, ``id``)."""
    link, date, slug = record.get("link"), record.get("date"), record.get("slug")
    if not (isinstance(link, str) and isinstance(date, str) and isinstance(slug, str) and slug):
        return None
    try:
        post_id = int(record["id"])
    except (KeyError, TypeError, ValueError):
        return None
    parts = urlsplit(link)
    if parts.query:  # plain permalinks (?p=123): nothing a structure can reproduce
        return PostSample(path="?" + parts.query, date=date, slug=slug, post_id=post_id)
    return PostSample(path=parts.path, date=date, slug=slug, post_id=post_id,
                      category_paths=tuple(category_paths), author=author)


def structure_of(sample: PostSample, home_path: str = "/") -> str | None:
    """The structure that builds ``sample``'s path, or None when some segment is not one of
    the post's values (e.g. a literal base such as ``/archives/`` is kept as it is)."""
    if sample.path.startswith("?"):
        return None
    path = unquote(sample.path)
    base = home_path.rstrip("/")
    if base and not path.startswith(base + "/"):
        return None
    rest = path[len(base):]
    trailing = rest.endswith("/")
    segments = [s for s in rest.split("/") if s]
    slug = unquote(sample.slug)  # REST gives non-ASCII slugs percent-encoded, as the path has them
    values = {**date_values(sample.date), "%post_id%": str(sample.post_id)}
    out: list[str] = []
    i = 0
    while i < len(segments):
        segment = segments[i]
        if segment == slug:
            out.append("%postname%")
        elif sample.author and segment == sample.author:
            out.append("%author%")
        elif category := _category_at(segments, i, sample.category_paths):
            out.append("%category%")
            i += category.count("/") + 1
            continue
        else:
            # Date tags stand in order: a used one is not taken again (/2024/05/05/: month, day).
            tag = next((t for t, v in values.items() if segment == v and t not in out), None)
            out.append(tag or segment)  # a literal part of the structure (``archives``)
        i += 1
    if "%postname%" not in out and "%post_id%" not in out:
        return None  # not a post's own path
    return "/" + "/".join(out) + ("/" if trailing else "")


def date_values(date: str) -> dict[str, str]:
    """The date tags' values of an ISO 8601 local date ("2024-05-05T07:08:09"); none when
    the date is not one (a page that shows no date: its date segments stay literal)."""
    day, time = date[:10].split("-"), date[11:19].split(":")
    if len(day) != 3 or len(time) != 3 or not all(v.isdigit() for v in (*day, *time)):
        return {}
    return {"%year%": day[0], "%monthnum%": day[1], "%day%": day[2],
            "%hour%": time[0], "%minute%": time[1], "%second%": time[2]}


def _category_at(segments: list[str], start: int, category_paths: tuple[str, ...]) -> str | None:
    """The longest of the post's category paths that the segments spell from ``start``."""
    for category in sorted(category_paths, key=len, reverse=True):
        parts = category.split("/")
        if segments[start:start + len(parts)] == parts:
            return category
    return None


def fits(structure: str, path: str, home_path: str = "/") -> bool:
    """Whether ``path`` has the shape ``structure`` builds (a post seen only by its link, in a
    sitemap or a listing: its date and id unknown, its shape still checkable)."""
    pattern = "".join(_TAG_PATTERNS.get(part, re.escape(part)) for part in _TAG.split(structure))
    base = home_path.rstrip("/")
    return re.fullmatch(re.escape(base) + pattern.rstrip("/") + "/?", unquote(path)) is not None


def infer_structure(samples: Iterable[PostSample], home_path: str = "/",
                    other_paths: Iterable[str] = ()) -> Inference:
    """The structure every sample's path agrees on (see the module docstring), and that every
    other post path seen (``other_paths``) fits."""
    counts: Counter[str | None] = Counter(structure_of(s, home_path) for s in samples)
    total = sum(counts.values())
    if not total:
        return Inference(None, 0, 0, "no published post to learn the permalink structure from")
    (structure, agreeing), = counts.most_common(1)
    if structure is None:
        return Inference(None, total, agreeing, "the posts' links are plain (?p=ID) or use no slug or id")
    if agreeing / total < MIN_AGREEMENT:
        return Inference(None, total, agreeing, f"the posts' links follow {len(counts)} different patterns")
    misfits = [p for p in other_paths if not fits(structure, p, home_path)]
    if misfits:
        return Inference(None, total, agreeing, f"{len(misfits)} post link(s) do not fit {structure}"
                                                f" (e.g. {misfits[0]})")
    return Inference(structure, total, agreeing, f"all {total} sampled posts agree")
