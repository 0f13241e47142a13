"""Temporary switches on a sandbox WordPress site, given its docroot, for the tests of logins
and installs that a real host refuses: a second factor at login (a mu-plugin) and
``DISALLOW_FILE_MODS`` (a define in wp-config.php). Each is a context manager that puts the
site back exactly as it was (file bytes, mode, mtime; a mu-plugins folder it had to create
is removed again)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SWITCHES = Path(__file__).resolve().parent / "assets" / "switches"
SECOND_FACTOR_PLUGIN = "wpsandbox-second-factor.php"
FTP_FILESYSTEM_PLUGIN = "wpsandbox-ftp-filesystem.php"
# php -S runs with opcache (validate_timestamps, revalidate_freq=2): a changed wp-config.php
# is only seen once the cached copy is older than that.
OPCACHE_SETTLE_SECONDS = 2.2


@contextmanager
def mu_plugin(docroot: str | Path, source: Path) -> Iterator[Path]:
    """``source`` installed as a must-use plugin for the duration."""
    folder = Path(docroot) / "wp-content" / "mu-plugins"
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / source.name
    if dest.exists():
        raise FileExistsError(f"{dest} exists already: another switch is on")
    try:
        shutil.copyfile(source, dest)
        yield dest
    finally:
        dest.unlink(missing_ok=True)
        if created:
            folder.rmdir()


@contextmanager
def second_factor(docroot: str | Path) -> Iterator[Path]:
    """wp-login.php asks for a one-time code after a correct password (and never logs in)."""
    with mu_plugin(docroot, SWITCHES / SECOND_FACTOR_PLUGIN) as path:
        yield path


@contextmanager
def filesystem_needs_credentials(docroot: str | Path) -> Iterator[Path]:
    """WordPress asks for FTP credentials before it installs, updates or deletes a plugin."""
    with mu_plugin(docroot, SWITCHES / FTP_FILESYSTEM_PLUGIN) as path:
        yield path


def _insert_define(config: str, line: str) -> str:
    """``line`` before the "stop editing" comment, else before the first line that uses
    ABSPATH (the wp-settings.php bootstrap): constants must be defined before it."""
    lines = config.splitlines(keepends=True)
    at = next((i for i, text in enumerate(lines) if "stop editing" in text), None)
    if at is None:
        at = next((i for i, text in enumerate(lines) if "ABSPATH" in text), None)
    if at is None:
        raise ValueError("wp-config.php has neither a 'stop editing' line nor an ABSPATH bootstrap")
    return "".join(lines[:at]) + line + "\n" + "".join(lines[at:])


def _replace(path: Path, data: bytes, like: os.stat_result, *, same_mtime: bool) -> None:
    # Atomic (the site keeps serving); mode and, when restoring, the mtime as they were.
    tmp = path.with_name(path.name + ".wpsandbox-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, like.st_mode & 0o7777)
    if same_mtime:
        os.utime(tmp, ns=(like.st_atime_ns, like.st_mtime_ns))
    os.replace(tmp, path)


@contextmanager
def wp_config_define(docroot: str | Path, name: str, php_value: str) -> Iterator[None]:
    """``define('<name>', <php_value>);`` in wp-config.php for the duration."""
    path = Path(docroot) / "wp-config.php"
    original = path.read_bytes()
    stat = path.stat()
    text = original.decode()
    if f"'{name}'" in text or f'"{name}"' in text:
        raise ValueError(f"wp-config.php already names {name}")
    _replace(path, _insert_define(text, f"define('{name}', {php_value});").encode(), stat,
             same_mtime=False)
    time.sleep(OPCACHE_SETTLE_SECONDS)
    try:
        yield
    finally:
        _replace(path, original, stat, same_mtime=True)
        time.sleep(OPCACHE_SETTLE_SECONDS)


@contextmanager
def disallow_file_mods(docroot: str | Path) -> Iterator[None]:
    """``DISALLOW_FILE_MODS`` true: no plugin or theme installs, updates or edits in wp-admin."""
    with wp_config_define(docroot, "DISALLOW_FILE_MODS", "true"):
        yield
