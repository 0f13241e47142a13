"""wp_config against real-world wp-config.php files, with PHP itself as the oracle.

The parser never runs a config; these tests do (our own fixtures only, in a temp dir
with an empty wp-settings.php) to check that it reads what PHP would define.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.wp_config import (
    DbEndpoint,
    WpConfig,
    parse_db_host,
    parse_table_prefix,
    parse_wp_config,
)

WORDPRESS = Path("/usr/share/wordpress")  # Debian's wordpress package (scripts/setup)
SAMPLE = (WORDPRESS / "wp-config-sample.php").read_bytes()
KEYS = ("DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_CHARSET")
WAY_OUT = "name a database connection (source_access.db_conn_id)"

TAIL = """
if ( ! defined( 'ABSPATH' ) ) {
\tdefine( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
"""

PHP_DUMP = r"""
error_reporting(0);
ob_start();
include $argv[1];
ob_end_clean();
$out = [];
foreach (['DB_NAME', 'DB_USER', 'DB_PASSWORD', 'DB_HOST', 'DB_CHARSET'] as $k) {
    $out[$k] = defined($k) ? bin2hex(constant($k)) : null;
}
$out['table_prefix'] = isset($table_prefix) ? bin2hex($table_prefix) : null;
echo json_encode($out);
"""


def php_reads(tmp_path: Path, config: bytes) -> dict[str, str | None]:
    """What PHP defines when it runs ``config`` (values as text, surrogate-escaped)."""
    (tmp_path / "wp-config.php").write_bytes(config)
    (tmp_path / "wp-settings.php").write_bytes(b"<?php\n")
    proc = subprocess.run(["php", "-r", PHP_DUMP, str(tmp_path / "wp-config.php")],
                          capture_output=True, check=True)
    raw = json.loads(proc.stdout)
    return {k: None if v is None else bytes.fromhex(v).decode("utf-8", "surrogateescape")
            for k, v in raw.items()}


def as_read(cfg: WpConfig) -> dict[str, str | None]:
    return {"DB_NAME": cfg.db_name, "DB_USER": cfg.db_user, "DB_PASSWORD": cfg.db_password,
            "DB_HOST": cfg.db_host, "DB_CHARSET": cfg.db_charset, "table_prefix": cfg.table_prefix}


def refused(config: bytes | str) -> MigrationError:
    with pytest.raises(MigrationError) as info:
        parse_wp_config(config)
    err = info.value
    assert err.code is ErrorCode.INVALID_CONF
    assert err.permanent is True
    return err


def assert_no_values(err: MigrationError, values: list[str]) -> None:
    """None of the file's values in anything the error shows (message, str, dict, repr)."""
    shown = " ".join([str(err), err.message, json.dumps(err.to_dict()), repr(err)])
    for value in values:
        assert value not in shown, f"{value!r} leaked into the error"


# ----------------------------------------------------------------- configs that parse


def test_stock_sample_reads_as_php_does(tmp_path: Path) -> None:
    cfg = parse_wp_config(SAMPLE)
    assert cfg == WpConfig(db_name="database_name_here", db_user="username_here",
                           db_password="password_here", db_host="localhost",
                           table_prefix="wp_", db_charset="utf8")
    assert as_read(cfg) == php_reads(tmp_path, SAMPLE)


ODD_SPACING = b"""<?php
define  (  "DB_NAME"  ,"shop_db" ) ;
DEFINE('DB_USER','shop_user');
\\define(
    'DB_PASSWORD',
    "s3cr3t pass"
);
define( "DB_HOST" , "db.internal:3306" )
;
define('DB_CHARSET', "utf8mb4");
$table_prefix  =  "shop_";
""" + TAIL.encode()


def test_double_quotes_and_odd_spacing(tmp_path: Path) -> None:
    cfg = parse_wp_config(ODD_SPACING)
    assert (cfg.db_name, cfg.db_user, cfg.db_password, cfg.db_host, cfg.table_prefix, cfg.db_charset) == (
        "shop_db", "shop_user", "s3cr3t pass", "db.internal:3306", "shop_", "utf8mb4")
    assert as_read(cfg) == php_reads(tmp_path, ODD_SPACING)


COMMENTED = b"""<?php
// define('DB_HOST', 'old-db.example');
# define('DB_HOST', 'older-db.example');
/** define('DB_NAME', 'docblock_db'); */
define('DB_NAME', 'live_db'); // define('DB_NAME', 'trailing_db');
define('DB_USER', 'live_user'); # $table_prefix = 'hash_';
define('DB_PASSWORD', 'pa//ss#wo/*rd*/');  // comment markers inside a string are not comments
define('DB_HOST', 'db.live.example:3307');
/*
define('DB_CHARSET', 'latin1');
$table_prefix = 'block_';
*/
$table_prefix = 'live_';
""" + TAIL.encode()


def test_commented_out_defines_are_ignored(tmp_path: Path) -> None:
    cfg = parse_wp_config(COMMENTED)
    assert cfg.db_host == "db.live.example:3307"
    assert cfg.db_name == "live_db"
    assert cfg.db_password == "pa//ss#wo/*rd*/"
    assert cfg.db_charset is None
    assert cfg.table_prefix == "live_"
    assert as_read(cfg) == php_reads(tmp_path, COMMENTED)


def test_commented_prefix_in_a_block_comment_is_not_the_prefix() -> None:
    # The old line regex took the first "$table_prefix =" line, even inside /* ... */.
    config = b"<?php\n/*\n$table_prefix = 'old_';\n*/\n$table_prefix = 'new_';\n"
    assert parse_table_prefix(config) == "new_"


QUOTY = b"""<?php
define('DB_NAME', 'wp');
define('DB_USER', 'wp');
define('DB_PASSWORD', 'it\\'s a \\\\ \\n $dollar "dq" \\q');
define('DB_HOST', "h\\"q\\\\b\\$x\\x41\\101\\u{e9}\\t\\q{x}$");
$table_prefix = 'wp_';
""" + TAIL.encode()


def test_quotes_backslashes_and_dollars(tmp_path: Path) -> None:
    cfg = parse_wp_config(QUOTY)
    # Single quotes: only \\' and \\\\ are escapes; "$" is plain text.
    assert cfg.db_password == "it's a \\ \\n $dollar \"dq\" \\q"
    # Double quotes: \\" \\\\ \\$ \\x41 \\101 \\u{e9} \\t, unknown "\\q" kept, a lone "$" at the end.
    assert cfg.db_host == 'h"q\\b$xAA\u00e9\t\\q{x}$'
    assert as_read(cfg) == php_reads(tmp_path, QUOTY)


def test_non_utf8_password_keeps_its_bytes(tmp_path: Path) -> None:
    config = (b"<?php define('DB_NAME','n'); define('DB_USER','u');"
              b" define('DB_PASSWORD', \"\\xff\\xfe\xe9\");"
              b" define('DB_HOST','localhost'); $table_prefix = 'wp_';" + TAIL.encode())
    cfg = parse_wp_config(config)
    assert cfg.db_password_bytes == b"\xff\xfe\xe9"
    assert as_read(cfg) == php_reads(tmp_path, config)


def test_bom_and_crlf(tmp_path: Path) -> None:
    config = b"\xef\xbb\xbf" + SAMPLE.replace(b"\n", b"\r\n").replace(b"'password_here'", b"'p\xc3\xa4ss'")
    cfg = parse_wp_config(config)
    assert cfg.db_password == "päss"
    assert cfg.db_name == "database_name_here"
    assert "\r" not in cfg.db_host
    assert as_read(cfg) == php_reads(tmp_path, config)


def test_str_input_reads_like_bytes() -> None:
    assert parse_wp_config(SAMPLE.decode()) == parse_wp_config(SAMPLE)


def test_first_definition_wins_as_in_php(tmp_path: Path) -> None:
    config = SAMPLE.replace(b"define( 'DB_HOST', 'localhost' );",
                            b"define( 'DB_HOST', 'first.example' );\ndefine( 'DB_HOST', 'second.example' );")
    cfg = parse_wp_config(config)
    assert cfg.db_host == "first.example"
    assert as_read(cfg) == php_reads(tmp_path, config)


def test_guarded_defaults_and_closing_tags(tmp_path: Path) -> None:
    config = b"""<html><?php /* inline HTML before the tag */ ?>
<?php
if ( ! defined( 'DB_CHARSET' ) ) define( 'DB_CHARSET', 'utf8mb4' );
defined( 'DB_NAME' ) || define( 'DB_NAME', 'guarded_db' );
define('DB_USER', 'u') ?>
text <?php // a line comment ends at a closing tag ?> define('DB_HOST', 'not-php-text');
<?php
define('DB_PASSWORD', 'p');
define('DB_HOST', '127.0.0.1');
$table_prefix = "wp2_";
const WP_CACHE = false;
""" + TAIL.encode() + b"define('DB_COLLATE', 'after wp-settings');\n"
    cfg = parse_wp_config(config)
    assert (cfg.db_charset, cfg.db_name, cfg.db_user, cfg.db_host, cfg.table_prefix) == (
        "utf8mb4", "guarded_db", "u", "127.0.0.1", "wp2_")
    assert as_read(cfg) == php_reads(tmp_path, config)


def test_top_level_const_defines_a_constant(tmp_path: Path) -> None:
    config = SAMPLE.replace(b"define( 'DB_NAME', 'database_name_here' );", b"const DB_NAME = 'const_db';")
    cfg = parse_wp_config(config)
    assert cfg.db_name == "const_db"
    assert as_read(cfg) == php_reads(tmp_path, config)


def test_include_after_the_settings_does_not_block_them() -> None:
    config = SAMPLE.replace(b"/* That's all, stop editing!", b"require __DIR__ . '/wp-salts.php';\n/* ")
    assert parse_wp_config(config).db_name == "database_name_here"


def test_defines_after_wp_settings_are_too_late() -> None:
    config = SAMPLE.replace(b"define( 'DB_NAME', 'database_name_here' );", b"") \
        + b"\ndefine( 'DB_NAME', 'late_db' );\n"
    err = refused(config)
    assert "DB_NAME" in err.message and WAY_OUT in err.message
    assert_no_values(err, ["late_db"])


def test_repr_shows_no_credentials() -> None:
    text = repr(parse_wp_config(QUOTY)) + repr(parse_wp_config(ODD_SPACING))
    for secret in ("it's", "shop_db", "shop_user", "s3cr3t", "db.internal"):
        assert secret not in text
    assert "shop_" in text  # the prefix is not a secret


# ------------------------------------------------------------- configs that are refused

BEDROCK_WP_CONFIG = b"""<?php
/**
 * Do not edit this file. Edit the config files found in the config/ dir instead.
 * This file is required in the root directory so WordPress can find it.
 */
require_once dirname(__DIR__) . '/vendor/autoload.php';
require_once dirname(__DIR__) . '/config/application.php';
require_once ABSPATH . 'wp-settings.php';
"""

BEDROCK_APPLICATION = b"""<?php
use Roots\\WPConfig\\Config;
use function Env\\env;

$root_dir = dirname(__DIR__);
$webroot_dir = $root_dir . '/web';
$dotenv = Dotenv\\Dotenv::createUnsafeImmutable($root_dir, ['.env', '.env.local'], false);
if (file_exists($root_dir . '/.env')) {
    $dotenv->load();
    $dotenv->required(['WP_HOME', 'WP_SITEURL']);
}
Config::define('DB_NAME', env('DB_NAME'));
Config::define('DB_USER', env('DB_USER'));
Config::define('DB_PASSWORD', env('DB_PASSWORD'));
Config::define('DB_HOST', env('DB_HOST') ?: 'localhost');
Config::define('DB_CHARSET', 'utf8mb4');
$table_prefix = env('DB_PREFIX') ?: 'wp_';
Config::apply();
"""


def test_bedrock_wp_config_points_at_another_file() -> None:
    err = refused(BEDROCK_WP_CONFIG)
    assert "DB_NAME" in err.message
    assert "another file" in err.message
    assert WAY_OUT in err.message


def test_bedrock_application_config_is_refused() -> None:
    err = refused(BEDROCK_APPLICATION)
    assert "DB_NAME" in err.message
    assert ".env" in err.message
    assert WAY_OUT in err.message
    assert_no_values(err, [".env.local", "localhost", "utf8mb4", "wp_"])


DOCKER_GETENV = b"""<?php
if (!function_exists('getenv_docker')) {
\tfunction getenv_docker($env, $default) {
\t\tif ($fileEnv = getenv($env . '_FILE')) {
\t\t\treturn rtrim(file_get_contents($fileEnv), "\\r\\n");
\t\t}
\t\telse if (($val = getenv($env)) !== false) {
\t\t\treturn $val;
\t\t}
\t\telse {
\t\t\treturn $default;
\t\t}
\t}
}
define( 'DB_NAME', getenv_docker('WORDPRESS_DB_NAME', 'wordpress') );
define( 'DB_USER', getenv_docker('WORDPRESS_DB_USER', 'example username') );
define( 'DB_PASSWORD', getenv_docker('WORDPRESS_DB_PASSWORD', 'example password') );
define( 'DB_HOST', getenv_docker('WORDPRESS_DB_HOST', 'mysql') );
$table_prefix = getenv_docker('WORDPRESS_TABLE_PREFIX', 'wp_');
""" + TAIL.encode()


def test_official_docker_image_config_is_refused() -> None:
    err = refused(DOCKER_GETENV)
    assert "DB_NAME" in err.message and "getenv_docker()" in err.message
    assert WAY_OUT in err.message
    assert_no_values(err, ["wordpress", "example username", "example password", "mysql",
                           "WORDPRESS_DB_PASSWORD"])


@pytest.mark.parametrize(("value", "why"), [
    (b"getenv('DB_PASSWORD')", "getenv()"),
    (b"$_ENV['DB_PASSWORD']", "$_ENV"),
    (b"$_SERVER['DB_PASSWORD']", "$_SERVER"),
    (b"MY_SECRET_CONSTANT", "the constant MY_SECRET_CONSTANT"),
    (b"'hunter' . '2hunter2'", "concatenation"),
    (b"base64_decode('aHVudGVyMg==')", "base64_decode()"),
    (b'"hunter2$suffix"', "$variable"),
    (b'"hunter2{$cfg[\'x\']}"', "$variable"),
    (b"<<<EOT\nhunter2hunter2\nEOT", "an expression"),
])
def test_a_password_that_is_not_a_plain_string_is_refused(value: bytes, why: str) -> None:
    config = SAMPLE.replace(b"'password_here'", value)
    err = refused(config)
    assert err.message.startswith("DB_PASSWORD in wp-config.php is not a plain string")
    assert why in err.message
    assert WAY_OUT in err.message
    assert_no_values(err, ["hunter", "aHVudGVyMg", "database_name_here", "username_here"])


LOCAL_CONFIG = b"""<?php
if ( file_exists( __DIR__ . '/wp-config-local.php' ) ) {
\trequire 'wp-config-local.php';
\tdefine( 'WP_LOCAL_DEV', true );
} else {
\tdefine( 'DB_NAME', 'production_db' );
\tdefine( 'DB_USER', 'production_user' );
\tdefine( 'DB_PASSWORD', 'production_password' );
\tdefine( 'DB_HOST', 'production-db.internal' );
}
$table_prefix = 'wp_';
""" + TAIL.encode()


def test_a_config_that_requires_a_local_config_first_is_refused() -> None:
    # On the source the local file may exist and win: PHP keeps the first definition.
    err = refused(LOCAL_CONFIG)
    assert "DB_NAME" in err.message and "another file" in err.message and WAY_OUT in err.message
    assert_no_values(err, ["production", "db.internal"])


def test_a_plain_require_of_the_db_settings_is_refused() -> None:
    config = b"<?php\nrequire 'wp-config-local.php';\n$table_prefix = 'wp_';\n" + TAIL.encode()
    err = refused(config)
    assert err.message == ("DB_NAME is not in wp-config.php: it may come from another file it loads "
                           "(include/require); name a database connection (source_access.db_conn_id) instead")


def test_debian_packaged_config_is_refused() -> None:
    # Debian's wordpress package: require_once /etc/wordpress/config-<host>.php, then
    # "if (!defined('DB_NAME')) define(...)" defaults.
    config = (WORDPRESS / "wp-config.php").read_bytes()
    err = refused(config)
    assert "DB_NAME" in err.message and "another file" in err.message
    assert_no_values(err, ["/etc/wordpress", "wordpress'", "localhost"])
    assert parse_table_prefix(config) == "wp_"  # the prefix is checked against the tables later


def test_differing_branches_are_refused() -> None:
    config = SAMPLE.replace(
        b"define( 'DB_HOST', 'localhost' );",
        b"if ( $_SERVER['HTTP_HOST'] === 'staging.example' ) {\n define( 'DB_HOST', 'staging-db' );\n"
        b"} else {\n define( 'DB_HOST', 'prod-db' );\n}")
    err = refused(config)
    assert "DB_HOST" in err.message and "branches" in err.message
    assert_no_values(err, ["staging", "prod-db", "password_here", "username_here"])


def test_differing_branches_in_alternative_syntax_are_refused() -> None:
    config = SAMPLE.replace(
        b"define( 'DB_NAME', 'database_name_here' );",
        b"if ( getenv( 'STAGING' ) ):\n define( 'DB_USER', 'same' );\n define( 'DB_NAME', 'staging_db' );\n"
        b"else:\n define( 'DB_NAME', 'prod_db' );\nendif;")
    err = refused(config)
    assert err.message.startswith("DB_NAME in wp-config.php is defined differently in branches")
    assert_no_values(err, ["staging_db", "prod_db"])


def test_missing_value_without_includes() -> None:
    err = refused(SAMPLE.replace(b"define( 'DB_USER', 'username_here' );", b""))
    assert err.message == "wp-config.php does not define DB_USER; " + WAY_OUT + " instead"
    assert_no_values(err, ["password_here", "database_name_here"])


def test_unterminated_string_is_refused_without_its_text() -> None:
    config = b"<?php define('DB_PASSWORD', 'hunter2-never-ends);"
    err = refused(config)
    assert "unterminated string" in err.message and WAY_OUT in err.message
    assert_no_values(err, ["hunter2"])


@pytest.mark.parametrize(("line", "why"), [
    (b"$table_prefix = getenv('PREFIX');", "getenv()"),
    (b"$table_prefix = 'wp-1';", "characters WordPress refuses"),
    (b"$table_prefix = 'wp_'; $table_prefix .= 'x_';", "built up"),
])
def test_prefix_that_cannot_be_read(line: bytes, why: str) -> None:
    config = SAMPLE.replace(b"$table_prefix = 'wp_';", line)
    err = refused(config)
    assert "$table_prefix" in err.message and why in err.message
    assert "source_access.table_prefix" in err.message
    with pytest.raises(MigrationError) as info:
        parse_table_prefix(config)
    assert info.value.code is ErrorCode.NOT_WORDPRESS  # the sftp_db route's code, as before


def test_last_prefix_assignment_wins_as_in_php(tmp_path: Path) -> None:
    config = SAMPLE.replace(b"$table_prefix = 'wp_';", b"$table_prefix = 'a_';\n$table_prefix = \"b_\";")
    assert parse_wp_config(config).table_prefix == "b_" == php_reads(tmp_path, config)["table_prefix"]


# ------------------------------------------- writes the parser does not follow

DYNAMIC = "a define() whose name is not a plain string"
PREFIX_WAY_OUT = "set source_access.table_prefix in the conf"
FIRST_DEFINE = b"define( 'DB_NAME', 'database_name_here' );"
PREFIX_LINE = b"$table_prefix = 'wp_';"


@pytest.mark.parametrize("code", [
    b"$k = 'DB_NAME'; define( $k, 'other_db' );",
    b"define( 'DB_' . 'NAME', 'other_db' );",
    b"define( strtoupper( 'db_name' ), 'other_db' );",
    b"define( constant( 'WPM_NAME_KEY' ), 'other_db' );",
    b"$n = 'NAME'; define( \"DB_$n\", 'other_db' );",
    b"define( constant_name: 'DB_NAME', value: 'other_db' );",
    b"foreach ( [ 'DB_NAME' => 'other_db' ] as $k => $v ) { define( $k, $v ); }",
])
def test_a_computed_define_before_the_values_is_refused(tmp_path: Path, code: bytes) -> None:
    prelude = b"define( 'WPM_NAME_KEY', 'DB_NAME' );\n" if b"WPM_NAME_KEY" in code else b""
    config = SAMPLE.replace(FIRST_DEFINE, prelude + code + b"\n" + FIRST_DEFINE)
    assert php_reads(tmp_path, config)["DB_NAME"] == "other_db"  # not the literal the file shows
    err = refused(config)
    assert err.message == (f"DB_NAME in wp-config.php may be set first by {DYNAMIC}, before the file's "
                           f"own definition; {WAY_OUT} instead")
    assert_no_values(err, ["other_db", "database_name_here"])


def test_a_computed_define_is_refused_when_the_definition_may_not_run(tmp_path: Path) -> None:
    config = SAMPLE.replace(
        b"define( 'DB_HOST', 'localhost' );",
        b"if ( ! defined( 'DB_HOST' ) ) { define( 'DB_HOST', 'localhost' ); }\n"
        b"foreach ( [ 'WPM_X' => 1 ] as $k => $v ) { define( $k, $v ); }")
    err = refused(config)
    assert "DB_HOST" in err.message and DYNAMIC in err.message and WAY_OUT in err.message
    # A missing value that a computed define() may supply says so too.
    err = refused(SAMPLE.replace(b"define( 'DB_USER', 'username_here' );", b"define( $user_key, 'x' );"))
    assert err.message.startswith(f"DB_USER is not in wp-config.php: it may come from {DYNAMIC}")


def test_a_computed_define_after_the_values_changes_nothing(tmp_path: Path) -> None:
    # PHP keeps a constant's first value: later define()s of any name cannot change it.
    config = SAMPLE.replace(b"/* That's all, stop editing!",
                            b"define( 'WP_' . 'DEBUG_LOG', false );\n"
                            b"$k = 'DB_NAME'; define( $k, 'late' );\n/* ")
    cfg = parse_wp_config(config)
    assert cfg.db_name == "database_name_here"
    assert as_read(cfg) == php_reads(tmp_path, config)


@pytest.mark.parametrize(("code", "why"), [
    (b"[ $unused, $table_prefix ] = [ 1, 'other_' ];", "[...] destructuring"),
    (b"[ 'p' => $table_prefix ] = [ 'p' => 'other_' ];", "[...] destructuring"),
    (b"list( $unused, $table_prefix ) = [ 1, 'other_' ];", "list() destructuring"),
    (b"[ [ $table_prefix ] ] = [ [ 'other_' ] ];", "[...] destructuring"),
    (b"extract( [ 'table_prefix' => 'other_' ] );", "extract()"),
    (b"$name = 'table_prefix'; $$name = 'other_';", "a variable variable"),
    (b"${'table_prefix'} = 'other_';", "a variable variable"),
    (b"${'table' . '_prefix'} .= 'other_';", "a variable variable"),
    (b"$GLOBALS['table_prefix'] = 'other_';", "$GLOBALS['table_prefix']"),
    (b"$key = 'table_prefix'; $GLOBALS[ $key ] = 'other_';", "$GLOBALS['table_prefix']"),
    (b"$alias = &$table_prefix; $alias = 'other_';", "a reference"),
    (b"foreach ( [ 'other_' ] as $table_prefix ) {}", "a foreach loop"),
    (b"foreach ( [ [ 'other_' ] ] as [ $table_prefix ] ) {}", "a foreach loop"),
    (b"$table_prefix[0] = 'o';", "a write to one of its characters"),
])
def test_a_prefix_set_in_a_way_not_read_is_refused(tmp_path: Path, code: bytes, why: str) -> None:
    config = SAMPLE.replace(PREFIX_LINE, PREFIX_LINE + b"\n" + code)
    assert php_reads(tmp_path, config)["table_prefix"] != "wp_"  # PHP uses another prefix
    err = refused(config)
    assert err.message.startswith(f"$table_prefix in wp-config.php may be set by {why}")
    assert err.message.endswith(PREFIX_WAY_OUT)
    assert_no_values(err, ["other_"])
    with pytest.raises(MigrationError) as info:
        parse_table_prefix(config)
    assert info.value.code is ErrorCode.NOT_WORDPRESS  # the sftp_db route's code, as elsewhere


ORDINARY = b"""
[ $first, $second ] = [ 1, 2 ];
list( $third ) = [ 3 ];
$settings = [ 'a' => 1 ];
$settings['b'] = $table_prefix;
$by_prefix[ $table_prefix ] = true;
$GLOBALS['wpm_flag'] = true;
$copy = ${'table_prefix'};
foreach ( $settings as $key => $value ) {}
if ( $table_prefix === 'wp_' ) { $matched = true; }
"""


def test_ordinary_code_around_the_prefix_is_not_refused(tmp_path: Path) -> None:
    config = SAMPLE.replace(PREFIX_LINE, PREFIX_LINE + ORDINARY)
    cfg = parse_wp_config(config)
    assert as_read(cfg) == php_reads(tmp_path, config)
    # A write before the last plain assignment is overwritten by it, as in PHP.
    config = SAMPLE.replace(PREFIX_LINE, b"extract( [ 'table_prefix' => 'other_' ] );\n" + PREFIX_LINE)
    assert parse_wp_config(config).table_prefix == "wp_" == php_reads(tmp_path, config)["table_prefix"]


# ------------------------------------------------------------------------- DB_HOST

@pytest.mark.parametrize(("db_host", "expected"), [
    ("localhost", DbEndpoint("socket", "localhost", None, None)),
    ("LocalHost", DbEndpoint("socket", "localhost", None, None)),
    ("localhost:3307", DbEndpoint("socket", "localhost", None, None)),
    ("localhost:/var/run/mysqld/mysqld.sock", DbEndpoint("socket", "localhost", None,
                                                        "/var/run/mysqld/mysqld.sock")),
    (":/tmp/mysql.sock", DbEndpoint("socket", "localhost", None, "/tmp/mysql.sock")),
    ("", DbEndpoint("socket", "localhost", None, None)),
    ("127.0.0.1", DbEndpoint("tcp", "127.0.0.1", 3306, None)),
    ("127.0.0.1:3307", DbEndpoint("tcp", "127.0.0.1", 3307, None)),
    ("db.internal:3306", DbEndpoint("tcp", "db.internal", 3306, None)),
    ("10.0.0.5", DbEndpoint("tcp", "10.0.0.5", 3306, None)),
    ("10.0.0.5:0", DbEndpoint("tcp", "10.0.0.5", 3306, None)),
    ("mysql.example.com:3308:/tmp/mysql.sock", DbEndpoint("tcp", "mysql.example.com", 3308,
                                                         "/tmp/mysql.sock")),
    ("[::1]:3307", DbEndpoint("tcp", "::1", 3307, None)),
    ("[::1]", DbEndpoint("tcp", "::1", 3306, None)),
    ("::1", DbEndpoint("tcp", "::1", 3306, None)),
    ("fd00::5", DbEndpoint("tcp", "fd00::5", 3306, None)),
    ("[fd00::5]:3310", DbEndpoint("tcp", "fd00::5", 3310, None)),
])
def test_parse_db_host(db_host: str, expected: DbEndpoint) -> None:
    assert parse_db_host(db_host) == expected


def test_unparseable_db_host_is_refused() -> None:
    with pytest.raises(MigrationError) as info:
        parse_db_host("my.db:1:2")  # two colons and not hex: wpdb returns false
    assert info.value.code is ErrorCode.INVALID_CONF and WAY_OUT in info.value.message
    assert_no_values(info.value, ["my.db"])
    with pytest.raises(MigrationError):
        parse_db_host("db.internal:99999")


def test_parse_db_host_agrees_with_wpdb() -> None:
    """WordPress's own wpdb::parse_db_host, lifted from class-wpdb.php, on the same inputs."""
    source = (WORDPRESS / "wp-includes" / "class-wpdb.php").read_text()
    fn = re.search(r"public function parse_db_host\( \$host \) \{.*?\n\t\}\n", source, re.S)
    assert fn is not None
    hosts = ["localhost", "localhost:3307", "localhost:/var/run/mysqld/mysqld.sock", "127.0.0.1",
             "127.0.0.1:3307", "db.internal:3306", "10.0.0.5", "10.0.0.5:0", "db.internal:abc",
             "mysql.example.com:3308:/tmp/mysql.sock", "[::1]:3307", "[::1]", "::1", "fd00::5",
             "[fd00::5]:3310", ":/tmp/mysql.sock", "", "db:a:b"]
    code = ("function absint($v) { return abs((int) $v); }\nclass W {\n" + fn.group(0) + "}\n"
            "$w = new W(); $out = [];\n"
            "foreach (json_decode($argv[1]) as $h) { $out[] = $w->parse_db_host($h); }\n"
            "echo json_encode($out);")
    proc = subprocess.run(["php", "-r", code, json.dumps(hosts)], capture_output=True, check=True, text=True)
    for db_host, (host, port, socket, _ipv6) in zip(hosts, json.loads(proc.stdout), strict=True):
        ours = parse_db_host(db_host)
        assert ours.socket == socket, db_host
        if host.lower() in ("", "localhost"):  # mysqli: the unix socket, port ignored
            assert ours.kind == "socket" and ours.port is None, db_host
        else:
            assert (ours.kind, ours.host, ours.port) == ("tcp", host, port or 3306), db_host
