"""The source probe against real HTTP servers (PHP's built-in server) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.web.source_probe import probe_source

LOOPBACK = ("127.0.0.1/32",)  # the sandbox exception; 127.0.0.2 etc. stay refused

pytestmark = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php CLI")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"php -S did not listen on {port}")


FAKE_WP_INDEX = """<?php
header('Link: <http://127.0.0.1:' . $_SERVER['SERVER_PORT'] . '/fakewp/wp-json/>; rel="https://api.w.org/"');
?><!doctype html><html><head><title>Fake &#8211; Blog</title>
<meta name="generator" content="WordPress 6.1.9" />
<link rel='stylesheet' href='/fakewp/wp-includes/css/dist/block-library/style.min.css?ver=6.1.9' />
</head><body><img src="/fakewp/wp-content/uploads/a.png"></body></html>
"""
FAKE_WP_JSON = """<?php header('Content-Type: application/json');
echo json_encode(['name' => 'Fake', 'namespaces' => ['oembed/1.0', 'wp/v2'], 'routes' => []]);
"""
# A WordPress that hides its generator and /wp-json/ but still answers ?rest_route=/.
HIDDEN_WP_INDEX = """<?php
if (isset($_GET['rest_route'])) { header('Content-Type: application/json');
  echo json_encode(['name' => 'Hidden', 'namespaces' => ['wp/v2']]); exit; }
?><html><head><title>Hidden</title></head><body>plain page</body></html>
"""


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("probe-www")
    (root / "plain").mkdir()
    (root / "plain" / "index.html").write_text(
        "<!doctype html><html><head><title>Just a shop</title></head>"
        "<body><h1>Hello</h1><script src='/static/app.js'></script></body></html>"
    )
    (root / "fakewp" / "wp-json").mkdir(parents=True)
    (root / "fakewp" / "index.php").write_text(FAKE_WP_INDEX)
    (root / "fakewp" / "wp-json" / "index.php").write_text(FAKE_WP_JSON)
    (root / "fakewp" / "wp-login.php").write_text(
        "<form name='loginform' id='loginform' action='wp-login.php'><input name='log'></form>"
    )
    (root / "hidden").mkdir()
    (root / "hidden" / "index.php").write_text(HIDDEN_WP_INDEX)
    (root / "loginonly").mkdir()  # a WordPress that hides everything but its login page
    (root / "loginonly" / "index.html").write_text("<!doctype html><html><head><title>Quiet</title></head>"
                                                   "<body><p>Nothing to see</p></body></html>")
    (root / "loginonly" / "wp-login.php").write_text(
        "<form name='loginform' id='loginform' action='wp-login.php'><input name='log'></form>"
    )
    (root / "to-metadata.php").write_text(
        "<?php header('Location: http://169.254.169.254/latest/meta-data/', true, 302);"
    )
    (root / "to-loopback2.php").write_text(
        "<?php header('Location: http://127.0.0.2:' . $_SERVER['SERVER_PORT'] . '/plain/', true, 301);"
    )
    (root / "to-plain.php").write_text("<?php header('Location: /plain/', true, 302);")
    (root / "boom.php").write_text("<?php http_response_code(503); echo 'maintenance';")
    port = _free_port()
    proc = subprocess.Popen(
        ["php", "-S", f"127.0.0.1:{port}", "-t", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        _wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_not_wordpress_is_permanent_not_wordpress(http_server: str) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(f"{http_server}/plain/", allowed_networks=LOOPBACK)
    assert err.value.code == ErrorCode.NOT_WORDPRESS
    assert err.value.permanent
    assert err.value.details["home_title"] == "Just a shop"


def test_not_wordpress_allowed_returns_the_probe(http_server: str) -> None:
    result = probe_source(f"{http_server}/plain/", allowed_networks=LOOPBACK, allow_non_wordpress=True)
    assert result["is_wordpress"] is False
    assert result["signals"] == []
    assert result["rest_api"] is False


def test_fake_wordpress_signals(http_server: str) -> None:
    result = probe_source(f"{http_server}/fakewp/", allowed_networks=LOOPBACK)
    assert result["is_wordpress"] is True
    assert result["wp_version"] == "6.1.9"
    assert result["rest_api"] is True
    assert result["home_title"] == "Fake – Blog"
    assert result["site_name"] == "Fake"
    for signal_name in ("link_header", "generator_meta", "wp_content_paths", "wp_includes_paths",
                        "rest_index"):
        assert signal_name in result["signals"]
    assert "wp_login" not in result["signals"]  # decided already: the login page is not asked


def test_the_login_page_is_asked_when_nothing_else_tells(http_server: str) -> None:
    result = probe_source(f"{http_server}/loginonly/", allowed_networks=LOOPBACK)
    assert result["is_wordpress"] is True and result["signals"] == ["wp_login"]


def test_rest_route_fallback(http_server: str) -> None:
    result = probe_source(f"{http_server}/hidden/", allowed_networks=LOOPBACK)
    assert result["signals"] == ["rest_route_index"]
    assert result["rest_api"] is True


def test_loopback_refused_without_allow_list(http_server: str) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(f"{http_server}/fakewp/")
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert err.value.permanent


def test_redirect_to_metadata_refused(http_server: str) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(f"{http_server}/to-metadata.php", allowed_networks=LOOPBACK)
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert "169.254.169.254" in err.value.message


def test_redirect_to_other_loopback_refused(http_server: str) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(f"{http_server}/to-loopback2.php", allowed_networks=LOOPBACK)
    assert err.value.code == ErrorCode.SOURCE_REFUSED
    assert "127.0.0.2" in err.value.message


def test_allowed_redirect_is_followed(http_server: str) -> None:
    result = probe_source(f"{http_server}/to-plain.php", allowed_networks=LOOPBACK, allow_non_wordpress=True)
    assert result["final_url"] == f"{http_server}/plain/"


def test_server_error_is_transient_unreachable(http_server: str) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(f"{http_server}/boom.php", allowed_networks=LOOPBACK)
    assert err.value.code == ErrorCode.SOURCE_UNREACHABLE
    assert not err.value.permanent


def test_closed_port_retries_then_permanent_unreachable() -> None:
    port = _free_port()  # nothing listens: connection refused
    sleeps: list[float] = []
    with pytest.raises(MigrationError) as err:
        probe_source(f"http://127.0.0.1:{port}/", allowed_networks=LOOPBACK, sleep=sleeps.append)
    assert err.value.code == ErrorCode.SOURCE_UNREACHABLE
    assert err.value.permanent
    assert err.value.details["attempts"] == 4
    assert sleeps == [1.0, 2.0, 4.0]  # seed 9.2: 3 retries, exponential 1 s, 2 s, 4 s


def test_closed_port_real_backoff_timing() -> None:
    port = _free_port()
    start = time.monotonic()
    with pytest.raises(MigrationError):
        probe_source(f"http://127.0.0.1:{port}/", allowed_networks=LOOPBACK, retry_delays=(0.1, 0.2, 0.4))
    assert 0.7 <= time.monotonic() - start < 5


def test_timeout_is_unreachable() -> None:
    # A listening socket that never answers: the read times out on every attempt.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        with pytest.raises(MigrationError) as err:
            probe_source(
                f"http://127.0.0.1:{port}/", allowed_networks=LOOPBACK, timeout=0.3, retry_delays=(0.01,)
            )
    assert err.value.code == ErrorCode.SOURCE_UNREACHABLE
    assert err.value.details["reason"] == "ReadTimeout"


def test_dns_failure_is_unreachable() -> None:
    with pytest.raises(MigrationError) as err:
        probe_source("http://no-such-host.invalid/", retry_delays=(0.01, 0.01))
    assert err.value.code == ErrorCode.SOURCE_UNREACHABLE
    assert err.value.permanent
    assert err.value.details["reason"] == "dns"


# ---------------------------------------------------------------- against the real sandbox WordPress


@pytest.mark.sandbox
def test_real_wordpress_source(sandbox: Any) -> None:
    log = Path(sandbox.source.request_log)
    before = log.stat().st_size if log.exists() else 0
    result = probe_source(sandbox.source.url + "/", allowed_networks=LOOPBACK)
    assert result["is_wordpress"] is True
    assert result["wp_version"] and result["wp_version"].startswith("6.")
    assert result["home_title"] and sandbox.source.title.split()[0] in result["home_title"]
    for signal_name in ("link_header", "generator_meta", "wp_content_paths"):
        assert signal_name in result["signals"]
    # The Link header told already: the login page is not asked (security plugins watch it).
    assert "wp_login" not in result["signals"]
    if sandbox.source_rest_enabled:
        assert result["rest_api"] is True and "rest_index" in result["signals"]
    # Read-only: everything the probe sent to the source was a GET.
    with log.open("rb") as fh:
        fh.seek(before)
        ours = [json.loads(line) for line in fh if b"wpmigrate-probe" in line]
    assert ours and {entry["method"] for entry in ours} == {"GET"}
    assert not [entry for entry in ours if "wp-login.php" in entry["uri"]]
    # What it read is handed on, so discover need not ask again.
    assert result["home_page"]["url"] == result["final_url"] and "<html" in result["home_page"]["html"]
    if sandbox.source_rest_enabled:
        assert result["rest_index"]["url"] == result["rest_url"] and result["rest_index"]["name"]


@pytest.mark.sandbox
def test_real_static_site_is_not_wordpress(sandbox: Any) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(sandbox.static.url + "/", allowed_networks=LOOPBACK)
    assert err.value.code == ErrorCode.NOT_WORDPRESS


@pytest.mark.sandbox
def test_real_source_refused_without_allow_list(sandbox: Any) -> None:
    with pytest.raises(MigrationError) as err:
        probe_source(sandbox.source.url + "/")
    assert err.value.code == ErrorCode.SOURCE_REFUSED
