"""Temporary switches on a sandbox WordPress site, given its docroot, for the tests of logins
and installs that real hosts refuse: a second factor at login, a locked-out login, a blocked
plugin upload page, a filesystem that needs FTP credentials, ``DISALLOW_FILE_MODS``; and a
target that answers 404 where WordPress would guess a redirect to a post. Each is
a must-use plugin file (``assets/switches``) present for the duration of a context manager; a
mu-plugins folder it had to create is removed again, so the site is left exactly as it was.

Why mu-plugins and not edits of wp-config.php: ``php -S`` serves with opcache (timestamps
revalidated at most every 2 s, per worker), so an edited wp-config.php is seen after a delay
tests cannot rely on, while WordPress lists mu-plugins by reading the folder on each request.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SWITCHES = Path(__file__).resolve().parent / "assets" / "switches"
SECOND_FACTOR_PLUGIN = "wpsandbox-second-factor.php"
FTP_FILESYSTEM_PLUGIN = "wpsandbox-ftp-filesystem.php"
DISALLOW_FILE_MODS_PLUGIN = "wpsandbox-disallow-file-mods.php"
LOCKOUT_PLUGIN = "wpsandbox-login-lockout.php"
BLOCK_UPLOAD_PLUGIN = "wpsandbox-block-plugin-upload.php"
NO_404_GUESS_PLUGIN = "wpsandbox-no-404-guess.php"


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


@contextmanager
def disallow_file_mods(docroot: str | Path) -> Iterator[Path]:
    """``DISALLOW_FILE_MODS`` true: no plugin or theme installs, updates or edits in wp-admin."""
    with mu_plugin(docroot, SWITCHES / DISALLOW_FILE_MODS_PLUGIN) as path:
        yield path


@contextmanager
def login_locked_out(docroot: str | Path) -> Iterator[Path]:
    """Every wp-login.php login is refused with a lockout message (Limit Login Attempts' words)."""
    with mu_plugin(docroot, SWITCHES / LOCKOUT_PLUGIN) as path:
        yield path


@contextmanager
def plugin_upload_blocked(docroot: str | Path) -> Iterator[Path]:
    """plugin-install.php redirects administrators to plugins.php (no upload form)."""
    with mu_plugin(docroot, SWITCHES / BLOCK_UPLOAD_PLUGIN) as path:
        yield path


@contextmanager
def no_404_guess(docroot: str | Path) -> Iterator[Path]:
    """An unknown path answers 404: no guessed redirect to a post of the same slug."""
    with mu_plugin(docroot, SWITCHES / NO_404_GUESS_PLUGIN) as path:
        yield path
