"""The shipped plugin and its zip: PHP syntax, layout, the generated secret file, and the
signature the PHP side computes equals the Python client's (both run for real)."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from wpmigrate.full_access.companion.db_export import without_plugin
from wpmigrate.full_access.companion.package import (
    PLUGIN_BASENAME,
    build_zip,
    new_secret,
    plugin_source,
    secret_php,
)
from wpmigrate.full_access.companion.signing import canonical_query, sign, signed_headers

PLUGIN = Path(__file__).resolve().parents[4] / "include/wpmigrate/full_access/companion/plugin"


UUID_2 = "6a1d2c3e-0000-4000-8000-000000000002"


def _php(code: str, *args: str) -> str:
    return subprocess.run(["php", "-r", code, *args], capture_output=True, text=True, check=True).stdout


def test_plugin_passes_php_lint() -> None:
    out = subprocess.run(["php", "-l", str(PLUGIN / "wpmigrate-companion.php")], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No syntax errors" in out.stdout


def test_plugin_header_names_it_and_it_does_nothing_outside_wordpress(tmp_path: Path) -> None:
    src = plugin_source()
    assert b"Plugin Name: wpmigrate companion" in src and b"Version: 1" in src
    (tmp_path / "p.php").write_bytes(src)
    # Requested directly (not through WordPress) it exits at once, printing nothing.
    out = subprocess.run(["php", str(tmp_path / "p.php")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""


def test_zip_layout_and_secret_file(tmp_path: Path) -> None:
    secret = new_secret()
    data = build_zip(secret, idle_seconds=120, migration_id="6a1d2c3e-0000-4000-8000-000000000001")
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(n for n in zf.namelist() if not n.endswith("/"))
    assert names == ["wpmigrate-companion/secret.php", PLUGIN_BASENAME]
    assert zf.read(PLUGIN_BASENAME) == plugin_source()
    zf.extractall(tmp_path)
    secret_file = tmp_path / "wpmigrate-companion" / "secret.php"
    lint = subprocess.run(["php", "-l", str(secret_file)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    loaded = json.loads(_php("echo json_encode(include $argv[1]);", str(secret_file)))
    assert loaded == {"secret": secret, "idle_seconds": 120,
                      "migration_id": "6a1d2c3e-0000-4000-8000-000000000001"}


@pytest.mark.parametrize("kwargs", [
    {"secret": "ABC", "idle_seconds": 60, "migration_id": "m"},
    {"secret": "0" * 63 + "'", "idle_seconds": 60, "migration_id": "m"},
    {"secret": "0" * 64, "idle_seconds": 60, "migration_id": "m'];system('x');//"},
    {"secret": "0" * 64, "idle_seconds": 0, "migration_id": "m"},
])
def test_secret_file_refuses_values_that_could_break_the_php_literal(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        secret_php(kwargs.pop("secret"), **kwargs)


def test_new_secret_is_64_hex_and_fresh() -> None:
    a, b = new_secret(), new_secret()
    assert len(a) == 64 and int(a, 16) >= 0 and a != b


# The plugin's own wpmc_string_to_sign, loaded with the few WordPress functions it needs at load.
_PHP_SIGN = r"""
define('ABSPATH', '/');
function add_action(...$a) {}
function register_deactivation_hook(...$a) {}
require $argv[1];
$q = json_decode($argv[3], true);
echo hash_hmac('sha256', wpmc_string_to_sign($argv[2], $q, $argv[4], $argv[5]), $argv[6]);
"""


@pytest.mark.parametrize("params", [
    {},
    {"table": "wpsrc_options", "limit": "200", "max_bytes": "262144"},
    {"after": '["MTIz","w6k="]', "table": "wp_x", "offset": "0"},
    {"path": "uploads/2024/01/café au lait (1) ~+&=.jpg", "offset": "0", "length": "65536"},
    {"skip": '["cache","**/.git","uploads/backwpup-*"]', "after": "a b/c%d", "limit": "1000"},
])
def test_php_and_python_sign_the_same_string(params: dict[str, str]) -> None:
    secret = new_secret()
    ts, nonce = "1796150000", "0123456789abcdef0123456789abcdef"
    php = _php(_PHP_SIGN, str(PLUGIN / "wpmigrate-companion.php"), "rows", json.dumps(params), ts, nonce,
               secret)
    assert php == sign(secret, "rows", params, ts, nonce)
    # The action parameter is not part of the canonical query; names are sorted.
    assert canonical_query({"wpmigrate-companion": "rows", **params}) == canonical_query(params)
    assert canonical_query({"b": "1", "a": "x y"}) == "a=x%20y&b=1"


def test_signed_headers_use_a_fresh_nonce_each_time() -> None:
    h1 = signed_headers("k" * 64, "preflight", {}, now=100)
    h2 = signed_headers("k" * 64, "preflight", {}, now=100)
    assert h1["X-WPM-Timestamp"] == "100" and len(h1["X-WPM-Nonce"]) == 32
    assert h1["X-WPM-Nonce"] != h2["X-WPM-Nonce"] and h1["X-WPM-Signature"] != h2["X-WPM-Signature"]


@pytest.mark.parametrize(("value", "expected"), [
    (b'a:2:{i:0;s:33:"sandbox-plugin/sandbox-plugin.php";i:1;s:43:"wpmigrate-companion/wpmigrate-companion.php";}',
     b'a:1:{i:0;s:33:"sandbox-plugin/sandbox-plugin.php";}'),
    (b'a:1:{i:0;s:43:"wpmigrate-companion/wpmigrate-companion.php";}', b"a:0:{}"),
    (b'a:3:{i:0;s:5:"a/a.p";i:1;s:43:"wpmigrate-companion/wpmigrate-companion.php";i:2;s:5:"b/b;p";}',
     b'a:2:{i:0;s:5:"a/a.p";i:1;s:5:"b/b;p";}'),
    (b'a:1:{i:0;s:33:"sandbox-plugin/sandbox-plugin.php";}', None),  # not there: unchanged
    (b'a:1:{i:0;s:99:"wpmigrate-companion/wpmigrate-companion.php";}', None),  # lengths disagree
    (b'a:1:{s:1:"x";s:43:"wpmigrate-companion/wpmigrate-companion.php";}', None),  # not a list
    (b"", None),
])
def test_active_plugins_without_the_companion(value: bytes, expected: bytes | None) -> None:
    assert without_plugin(value) == expected
    if expected is not None:  # still what PHP can read
        out = _php("echo json_encode(unserialize(base64_decode($argv[1])));",
                   __import__("base64").b64encode(expected).decode())
        assert isinstance(json.loads(out), list)


_PHP_CONFIG = r"""
define('ABSPATH', '/');
function add_action(...$a) {}
function register_deactivation_hook(...$a) {}
require $argv[1];
echo json_encode(wpmc_config());
"""


def test_plugin_reads_its_secret_file_and_nothing_else_counts(tmp_path: Path) -> None:
    secret = new_secret()
    zipfile.ZipFile(io.BytesIO(build_zip(secret, idle_seconds=77, migration_id=UUID_2))).extractall(tmp_path)
    plugin = tmp_path / "wpmigrate-companion" / "wpmigrate-companion.php"
    assert json.loads(_php(_PHP_CONFIG, str(plugin))) == {"secret": secret, "idle_seconds": 77}
    (plugin.parent / "secret.php").write_text("<?php return ['secret' => 'short'];")
    assert json.loads(_php(_PHP_CONFIG, str(plugin))) is None  # no valid secret: the plugin stays silent
    (plugin.parent / "secret.php").unlink()
    assert json.loads(_php(_PHP_CONFIG, str(plugin))) is None
