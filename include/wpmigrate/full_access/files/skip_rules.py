"""Which source entries the file export leaves out, and why.

Two kinds of refusal, both counted per reason in the export summary:
- by what an entry is: names we refuse (``..``, backslash, NUL, not UTF-8), symlinks
  (never followed or copied: one could point anywhere on the source host) and
  special files (FIFOs, devices, sockets);
- by where it is: the skip patterns (``DEFAULT_SKIP``), matched against the path
  relative to wp-content. A matching directory is not even listed, so it counts once.
"""

from __future__ import annotations

import fnmatch
import re
import stat as stat_mod
from collections.abc import Iterable
from dataclasses import dataclass

from wpmigrate.full_access.files.manifest import UnsafePath, safe_name

# Patterns are matched against the path relative to wp-content, component by
# component (fnmatch, case-sensitive; ``*`` never crosses ``/``); ``**`` matches any
# number of components.
DEFAULT_SKIP: tuple[str, ...] = (
    # Caches: rebuilt by their plugins on the target; stale copies can serve old pages.
    "cache", "et-cache", "litespeed", "wflogs",
    # Core updater scratch space (WordPress itself empties it).
    "upgrade", "upgrade-temp-backup",
    # Backup plugins' archives: often larger than the site, and a copy of the site.
    "backup*", "ai1wm-backups", "updraft", "wpvividbackups",
    "uploads/backwpup-*", "uploads/backupbuddy_backups", "uploads/pb_backupbuddy",
    # Logs at the top level (WP_DEBUG_LOG writes debug.log here).
    "*.log",
    # Drop-ins bound to the source host's cache backend: on a host without that
    # backend they take the site down; the platform installs its own.
    "object-cache.php", "advanced-cache.php",
    # Managed hosts' must-use plugins, which only work on their own platform.
    "mu-plugins/wpengine-common", "mu-plugins/wpe-*", "mu-plugins/kinsta-mu-plugins*",
    "mu-plugins/gd-system-plugin*", "mu-plugins/endurance-*",
    # Version control metadata and desktop junk, anywhere: never used by WordPress.
    "**/.git", "**/.svn", "**/.hg", "**/.DS_Store",
)
# Deliberately NOT skipped: node_modules (some plugins enqueue assets from it),
# uploads/*/cache-like plugin folders (can hold generated-but-referenced files),
# *.log below the top level (a plugin may ship one). Losing a file the site uses is
# worse than copying a few extra megabytes.

# The summary's ``skipped`` counters. The last two are decided while transferring:
# an entry gone since it was listed, or one the SFTP user may not read.
SKIP_REASONS: tuple[str, ...] = ("excluded", "symlinks", "special", "unsafe_names", "vanished", "unreadable")


class SkipRules:
    """Compiled skip patterns (see ``DEFAULT_SKIP``)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._anchored: dict[int, list[tuple[str, ...]]] = {}
        anywhere: list[str] = []
        self._general: list[tuple[str, ...]] = []
        for pattern in self.patterns:
            parts = tuple(p for p in pattern.strip("/").split("/") if p)
            if not parts:
                continue
            if "**" not in parts:
                self._anchored.setdefault(len(parts), []).append(parts)
            elif parts[0] == "**" and len(parts) == 2 and parts[1] != "**":
                anywhere.append(parts[1])
            else:
                self._general.append(parts)
        # One regex for the "anywhere" basenames: checked for every entry, so keep it cheap.
        self._anywhere = re.compile("|".join(fnmatch.translate(p) for p in anywhere)) if anywhere else None

    def __call__(self, rel: str) -> str | None:
        """Return the matching pattern, or None."""
        parts = rel.split("/")
        if self._anywhere is not None and self._anywhere.match(parts[-1]):
            return "**/" + parts[-1]
        for cand in self._anchored.get(len(parts), ()):
            if all(fnmatch.fnmatchcase(p, c) for p, c in zip(parts, cand, strict=True)):
                return "/".join(cand)
        for cand in self._general:
            if _match_parts(tuple(parts), cand):
                return "/".join(cand)
        return None


def _match_parts(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match_parts(parts[1:], pattern[1:])


@dataclass(frozen=True, slots=True)
class Skip:
    """An entry left out: ``reason`` is one of ``SKIP_REASONS``; a directory's path ends in ``/``."""

    reason: str
    path: str
    detail: str = ""


def classify_entry(rel_dir: str, raw: bytes, mode: int | None, rules: SkipRules) -> str | Skip:
    """The path (relative to wp-content) of a listed entry to export, or why it is not exported.

    ``raw`` is the name as the source listed it (bytes: it may not be UTF-8), ``mode``
    its lstat ``st_mode``. What comes back as a path is a regular file or a directory.
    """
    shown = raw.decode("utf-8", "backslashreplace")
    try:
        name = safe_name(raw.decode("utf-8"))
    except (UnicodeDecodeError, UnsafePath) as exc:
        return Skip("unsafe_names", f"{rel_dir}/{shown}" if rel_dir else shown, str(exc))
    rel = f"{rel_dir}/{name}" if rel_dir else name
    if mode is None:
        return Skip("special", rel, "no file type reported")
    if stat_mod.S_ISLNK(mode):
        return Skip("symlinks", rel)
    if not (stat_mod.S_ISDIR(mode) or stat_mod.S_ISREG(mode)):
        return Skip("special", rel, oct(stat_mod.S_IFMT(mode)))
    pattern = rules(rel)
    if pattern:
        return Skip("excluded", rel + ("/" if stat_mod.S_ISDIR(mode) else ""), pattern)
    return rel
