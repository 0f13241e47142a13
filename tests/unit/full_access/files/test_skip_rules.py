"""Which entries the file export leaves out, and why (no network)."""

from __future__ import annotations

import stat

import pytest

from wpmigrate.full_access.files.skip_rules import DEFAULT_SKIP, Skip, SkipRules, classify_entry


def test_default_skip_rules() -> None:
    rules = SkipRules(DEFAULT_SKIP)
    skipped = ["cache", "et-cache", "upgrade", "backups", "backup-db", "backups-dup-lite", "ai1wm-backups",
               "updraft", "wflogs", "debug.log", "object-cache.php", "uploads/backwpup-abc123-backups",
               "mu-plugins/wpengine-common", "themes/x/.git", "plugins/p/sub/.svn", "uploads/.DS_Store"]
    kept = ["uploads", "uploads/2024/cache.jpg", "plugins/p/cache", "plugins/p/node_modules",
            "themes/x/debug.log", "uploads/backup.zip", "plugins/backupwordpress", "mu-plugins/mine.php",
            "languages", "themes/.gitignore", "Cache"]
    assert {p: rules(p) for p in skipped if rules(p) is None} == {}
    assert {p: rules(p) for p in kept if rules(p) is not None} == {}


def test_skip_rules_general_globstar() -> None:
    rules = SkipRules(["uploads/**/tmp", "**/x/*.bak"])
    assert rules("uploads/tmp") and rules("uploads/a/b/tmp") and not rules("themes/tmp")
    assert rules("x/a.bak") and rules("a/b/x/c.bak") and not rules("a/x/c.bak.txt")


_FILE, _DIR = stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755


@pytest.mark.parametrize(("rel_dir", "raw", "mode", "expected"), [
    ("", b"uploads", _DIR, "uploads"),
    ("uploads/2024", "café.jpg".encode(), _FILE, "uploads/2024/café.jpg"),
    ("", b"cache", _DIR, Skip("excluded", "cache/", "cache")),
    ("themes/x", b".git", _DIR, Skip("excluded", "themes/x/.git/", "**/.git")),
    ("", b"debug.log", _FILE, Skip("excluded", "debug.log", "*.log")),
    ("uploads", b"link.jpg", stat.S_IFLNK | 0o777, Skip("symlinks", "uploads/link.jpg")),
    ("uploads", b"pipe", stat.S_IFIFO | 0o644, Skip("special", "uploads/pipe", oct(stat.S_IFIFO))),
    ("uploads", b"odd", None, Skip("special", "uploads/odd", "no file type reported")),
])
def test_classify_entry(rel_dir: str, raw: bytes, mode: int | None, expected: str | Skip) -> None:
    assert classify_entry(rel_dir, raw, mode, SkipRules(DEFAULT_SKIP)) == expected


@pytest.mark.parametrize(("raw", "shown"), [(b"caf\xe9.jpg", "uploads/caf\\xe9.jpg"),
                                           (b"a\\b.txt", "uploads/a\\b.txt"), (b"..", "uploads/..")])
def test_classify_entry_refuses_unsafe_names(raw: bytes, shown: str) -> None:
    got = classify_entry("uploads", raw, _FILE, SkipRules(()))
    assert isinstance(got, Skip) and (got.reason, got.path) == ("unsafe_names", shown) and got.detail
