"""A WordPress administrator's wp-admin, driven like a browser: log in with a cookie session,
upload a plugin zip through core's upload form, activate, deactivate and delete it.

Only core's own HTML forms and admin-ajax are used (no REST API: security plugins often
close it). Pages are recognised by their structure first (form ids, field names, link
actions) and by core's English strings only to tell one refusal from another, so an admin
in another language still works. A login that cannot be automated (a second factor, a
captcha, a lockout, a blocked upload form) fails fast and permanently with
``INVALID_CREDENTIALS``; its user message names the way out, the manual install.

The password is only ever in the login POST's body: never in a message, log line or
exception, and this object does not keep it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup, Tag

from wpmigrate.core.errors import ErrorCode, MigrationError

log = logging.getLogger(__name__)

MANUAL_INSTALL = "install the wpmigrate companion plugin by hand and give its secret through a connection"
TEST_COOKIE = "wordpress_test_cookie"
LOGGED_IN_COOKIE_PREFIX = "wordpress_logged_in_"


class Refusal(StrEnum):
    """Why wp-admin cannot do the install (``details["reason"]`` of the error)."""

    WRONG_LOGIN = "wrong_login"
    NOT_ADMINISTRATOR = "not_administrator"
    SECOND_FACTOR = "second_factor"
    CAPTCHA = "captcha"
    LOCKED_OUT = "locked_out"
    LOGIN_BLOCKED = "login_blocked"  # no login form, 403/429, an unknown answer
    SESSION_REJECTED = "session_rejected"  # logged in, but wp-admin sends us back to log in
    UPLOAD_BLOCKED = "upload_blocked"  # admin, but no upload form
    FILE_MODS_DISALLOWED = "file_mods_disallowed"
    FILESYSTEM_CREDENTIALS = "filesystem_credentials"  # WordPress asks for FTP credentials


_USER_MESSAGES: dict[Refusal, str] = {
    Refusal.WRONG_LOGIN: (
        "The WordPress username or password was not accepted by the source site. Please check "
        "the administrator login, or " + MANUAL_INSTALL + "."),
    Refusal.NOT_ADMINISTRATOR: (
        "The WordPress login is not an administrator of the source site (it may not install "
        "plugins). Please give an administrator's login, or " + MANUAL_INSTALL + "."),
    Refusal.SECOND_FACTOR: (
        "The source site asks for a second factor (a code) at login, which cannot be automated. "
        "Please " + MANUAL_INSTALL + "."),
    Refusal.CAPTCHA: (
        "The source site's login has a captcha, which cannot be automated. Please "
        + MANUAL_INSTALL + "."),
    Refusal.LOCKED_OUT: (
        "The source site has locked this login out after failed attempts. Wait for the lockout "
        "to end and check the password, or " + MANUAL_INSTALL + "."),
    Refusal.LOGIN_BLOCKED: (
        "The source site's login could not be automated (a security plugin or firewall may "
        "block it). Please " + MANUAL_INSTALL + "."),
    Refusal.SESSION_REJECTED: (
        "The source site accepted the login but not its session in wp-admin (a security "
        "plugin may block it). Please " + MANUAL_INSTALL + "."),
    Refusal.UPLOAD_BLOCKED: (
        "The source site does not offer the plugin upload form to this administrator (a "
        "security plugin may block it). Please " + MANUAL_INSTALL + "."),
    Refusal.FILE_MODS_DISALLOWED: (
        "The source site does not allow installing plugins from wp-admin (DISALLOW_FILE_MODS "
        "in wp-config.php or a hosting policy). Please " + MANUAL_INSTALL + "."),
    Refusal.FILESYSTEM_CREDENTIALS: (
        "The source site cannot write its plugins folder itself and asks for FTP credentials. "
        "Please " + MANUAL_INSTALL + "."),
}


def refused(reason: Refusal, message: str, **details: Any) -> MigrationError:
    """The permanent ``INVALID_CREDENTIALS`` error for a login that cannot do the install."""
    return MigrationError(ErrorCode.INVALID_CREDENTIALS, message, permanent=True,
                          details={"reason": str(reason), "manual_install": True, **details},
                          user_message=_USER_MESSAGES[reason])


# ------------------------------------------------------------------ page parsing (pure)

_CAPTCHA_MARKERS = re.compile(r"g-recaptcha|h-captcha|cf-turnstile|recaptcha/api|hcaptcha\.com|"
                              r"challenges\.cloudflare\.com/turnstile|name=[\"'][^\"']*captcha",
                              re.IGNORECASE)
_LOCKOUT_WORDS = re.compile(r"too many|locked out|lockout|temporarily (blocked|locked)|"
                            r"try again in|has been blocked", re.IGNORECASE)
_CAPTCHA_WORDS = re.compile(r"captcha|not a robot|turnstile", re.IGNORECASE)
_SECOND_FACTOR_WORDS = re.compile(r"two[- ]factor|2fa|verification code|authentication code|"
                                  r"one[- ]time|authenticator|security code", re.IGNORECASE)
_HIDDEN_TYPES = {"hidden", "submit", "button", "checkbox", "radio", "image", "reset"}


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def _text(tag: Tag | None) -> str:
    return " ".join(tag.get_text(" ").split()) if tag is not None else ""


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


@dataclass(frozen=True)
class LoginPage:
    """What a wp-login.php answer asks for."""

    has_form: bool
    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)  # extra hidden fields to send back
    fields: tuple[str, ...] = ()  # names of the visible fields it asks to fill in
    error: str = ""  # the text of #login_error
    captcha: bool = False

    @property
    def is_password_form(self) -> bool:
        return "log" in self.fields and "pwd" in self.fields


def parse_login_page(html: str) -> LoginPage:
    soup = _soup(html)
    form = soup.find("form", id="loginform") or soup.find("form", attrs={"name": "loginform"})
    if not isinstance(form, Tag):
        form = next((f for f in soup.find_all("form")
                     if isinstance(f, Tag) and _attr(f, "method").lower() == "post"), None)
    box = soup.find(id="login_error")
    error = _text(box if isinstance(box, Tag) else None)
    captcha = bool(_CAPTCHA_MARKERS.search(html))
    if not isinstance(form, Tag):
        return LoginPage(has_form=False, error=error, captcha=captcha)
    hidden: dict[str, str] = {}
    fields: list[str] = []
    for element in form.find_all(["input", "select", "textarea"]):
        if not isinstance(element, Tag) or not (name := _attr(element, "name")):
            continue
        kind = _attr(element, "type").lower() if element.name == "input" else element.name
        if kind == "hidden":
            hidden[name] = _attr(element, "value")
        elif kind not in _HIDDEN_TYPES:
            fields.append(name)
    return LoginPage(has_form=True, action=_attr(form, "action"), hidden=hidden,
                     fields=tuple(fields), error=error, captcha=captcha)


def classify_login_failure(status: int, html: str) -> MigrationError:
    """The error for a login POST that came back without a logged-in cookie."""
    page = parse_login_page(html)
    if page.has_form and page.is_password_form:
        if _LOCKOUT_WORDS.search(page.error):
            return refused(Refusal.LOCKED_OUT, "the source's login is locked out after failed attempts")
        if page.captcha or _CAPTCHA_WORDS.search(page.error):
            return refused(Refusal.CAPTCHA, "the source's login asks for a captcha")
        if _SECOND_FACTOR_WORDS.search(page.error) or len(page.fields) > 2:
            return refused(Refusal.SECOND_FACTOR,
                           "the source's login asks for a second factor besides the password",
                           fields=[f for f in page.fields if f not in ("log", "pwd")])
        return refused(Refusal.WRONG_LOGIN, "the source rejected the WordPress username or password")
    if page.has_form and page.fields:
        # A form asking for something else instead of logging in: a second factor's code.
        if page.captcha:
            return refused(Refusal.CAPTCHA, "the source's login asks for a captcha")
        return refused(Refusal.SECOND_FACTOR,
                       "the source's login asks for a second factor after the password "
                       f"(fields: {', '.join(page.fields)})", fields=list(page.fields))
    if status in (403, 429, 503) and _LOCKOUT_WORDS.search(_text(_soup(html).body)):
        return refused(Refusal.LOCKED_OUT, f"the source's login is locked out (HTTP {status})")
    return refused(Refusal.LOGIN_BLOCKED,
                   f"the source's login answered HTTP {status} without logging in or a form to fill in")


def wp_die_message(html: str) -> str | None:
    """The message of a ``wp_die()`` page (``<body id="error-page">``), else None."""
    soup = _soup(html)
    body = soup.find("body", id="error-page")
    if not isinstance(body, Tag):
        return None
    box = body.find(class_="wp-die-message")
    return _text(box if isinstance(box, Tag) else body)


@dataclass(frozen=True)
class UploadForm:
    action: str  # update.php?action=upload-plugin (network admin's on multisite)
    nonce: str  # _wpnonce, nonce action "plugin-upload"


def upload_form(html: str) -> UploadForm | None:
    """The plugin upload form of plugin-install.php?tab=upload."""
    soup = _soup(html)
    for form in soup.find_all("form"):
        if isinstance(form, Tag) and "action=upload-plugin" in _attr(form, "action"):
            nonce = form.find("input", attrs={"name": "_wpnonce"})
            if isinstance(nonce, Tag) and _attr(nonce, "value"):
                return UploadForm(action=_attr(form, "action"), nonce=_attr(nonce, "value"))
    return None


def needs_filesystem_credentials(html: str) -> bool:
    """plugin-install.php and plugins.php carry core's FTP credentials dialog when WordPress
    cannot write plugins itself and has no stored credentials."""
    return _soup(html).find(id="request-filesystem-credentials-dialog") is not None


class UploadOutcome(StrEnum):
    INSTALLED = "installed"
    ALREADY_EXISTS = "already_exists"
    INCOMPATIBLE_ARCHIVE = "incompatible_archive"
    NOT_ALLOWED = "not_allowed"
    FILESYSTEM_CREDENTIALS = "filesystem_credentials"
    NONCE_EXPIRED = "nonce_expired"  # also an upload over post_max_size: PHP drops the POST
    FAILED = "failed"


@dataclass(frozen=True)
class UploadResult:
    outcome: UploadOutcome
    message: str
    basename: str | None = None  # from the page's "Activate Plugin" link
    # "Cancel and go back" of the already-exists page: deletes the uploaded zip, which core
    # otherwise keeps in uploads/ (a private attachment) for the "Replace" link.
    cancel_url: str | None = None


def parse_upload_result(html: str) -> UploadResult:
    """Recognise the page ``update.php?action=upload-plugin`` answers."""
    soup = _soup(html)
    died = wp_die_message(html)
    if died is not None:
        lowered = died.lower()
        if "incompatible archive" in lowered or ".zip" in lowered:
            return UploadResult(UploadOutcome.INCOMPATIBLE_ARCHIVE, died)
        if "link you followed has expired" in lowered:
            return UploadResult(UploadOutcome.NONCE_EXPIRED, died)
        if "not allowed" in lowered:
            return UploadResult(UploadOutcome.NOT_ALLOWED, died)
        return UploadResult(UploadOutcome.FAILED, died)
    if soup.find(id="request-filesystem-credentials-form") or soup.find(
            "input", attrs={"name": "connection_type"}):
        return UploadResult(UploadOutcome.FILESYSTEM_CREDENTIALS,
                            "WordPress asks for FTP credentials to write the plugins folder")
    wrap = soup.find("div", class_="wrap")
    text = _text(wrap if isinstance(wrap, Tag) else soup.body if isinstance(soup.body, Tag) else None)
    cancel = next((_attr(a, "href") for a in soup.find_all("a", href=True)
                   if isinstance(a, Tag) and "action=upload-plugin-cancel-overwrite" in _attr(a, "href")),
                  None)
    for link in soup.find_all("a", href=True):
        if not isinstance(link, Tag):
            continue
        href = _attr(link, "href")
        if "overwrite=update-plugin" in href or "overwrite=downgrade-plugin" in href:
            return UploadResult(UploadOutcome.ALREADY_EXISTS, "the plugin's folder already exists",
                                cancel_url=cancel)
        query = parse_qs(urlsplit(href).query)
        if "plugins.php" in href and query.get("action") == ["activate"] and query.get("plugin"):
            return UploadResult(UploadOutcome.INSTALLED, "installed", basename=query["plugin"][0])
    if soup.find(class_="update-from-upload-heading") or "destination folder already exists" in text.lower():
        return UploadResult(UploadOutcome.ALREADY_EXISTS, "the plugin's folder already exists",
                            cancel_url=cancel)
    lowered = text.lower()
    if "installed successfully" in lowered:
        return UploadResult(UploadOutcome.INSTALLED, "installed")
    if "could not be installed" in lowered or "no valid plugins" in lowered:
        return UploadResult(UploadOutcome.INCOMPATIBLE_ARCHIVE, text[-300:])
    if "could not create directory" in lowered or "could not copy file" in lowered:
        return UploadResult(UploadOutcome.FILESYSTEM_CREDENTIALS, text[-300:])
    return UploadResult(UploadOutcome.FAILED, text[-300:] or "an unrecognised answer")


@dataclass(frozen=True)
class PluginRow:
    """One row of plugins.php."""

    basename: str
    active: bool
    activate_url: str | None = None
    deactivate_url: str | None = None


def parse_plugin_rows(html: str) -> dict[str, PluginRow]:
    """The plugins listed on plugins.php by basename (``<tr data-plugin=...>``)."""
    rows: dict[str, PluginRow] = {}
    for tr in _soup(html).find_all("tr", attrs={"data-plugin": True}):
        if not isinstance(tr, Tag):
            continue
        classes = _attr(tr, "class").split()
        links: dict[str, str] = {}
        for action in ("activate", "deactivate"):
            span = tr.find("span", class_=action)
            link = span.find("a", href=True) if isinstance(span, Tag) else None
            if isinstance(link, Tag):
                links[action] = _attr(link, "href")
        basename = _attr(tr, "data-plugin")
        rows[basename] = PluginRow(basename=basename, active="active" in classes,
                                   activate_url=links.get("activate"),
                                   deactivate_url=links.get("deactivate"))
    return rows


def is_plugin_list(html: str) -> bool:
    """plugins.php's list table rendered (the login may manage plugins)."""
    soup = _soup(html)
    return soup.find(id="the-list") is not None or soup.find("table", class_="plugins") is not None


def admin_notice_error(html: str) -> str:
    soup = _soup(html)
    box = soup.select_one("div.notice-error, div.error, #message.error")
    return _text(box) if isinstance(box, Tag) else ""


def updates_nonce(html: str) -> str | None:
    """The ``updates`` nonce admin-ajax's delete-plugin wants (``_wpUpdatesSettings``)."""
    match = re.search(r"_wpUpdatesSettings\s*=\s*\{[^;]*?\"ajax_nonce\"\s*:\s*\"([0-9a-f]+)\"", html)
    return match.group(1) if match else None


def logout_url(html: str) -> str | None:
    for link in _soup(html).find_all("a", href=True):
        if isinstance(link, Tag) and "action=logout" in _attr(link, "href"):
            return _attr(link, "href")
    return None


# ------------------------------------------------------------------ the session

class WpAdminSession:
    """One administrator's cookie session in the source's wp-admin.

    ``http`` carries the cookies (its jar is the session); ``home_url`` is where wp-login.php
    and wp-admin live (WordPress's siteurl; the same as home on most sites).
    """

    def __init__(self, http: httpx.Client, home_url: str) -> None:
        self._http = http
        self._site = home_url.rstrip("/")
        self._admin = self._site + "/wp-admin/"
        self._upload_form: UploadForm | None = None
        self.logged_in = False

    def __repr__(self) -> str:  # no cookies, no nonces
        return f"WpAdminSession({self._site!r}, logged_in={self.logged_in})"

    # -- requests

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            # Not chained: the request (the login's body holds the password) stays out of tracebacks.
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE,
                                 f"{method} {urlsplit(url).path} on the source failed: {type(exc).__name__}",
                                 permanent=False) from None

    def _admin_page(self, page: str, **params: str) -> httpx.Response:
        """A wp-admin page, following redirects; back at wp-login.php means no session."""
        # No empty params: httpx would replace the query string of a link like plugins.php's.
        kwargs: dict[str, Any] = {"params": params} if params else {}
        resp = self._request("GET", urljoin(self._admin, page), follow_redirects=True, **kwargs)
        name = page.split("?")[0]  # messages name the page, not its nonces
        if resp.url.path.endswith("/wp-login.php"):
            self.logged_in = False
            raise refused(Refusal.SESSION_REJECTED,
                          f"wp-admin/{name} sent the session back to wp-login.php")
        if resp.status_code >= 500 and wp_die_message(resp.text) is None:
            raise MigrationError(ErrorCode.SOURCE_UNREACHABLE,
                                 f"wp-admin/{name} answered HTTP {resp.status_code}", permanent=False)
        return resp

    def _forget_auth_cookies(self) -> None:
        jar = self._http.cookies.jar
        for cookie in [c for c in jar if c.name.startswith("wordpress_") and c.name != TEST_COOKIE]:
            jar.clear(cookie.domain, cookie.path, cookie.name)

    def _logged_in_cookie(self) -> bool:
        return any(c.name.startswith(LOGGED_IN_COOKIE_PREFIX) for c in self._http.cookies.jar)

    # -- login

    def login(self, user: str, password: str) -> None:
        """Log in through wp-login.php like a browser (test cookie first). Raises
        ``INVALID_CREDENTIALS`` (permanent) for a wrong login and for one that cannot be
        automated: a captcha on the form, a second factor or a lockout after the POST."""
        login_url = self._site + "/wp-login.php"
        first = self._request("GET", login_url, follow_redirects=True)
        page = parse_login_page(first.text)
        if first.status_code == 404 or not page.is_password_form:
            raise refused(Refusal.LOGIN_BLOCKED,
                          f"no login form at wp-login.php (HTTP {first.status_code}); a security "
                          "plugin may have moved or closed it")
        if page.captcha:
            # Refused before posting, so a failed attempt is not counted against the login.
            raise refused(Refusal.CAPTCHA, "the source's login form has a captcha")
        if not any(c.name == TEST_COOKIE for c in self._http.cookies.jar):
            self._http.cookies.set(TEST_COOKIE, "WP%20Cookie%20check",
                                   domain=urlsplit(self._site).hostname or "", path="/")
        self._forget_auth_cookies()  # an earlier session's cookie must not pass for success
        action = urljoin(str(first.url), page.action) if page.action else login_url
        form = {**page.hidden, "log": user, "pwd": password, "wp-submit": "Log In",
                "redirect_to": self._admin, "testcookie": "1"}
        resp = self._request("POST", action, data=form, follow_redirects=False)
        if self._logged_in_cookie() and resp.status_code in (301, 302, 303):
            self.logged_in = True
            log.info("wp-admin: logged in to %s", self._site)
            return
        raise classify_login_failure(resp.status_code, resp.text)

    def require_admin(self) -> None:
        """The plugin upload form must be there; keeps its nonce for upload_plugin()."""
        resp = self._admin_page("plugin-install.php", tab="upload")
        form = upload_form(resp.text)
        if form and needs_filesystem_credentials(resp.text):
            # Refused before uploading: a failed install would leave core's copy of the zip.
            raise refused(Refusal.FILESYSTEM_CREDENTIALS,
                          "the source cannot write its plugins folder itself (WordPress asks for "
                          "FTP credentials)")
        if form:
            self._upload_form = UploadForm(urljoin(str(resp.url), form.action), form.nonce)
            return
        died = wp_die_message(resp.text)
        if died is not None and "not allowed" in died.lower():
            # Core says the same to a non-admin and under DISALLOW_FILE_MODS; an admin can
            # still list plugins (activate_plugins is not a file modification).
            if is_plugin_list(self._admin_page("plugins.php").text):
                raise refused(Refusal.FILE_MODS_DISALLOWED,
                              "the source does not allow installing plugins from wp-admin "
                              "(DISALLOW_FILE_MODS or no install_plugins capability)")
            raise refused(Refusal.NOT_ADMINISTRATOR,
                          "the WordPress login is not an administrator of the source (it may not "
                          "manage plugins)")
        raise refused(Refusal.UPLOAD_BLOCKED,
                      f"wp-admin's plugin upload form is not there (HTTP {resp.status_code}); a "
                      "security plugin may block it")

    # -- plugins

    def upload_plugin(self, zip_bytes: bytes, *, overwrite: bool = False,
                      filename: str = "wpmigrate-companion.zip") -> str | None:
        """Install a plugin zip through core's upload form; the installed basename when the
        page names it. ``overwrite`` replaces an existing folder of the same name."""
        for attempt in (1, 2):
            if self._upload_form is None:
                self.require_admin()
            form = self._upload_form
            assert form is not None
            # update.php reads overwrite from the query string. (Not httpx params: they would
            # replace the action's own query.)
            url = form.action + ("&overwrite=update-plugin" if overwrite else "")
            resp = self._request(
                "POST", url, follow_redirects=True,
                data={"_wpnonce": form.nonce, "install-plugin-submit": "Install Now"},
                files={"pluginzip": (filename, zip_bytes, "application/zip")})
            if resp.url.path.endswith("/wp-login.php"):
                raise refused(Refusal.SESSION_REJECTED, "the upload was sent back to wp-login.php")
            result = parse_upload_result(resp.text)
            log.info("wp-admin: plugin upload (%d bytes): %s", len(zip_bytes), result.outcome)
            if result.outcome is UploadOutcome.INSTALLED:
                return result.basename
            if result.outcome is UploadOutcome.NONCE_EXPIRED and attempt == 1:
                self._upload_form = None  # an old nonce (12-24 h): once more with a fresh form
                continue
            if result.cancel_url:
                self._request("GET", urljoin(str(resp.url), result.cancel_url), follow_redirects=False)
            self._upload_failed(result, resp.status_code)
        raise AssertionError("unreachable")

    def _upload_failed(self, result: UploadResult, status: int) -> NoReturn:
        if result.outcome is UploadOutcome.FILESYSTEM_CREDENTIALS:
            raise refused(Refusal.FILESYSTEM_CREDENTIALS,
                          f"the source cannot write its plugins folder: {result.message}")
        if result.outcome is UploadOutcome.NOT_ALLOWED:
            raise refused(Refusal.FILE_MODS_DISALLOWED,
                          f"the source refused the plugin upload: {result.message}")
        if result.outcome is UploadOutcome.ALREADY_EXISTS:
            raise MigrationError(ErrorCode.EXPORT_FAILED,
                                 "the plugin's folder already exists on the source (upload with "
                                 "overwrite to replace it)", permanent=True,
                                 details={"reason": str(result.outcome)})
        if result.outcome is UploadOutcome.INCOMPATIBLE_ARCHIVE:
            raise MigrationError(ErrorCode.EXPORT_FAILED,
                                 f"WordPress rejected the plugin zip: {result.message}", permanent=True,
                                 details={"reason": str(result.outcome)})
        if result.outcome is UploadOutcome.NONCE_EXPIRED:
            raise MigrationError(ErrorCode.EXPORT_FAILED,
                                 "the upload form's fresh nonce was refused too (is the zip over "
                                 f"the source's post_max_size?): {result.message}", permanent=True,
                                 details={"reason": str(result.outcome)})
        raise MigrationError(ErrorCode.EXPORT_FAILED,
                             f"the plugin upload failed (HTTP {status}): {result.message}",
                             permanent=status < 500, details={"reason": str(result.outcome)})

    def plugins(self) -> dict[str, PluginRow]:
        resp = self._admin_page("plugins.php", plugin_status="all")
        if not is_plugin_list(resp.text):
            died = wp_die_message(resp.text) or f"HTTP {resp.status_code}"
            raise refused(Refusal.NOT_ADMINISTRATOR, f"plugins.php is not available: {died}")
        return parse_plugin_rows(resp.text)

    def is_installed(self, basename: str) -> bool:
        return basename in self.plugins()

    def is_active(self, basename: str) -> bool:
        row = self.plugins().get(basename)
        return row is not None and row.active

    def _row(self, basename: str) -> PluginRow:
        row = self.plugins().get(basename)
        if row is None:
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"plugin {basename} is not installed on the source",
                                 permanent=True)
        return row

    def _switch(self, basename: str, *, active: bool) -> None:
        row = self._row(basename)
        if row.active == active:
            return
        link = row.activate_url if active else row.deactivate_url
        verb = "activate" if active else "deactivate"
        if not link:
            raise MigrationError(ErrorCode.EXPORT_FAILED,
                                 f"plugins.php offers no {verb} link for {basename}", permanent=True)
        resp = self._admin_page(link)
        row = self._row(basename)
        if row.active != active:
            why = admin_notice_error(resp.text) or wp_die_message(resp.text) or "no reason given"
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"could not {verb} {basename}: {why}",
                                 permanent=True)
        log.info("wp-admin: %sd %s", verb, basename)

    def activate(self, basename: str) -> None:
        """Activate through plugins.php's own link (nonce ``activate-plugin_<basename>``)."""
        self._switch(basename, active=True)

    def deactivate(self, basename: str) -> None:
        self._switch(basename, active=False)

    def delete(self, basename: str) -> None:
        """Delete the plugin's files (deactivated first when active) through admin-ajax's
        ``delete-plugin``, as plugins.php's Delete link does. Nothing to do when it is gone."""
        row = self.plugins().get(basename)
        if row is None:
            return
        if row.active:
            self.deactivate(basename)
        page = self._admin_page("plugins.php", plugin_status="all")
        nonce = updates_nonce(page.text)
        if nonce is None:
            raise MigrationError(ErrorCode.EXPORT_FAILED,
                                 "plugins.php has no delete nonce (the login may not delete plugins)",
                                 permanent=True)
        slug = basename.split("/")[0].removesuffix(".php")
        resp = self._request("POST", urljoin(self._admin, "admin-ajax.php"), follow_redirects=False,
                             data={"action": "delete-plugin", "_ajax_nonce": nonce,
                                   "plugin": basename, "slug": slug})
        try:
            answer = json.loads(resp.text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not answer.get("success"):
            data = answer.get("data") if isinstance(answer, dict) else None
            data = data if isinstance(data, dict) else {}
            if data.get("errorCode") == "unable_to_connect_to_filesystem":
                raise refused(Refusal.FILESYSTEM_CREDENTIALS,
                              f"the source cannot delete {basename} itself (it asks for FTP credentials)")
            why = data.get("errorMessage") or f"HTTP {resp.status_code}"
            raise MigrationError(ErrorCode.EXPORT_FAILED, f"could not delete {basename}: {why}",
                                 permanent=resp.status_code < 500)
        if self.is_installed(basename):
            raise MigrationError(ErrorCode.EXPORT_FAILED,
                                 f"{basename} is still listed after its deletion", permanent=True)
        log.info("wp-admin: deleted %s", basename)

    def logout(self) -> None:
        """End the session on the server too (its session token goes from the user's meta)."""
        if not self.logged_in:
            return
        try:
            page = self._admin_page("profile.php")  # every role may see it, with the admin bar
        except MigrationError:
            self.logged_in = False
            return
        url = logout_url(page.text)
        if url:
            self._request("GET", urljoin(self._admin, url), follow_redirects=False)
        self.logged_in = False
        self._upload_form = None
