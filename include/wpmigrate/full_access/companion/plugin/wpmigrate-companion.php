<?php
/**
 * Plugin Name: wpmigrate companion
 * Description: Read-only export endpoint for one wpmigrate migration. Answers only requests signed with this install's secret, only for a bounded time after its last use. Removed automatically when the migration ends.
 * Version: 1
 * Requires PHP: 7.4
 * License: GPLv2 or later
 *
 * Protocol v1 (see wpmigrate's docs): GET {home}/?wpmigrate-companion={action}&... with the
 * headers X-WPM-Timestamp, X-WPM-Nonce and X-WPM-Signature = hex HMAC-SHA256(secret,
 * "v1\n" . action . "\n" . canonical_query . "\n" . timestamp . "\n" . nonce).
 * Anything else (unsigned, a wrong, stale or replayed signature, an array parameter) is not
 * ours: the plugin adds nothing and WordPress answers as it would without it.
 * Files: only under wp-content's real path; a symlink is never followed.
 * The only writes are under this plugin's own folder (state/: nonces, last use).
 */

if (!defined('ABSPATH')) {
    exit;
}

const WPMC_PROTOCOL = 1;
const WPMC_MAX_SKEW = 300;
const WPMC_NONCE_TTL = 600;
const WPMC_MAX_CHUNK = 64 * 1024 * 1024;
const WPMC_INT_TYPES = ['tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'year'];
const WPMC_BINARY_TYPES = ['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit',
    'geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon',
    'geometrycollection'];

add_action('plugins_loaded', 'wpmc_maybe_handle', 0);
register_deactivation_hook(__FILE__, 'wpmc_forget_secret');

/** Deactivated: the secret goes at once, so the plugin is inert even if deletion fails. */
function wpmc_forget_secret(): void
{
    @unlink(__DIR__ . '/secret.php');
}

function wpmc_maybe_handle(): void
{
    $request = wpmc_signed_request();
    if ($request === null) {
        return; // not ours: the site answers exactly as it would without this plugin
    }
    [$action, $query, $config, $state] = $request;
    wpmc_prepare_output();
    $idle = max(1, (int) ($config['idle_seconds'] ?? 3600));
    $last = @filemtime($state . '/last-use');
    if ($last === false) {
        $last = (int) @filemtime(__DIR__ . '/secret.php');
    }
    if (time() - $last > $idle) {
        // Said only to a caller who proved it holds the secret; everyone else sees no plugin.
        wpmc_json(410, ['error' => 'expired: idle for longer than ' . $idle . ' s; remove the plugin']);
    }
    @touch($state . '/last-use');
    try {
        wpmc_dispatch($action, $query);
    } catch (Throwable $e) {
        wpmc_json(500, ['error' => get_class($e) . ': ' . $e->getMessage()]);
    }
    wpmc_json(400, ['error' => 'unknown action']);
}

/**
 * [action, parameters, config, state folder] of a request signed with this install's secret,
 * fresh and not seen before; null for anything else (unsigned, malformed, wrong, stale,
 * replayed, an array parameter). Until it returns non-null nothing is sent, parsed or
 * answered: to anyone without the secret the site looks as if the plugin were not there.
 */
function wpmc_signed_request(): ?array
{
    $action = $_GET['wpmigrate-companion'] ?? null;
    $signature = $_SERVER['HTTP_X_WPM_SIGNATURE'] ?? null;
    $timestamp = $_SERVER['HTTP_X_WPM_TIMESTAMP'] ?? null;
    $nonce = $_SERVER['HTTP_X_WPM_NONCE'] ?? null;
    if (!is_string($action) || !is_string($signature) || !is_string($timestamp) || !is_string($nonce)
        || !preg_match('/^[0-9a-f]{64}$/', $signature)) {
        return null;
    }
    // plugins_loaded runs before wp_magic_quotes(): $_GET is still as PHP parsed it.
    // Only scalar strings are signed: an array parameter is not ours.
    $query = $_GET;
    foreach ($query as $value) {
        if (!is_string($value)) {
            return null;
        }
    }
    unset($query['wpmigrate-companion']);
    $config = wpmc_config();
    if ($config === null) {
        return null; // no secret (deactivated or broken install)
    }
    $expected = hash_hmac('sha256', wpmc_string_to_sign($action, $query, $timestamp, $nonce), (string) $config['secret']);
    if (!hash_equals($expected, $signature)) {
        return null;
    }
    // A captured request sent again (late, or twice) proves nothing: silent as well.
    if (!preg_match('/^\d{1,12}$/', $timestamp) || abs(time() - (int) $timestamp) > WPMC_MAX_SKEW
        || !preg_match('/^[0-9a-f]{32}$/', $nonce)) {
        return null;
    }
    $state = __DIR__ . '/state';
    if (!is_dir($state) && !@mkdir($state, 0700) && !is_dir($state)) {
        wpmc_prepare_output(); // the caller holds the secret: tell it why nothing works
        wpmc_json(500, ['error' => 'the plugin folder is not writable']);
    }
    if (!wpmc_claim_nonce($state, $nonce)) {
        return null;
    }
    return [$action, $query, $config, $state];
}

/**
 * secret.php's values, read as text rather than included: OPcache would keep serving a
 * replaced secret file for up to revalidate_freq seconds (a reinstall with a new secret).
 */
function wpmc_config(): ?array
{
    $raw = @file_get_contents(__DIR__ . '/secret.php');
    if ($raw === false || !preg_match("/'secret'\\s*=>\\s*'([0-9a-f]{64})'/", $raw, $secret)) {
        return null;
    }
    $idle = preg_match("/'idle_seconds'\\s*=>\\s*(\\d{1,9})/", $raw, $m) ? (int) $m[1] : 3600;
    return ['secret' => $secret[1], 'idle_seconds' => $idle];
}

function wpmc_string_to_sign(string $action, array $query, string $timestamp, string $nonce): string
{
    ksort($query, SORT_STRING);
    $pairs = [];
    foreach ($query as $name => $value) {
        $pairs[] = rawurlencode((string) $name) . '=' . rawurlencode((string) $value);
    }
    return "v1\n" . $action . "\n" . implode('&', $pairs) . "\n" . $timestamp . "\n" . $nonce;
}

/** One file per nonce, created exclusively: a replay finds it. Old ones are pruned now and then. */
function wpmc_claim_nonce(string $state, string $nonce): bool
{
    $dir = $state . '/nonces';
    if (!is_dir($dir)) {
        @mkdir($dir, 0700);
    }
    if (random_int(0, 49) === 0) {
        foreach ((array) @scandir($dir) as $name) {
            if (strlen((string) $name) === 32 && @filemtime($dir . '/' . $name) < time() - WPMC_NONCE_TTL) {
                @unlink($dir . '/' . $name);
            }
        }
    }
    $fh = @fopen($dir . '/' . $nonce, 'x');
    if ($fh === false) {
        return false;
    }
    fclose($fh);
    return true;
}

function wpmc_prepare_output(): void
{
    while (ob_get_level() > 0) {
        @ob_end_clean();
    }
    @ini_set('zlib.output_compression', '0');
    header('X-WPM-Protocol: ' . WPMC_PROTOCOL);
    header('Cache-Control: no-store, private');
    header('X-Robots-Tag: noindex');
}

function wpmc_json(int $status, array $body): void
{
    status_header($status);
    header('Content-Type: application/json');
    echo json_encode($body, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
    exit;
}

function wpmc_dispatch(string $action, array $q): void
{
    switch ($action) {
        case 'preflight':
            wpmc_json(200, wpmc_preflight());
            break;
        case 'schema':
            wpmc_json(200, wpmc_schema(wpmc_table((string) ($q['table'] ?? ''))));
            break;
        case 'rows':
            wpmc_rows($q);
            break;
        case 'files':
            wpmc_json(200, wpmc_files($q));
            break;
        case 'file':
            wpmc_file($q);
            break;
    }
}

// ------------------------------------------------------------------ database

function wpmc_db(): mysqli
{
    global $wpdb;
    if (!($wpdb->dbh instanceof mysqli)) {
        throw new RuntimeException('the database connection is not mysqli (a db.php drop-in?)');
    }
    $db = $wpdb->dbh;
    // Session settings only: raw stored bytes whatever the column's charset, TIMESTAMPs in UTC,
    // and a session that cannot write. The request ends with this plugin's exit.
    foreach (['SET SESSION character_set_results = binary', "SET SESSION time_zone = '+00:00'",
              'SET SESSION TRANSACTION READ ONLY'] as $sql) {
        wpmc_query($db, $sql);
    }
    return $db;
}

/** @return mysqli_result|bool */
function wpmc_query(mysqli $db, string $sql, int $mode = MYSQLI_STORE_RESULT)
{
    $result = $db->query($sql, $mode);
    if ($result === false) {
        throw new RuntimeException('query failed: ' . $db->errno . ' ' . $db->error);
    }
    return $result;
}

function wpmc_all(mysqli $db, string $sql): array
{
    $result = wpmc_query($db, $sql);
    $rows = $result->fetch_all(MYSQLI_ASSOC);
    $result->free();
    return $rows;
}

function wpmc_str(mysqli $db, string $value): string
{
    return "'" . $db->real_escape_string($value) . "'";
}

function wpmc_ident(string $name): string
{
    return '`' . str_replace('`', '``', $name) . '`';
}

function wpmc_prefix(): string
{
    global $wpdb;
    return (string) $wpdb->base_prefix;
}

/** The site's base tables and views: names starting with the table prefix. */
function wpmc_site_tables(mysqli $db): array
{
    $like = str_replace(['\\', '_', '%'], ['\\\\', '\\_', '\\%'], wpmc_prefix()) . '%';
    return wpmc_all($db, 'SELECT TABLE_NAME AS name, TABLE_TYPE AS kind, ENGINE AS engine, TABLE_ROWS AS estimate,'
        . ' DATA_LENGTH AS data_length FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()'
        . ' AND TABLE_NAME LIKE ' . wpmc_str($db, $like) . ' ORDER BY TABLE_NAME');
}

function wpmc_table(string $name): string
{
    $db = wpmc_db();
    foreach (wpmc_site_tables($db) as $t) {
        if ($t['name'] === $name && $t['kind'] === 'BASE TABLE') {
            return $name;
        }
    }
    wpmc_json(404, ['error' => 'no such table of this site']);
    return '';
}

function wpmc_columns(mysqli $db, string $table): array
{
    $cols = [];
    $rows = wpmc_all($db, 'SELECT COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS type,'
        . ' CHARACTER_SET_NAME AS charset, IS_NULLABLE AS nullable, EXTRA AS extra FROM information_schema.COLUMNS'
        . ' WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ' . wpmc_str($db, $table) . ' ORDER BY ORDINAL_POSITION');
    foreach ($rows as $r) {
        $cols[] = [
            'name' => $r['name'],
            'data_type' => strtolower((string) $r['data_type']),
            'type' => $r['type'],
            'charset' => $r['charset'],
            'nullable' => $r['nullable'] === 'YES',
            'generated' => stripos((string) $r['extra'], 'GENERATED') !== false,
        ];
    }
    return $cols;
}

/** [primary key columns, first unique key whose columns are all NOT NULL] */
function wpmc_keys(mysqli $db, string $table, array $columns): array
{
    $nullable = [];
    foreach ($columns as $c) {
        $nullable[$c['name']] = $c['nullable'];
    }
    $rows = wpmc_all($db, 'SELECT INDEX_NAME AS idx, COLUMN_NAME AS col, NON_UNIQUE AS non_unique'
        . ' FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '
        . wpmc_str($db, $table) . ' ORDER BY INDEX_NAME, SEQ_IN_INDEX');
    $indexes = [];
    foreach ($rows as $r) {
        if ((int) $r['non_unique'] === 0) {
            $indexes[$r['idx']][] = $r['col'];
        }
    }
    $primary = $indexes['PRIMARY'] ?? [];
    unset($indexes['PRIMARY']);
    $unique = [];
    foreach ($indexes as $cols) {
        $ok = true;
        foreach ($cols as $c) {
            $ok = $ok && isset($nullable[$c]) && !$nullable[$c];
        }
        if ($ok) {
            $unique = $cols;
            break;
        }
    }
    return [$primary, $unique];
}

function wpmc_bytes(string $value): int
{
    return function_exists('wp_convert_hr_to_bytes') ? (int) wp_convert_hr_to_bytes($value) : (int) $value;
}

function wpmc_preflight(): array
{
    global $wp_version, $wpdb;
    $started = microtime(true);
    $budget = wpmc_budget();
    $db = wpmc_db();
    $server = wpmc_all($db, 'SELECT VERSION() AS v, @@character_set_database AS cs, @@collation_database AS co')[0];
    $tables = [];
    $views = [];
    foreach (wpmc_site_tables($db) as $t) {
        if ($t['kind'] !== 'BASE TABLE') {
            $views[] = $t['name'];
            continue;
        }
        $columns = wpmc_columns($db, $t['name']);
        [$primary, $unique] = wpmc_keys($db, $t['name'], $columns);
        $rows = null; // exact counts while time allows; a huge table keeps its estimate
        if (microtime(true) - $started < $budget) {
            $rows = (int) wpmc_all($db, 'SELECT COUNT(*) AS n FROM ' . wpmc_ident($t['name']))[0]['n'];
        }
        $tables[] = ['name' => $t['name'], 'rows' => $rows, 'rows_estimate' => (int) $t['estimate'],
            'engine' => (string) $t['engine'], 'data_length' => (int) $t['data_length'],
            'primary_key' => $primary, 'unique_key' => $unique];
    }
    $memory = trim((string) ini_get('memory_limit'));
    return [
        'protocol' => WPMC_PROTOCOL,
        'wp_version' => $wp_version,
        'php_version' => PHP_VERSION,
        'max_execution_time' => (int) ini_get('max_execution_time'),
        'memory_limit' => ($memory === '-1' || $memory === '') ? -1 : wpmc_bytes($memory),
        'upload_max_filesize' => wpmc_bytes((string) ini_get('upload_max_filesize')),
        'post_max_size' => wpmc_bytes((string) ini_get('post_max_size')),
        'siteurl' => get_option('siteurl'),
        'home' => get_option('home'),
        'abspath' => ABSPATH,
        'wp_content_dir' => WP_CONTENT_DIR,
        'table_prefix' => wpmc_prefix(),
        'multisite' => is_multisite(),
        'db' => ['charset' => $server['cs'], 'collation' => $server['co'], 'server_version' => $server['v']],
        'tables' => $tables,
        'views' => $views,
        'wp_content' => wpmc_tree_size(wpmc_content_root(), $started + $budget),
    ];
}

/** Seconds a request may spend before it stops adding work: a third of the time limit. */
function wpmc_budget(): float
{
    $limit = (int) ini_get('max_execution_time');
    return $limit > 0 ? $limit / 3.0 : 20.0;
}

function wpmc_schema(string $table): array
{
    $db = wpmc_db();
    $create = wpmc_all($db, 'SHOW CREATE TABLE ' . wpmc_ident($table));
    $row = array_values($create[0]);
    return ['table' => $table, 'create' => $row[1], 'columns' => wpmc_columns($db, $table)];
}

/** A SQL literal for one key value (raw stored bytes), compared in the column's collation. */
function wpmc_literal(mysqli $db, ?string $raw, array $col): string
{
    if ($raw === null) {
        return 'NULL';
    }
    if (in_array($col['data_type'], WPMC_INT_TYPES, true)) {
        if (!preg_match('/^-?\d+$/', $raw)) {
            throw new InvalidArgumentException('bad integer key value');
        }
        return $raw;
    }
    if (in_array($col['data_type'], WPMC_BINARY_TYPES, true)) {
        return "X'" . bin2hex($raw) . "'";
    }
    if ($col['charset']) {
        return '_' . $col['charset'] . " X'" . bin2hex($raw) . "'";
    }
    return wpmc_str($db, $raw);
}

function wpmc_rows(array $q): void
{
    $table = wpmc_table((string) ($q['table'] ?? ''));
    $db = wpmc_db();
    $limit = max(1, min(100000, (int) ($q['limit'] ?? 200)));
    $max_bytes = max(1, (int) ($q['max_bytes'] ?? 262144));
    $columns = array_values(array_filter(wpmc_columns($db, $table), static function ($c) {
        return !$c['generated'];
    }));
    $by_name = [];
    foreach ($columns as $c) {
        $by_name[$c['name']] = $c;
    }
    [$primary, $unique] = wpmc_keys($db, $table, $columns);
    $key = $primary ?: $unique;
    $select = implode(', ', array_map(static function ($c) {
        // mysqlnd turns BIT into a decimal string; the cast keeps the stored bytes, as mysqlclient gets them.
        return $c['data_type'] === 'bit' ? 'CAST(' . wpmc_ident($c['name']) . ' AS BINARY)' : wpmc_ident($c['name']);
    }, $columns));
    $sql = 'SELECT ' . $select . ' FROM ' . wpmc_ident($table);
    $offset = 0;
    if ($key) {
        if (isset($q['after'])) {
            $after = json_decode((string) $q['after'], true);
            if (!is_array($after) || count($after) !== count($key)) {
                wpmc_json(400, ['error' => 'after must be a JSON array of the key values']);
            }
            $lits = [];
            foreach ($key as $i => $k) {
                $v = $after[$i];
                $lits[] = wpmc_literal($db, $v === null ? null : (string) base64_decode((string) $v, true), $by_name[$k]);
            }
            $ors = [];
            foreach ($key as $i => $k) {
                $ands = [];
                for ($j = 0; $j < $i; $j++) {
                    $ands[] = wpmc_ident($key[$j]) . ' = ' . $lits[$j];
                }
                $ands[] = wpmc_ident($k) . ' > ' . $lits[$i];
                $ors[] = '(' . implode(' AND ', $ands) . ')';
            }
            $sql .= ' WHERE ' . implode(' OR ', $ors);
        }
        $sql .= ' ORDER BY ' . implode(', ', array_map('wpmc_ident', $key));
        $sql .= ' LIMIT ' . $limit;
    } else {
        // No usable key: the table's storage order (what a plain scan reads), paged by offset.
        // Not stable if the table changes during the export (documented by the client).
        $offset = max(0, (int) ($q['offset'] ?? 0));
        $sql .= ' LIMIT ' . $offset . ', ' . $limit;
    }
    $key_idx = [];
    foreach ($key as $k) {
        $key_idx[] = array_search($k, array_column($columns, 'name'), true);
    }
    $started = microtime(true);
    $budget = wpmc_budget();
    wpmc_query($db, 'START TRANSACTION READ ONLY');
    $result = wpmc_query($db, $sql, MYSQLI_USE_RESULT); // unbuffered: one row in memory at a time
    status_header(200);
    header('Content-Type: application/json');
    echo '{"columns":', json_encode(array_column($columns, 'name')), ',"rows":[';
    $n = 0;
    $bytes = 0;
    $last = null;
    $stopped = false;
    while (($row = $result->fetch_row()) !== null) {
        $out = [];
        foreach ($row as $v) {
            if ($v === null) {
                $out[] = null;
            } else {
                $v = (string) $v;
                $bytes += strlen($v);
                $out[] = base64_encode($v);
            }
        }
        echo $n ? ',' : '', json_encode($out);
        $n++;
        $last = $out;
        if ($n < $limit && ($bytes >= $max_bytes || microtime(true) - $started >= $budget)) {
            $stopped = true;
            break;
        }
    }
    $result->free();
    wpmc_query($db, 'COMMIT');
    $next = null;
    if ($n > 0 && ($stopped || $n >= $limit)) {
        if ($key) {
            $next = [];
            foreach ($key_idx as $i) {
                $next[] = $last[$i];
            }
        } else {
            $next = ['offset' => $offset + $n];
        }
    }
    echo '],"next":', json_encode($next), ',"count":', $n, '}';
    exit;
}

// ------------------------------------------------------------------ files

/** wp-content's real path: every path served or listed lies below it. */
function wpmc_content_root(): string
{
    $root = realpath(WP_CONTENT_DIR);
    if ($root === false) {
        throw new RuntimeException('wp-content is not readable');
    }
    return $root;
}

/**
 * The real path of ``$rel`` (relative to wp-content) when no component of it is a symlink and
 * it resolves below wp-content; null otherwise. A link can lead anywhere on the host
 * (wp-config.php, /etc), and the listing never lists a path through one.
 */
function wpmc_resolve(string $rel): ?string
{
    $root = wpmc_content_root();
    $path = $root;
    foreach (explode('/', $rel) as $part) {
        $path .= '/' . $part;
        if (is_link($path)) {
            return null;
        }
    }
    $real = realpath($path);
    return ($real !== false && strpos($real, $root . '/') === 0) ? $real : null;
}

/** Why a listed symlink was not followed: says when the content behind it is not exported at all. */
function wpmc_symlink_detail(string $root, string $full): string
{
    $target = realpath($full);
    if ($target === false) {
        return 'broken symlink (or one PHP may not resolve)';
    }
    if ($target === $root || strpos($target, $root . '/') === 0) {
        return 'symlink within wp-content: not followed, its target is listed at its own path';
    }
    return 'symlink leads outside wp-content';
}

/** One directory's entry names, sorted by byte value (strcmp). */
function wpmc_list(string $dir): ?array
{
    $names = @scandir($dir, SCANDIR_SORT_NONE);
    if ($names === false) {
        return null;
    }
    $names = array_values(array_filter($names, static function ($n) {
        return $n !== '.' && $n !== '..';
    }));
    usort($names, 'strcmp');
    return $names;
}

function wpmc_skip_match(array $parts, array $pattern): bool
{
    if (!$pattern) {
        return !$parts;
    }
    if ($pattern[0] === '**') {
        for ($i = 0; $i <= count($parts); $i++) {
            if (wpmc_skip_match(array_slice($parts, $i), array_slice($pattern, 1))) {
                return true;
            }
        }
        return false;
    }
    return $parts && fnmatch($pattern[0], $parts[0]) && wpmc_skip_match(array_slice($parts, 1), array_slice($pattern, 1));
}

/** The skip pattern ``rel`` matches (the client's skip_rules semantics), or null. */
function wpmc_skipped(string $rel, array $patterns): ?string
{
    $parts = explode('/', $rel);
    foreach ($patterns as $p) {
        $pp = array_values(array_filter(explode('/', trim((string) $p, '/')), 'strlen'));
        if ($pp && wpmc_skip_match($parts, $pp)) {
            return implode('/', $pp);
        }
    }
    return null;
}

/**
 * Depth-first walk of wp-content (``$root``: its real path), entries of each directory in
 * byte order, resuming strictly after ``after``. ``$emit`` gets [relative path, full path,
 * lstat or null, skip reason]. Returns false when ``$emit`` asked to stop.
 * Every symlink is listed as skipped and never followed, even one within wp-content: its
 * target is listed at its own path, and not following links leaves no loop to guard against.
 */
function wpmc_walk(string $root, string $rel_dir, array $after, array $skip, callable $emit): bool
{
    $dir = $rel_dir === '' ? $root : $root . '/' . $rel_dir;
    $names = wpmc_list($dir);
    if ($names === null) {
        return $emit($rel_dir, $dir, null, 'unreadable') !== false;
    }
    $own = realpath(__DIR__);
    $first = $after ? $after[0] : null;
    foreach ($names as $name) {
        if ($first !== null) {
            $cmp = strcmp($name, $first);
            if ($cmp < 0 || ($cmp === 0 && count($after) === 1)) {
                continue;
            }
        }
        $rel = $rel_dir === '' ? $name : $rel_dir . '/' . $name;
        $full = $dir . '/' . $name;
        $descend_after = ($first !== null && $name === $first) ? array_slice($after, 1) : [];
        $first = null;
        if ($own !== false && $full === $own) {
            continue; // this plugin itself (and its secret) is never exported
        }
        if (!preg_match('//u', $name) || strpos($name, '\\') !== false) {
            if ($emit($rel, $full, null, 'unsafe_names') === false) {
                return false;
            }
            continue;
        }
        $st = @lstat($full);
        if ($st === false) {
            continue; // vanished since the listing
        }
        $type = $st['mode'] & 0170000;
        if ($type === 0120000) {
            $reason = 'symlinks';
        } elseif ($type !== 0040000 && $type !== 0100000) {
            $reason = 'special';
        } elseif (wpmc_skipped($rel, $skip) !== null) {
            $reason = 'excluded';
        } else {
            $reason = null;
        }
        if ($reason === null && $type === 0040000) {
            if (realpath($full) === $own) {
                continue;
            }
            if (!wpmc_walk($root, $rel, $descend_after, $skip, $emit)) {
                return false;
            }
            continue;
        }
        if ($emit($rel, $full, $st, $reason) === false) {
            return false;
        }
    }
    return true;
}

function wpmc_files(array $q): array
{
    $limit = max(1, min(10000, (int) ($q['limit'] ?? 500)));
    $max_hash = max(1, (int) ($q['max_hash_bytes'] ?? 64 * 1024 * 1024));
    $skip = isset($q['skip']) ? json_decode((string) $q['skip'], true) : [];
    $skip = is_array($skip) ? $skip : [];
    $after = isset($q['after']) && $q['after'] !== '' ? explode('/', (string) $q['after']) : [];
    $root = wpmc_content_root();
    $started = microtime(true);
    $budget = wpmc_budget();
    $entries = [];
    $hashed = 0;
    $last = null;
    $complete = wpmc_walk($root, '', $after, $skip, static function ($rel, $full, $st, $reason) use (
        &$entries, &$hashed, &$last, $limit, $max_hash, $started, $budget, $root
    ) {
        if ($reason !== null) {
            $e = ['path' => $rel, 'skipped' => $reason];
            if ($reason === 'excluded' && $st && ($st['mode'] & 0170000) === 0040000) {
                $e['dir'] = true;
            } elseif ($reason === 'symlinks') {
                $e['detail'] = wpmc_symlink_detail($root, $full);
            }
        } elseif (!is_readable($full)) {
            $e = ['path' => $rel, 'skipped' => 'unreadable'];
        } else {
            $size = (int) $st['size'];
            if ($entries && $size <= $max_hash && $hashed + $size > $max_hash) {
                return false; // hashed in the next page, which starts with it
            }
            $e = ['path' => $rel, 'size' => $size, 'mtime' => (int) $st['mtime'],
                'mode' => $st['mode'] & 07777, 'sha256' => null];
            if ($size <= $max_hash) { // a bigger file is hashed by the client from its chunks
                $h = @hash_file('sha256', $full);
                $e['sha256'] = $h === false ? null : $h;
                $hashed += $size;
            }
        }
        $entries[] = $e;
        $last = $rel;
        return !(count($entries) >= $limit || $hashed >= $max_hash || microtime(true) - $started >= $budget);
    });
    return ['entries' => $entries, 'next' => $complete ? null : $last];
}

/** Count and bytes of the regular files under ``$root``, while time allows. */
function wpmc_tree_size(string $root, float $deadline): array
{
    $files = 0;
    $bytes = 0;
    $stack = [$root];
    $own = realpath(__DIR__);
    while ($stack) {
        if (microtime(true) > $deadline) {
            return ['files' => $files, 'bytes' => $bytes, 'complete' => false];
        }
        $dir = array_pop($stack);
        foreach ((array) wpmc_list($dir) as $name) {
            $full = $dir . '/' . $name;
            $st = @lstat($full);
            if ($st === false || $full === $own) {
                continue;
            }
            $type = $st['mode'] & 0170000;
            if ($type === 0040000) {
                $stack[] = $full;
            } elseif ($type === 0100000) {
                $files++;
                $bytes += (int) $st['size'];
            }
        }
    }
    return ['files' => $files, 'bytes' => $bytes, 'complete' => true];
}

function wpmc_file(array $q): void
{
    $rel = (string) ($q['path'] ?? '');
    $parts = explode('/', $rel);
    if ($rel === '' || $rel[0] === '/' || strpos($rel, '\\') !== false || strpos($rel, "\0") !== false
        || in_array('..', $parts, true) || in_array('.', $parts, true) || in_array('', $parts, true)) {
        wpmc_json(400, ['error' => 'path must be relative to wp-content, without . or ..']);
    }
    $own = realpath(__DIR__);
    $real = wpmc_resolve($rel);
    if ($real === null || !is_file($real)) {
        wpmc_json(404, ['error' => 'no such file']); // also through a symlink: never served
    }
    if ($own !== false && strpos($real . '/', $own . '/') === 0) {
        wpmc_json(404, ['error' => 'no such file']);
    }
    $fh = @fopen($real, 'rb');
    if ($fh === false) {
        wpmc_json(403, ['error' => 'unreadable']);
    }
    $st = fstat($fh);
    $offset = max(0, (int) ($q['offset'] ?? 0));
    $length = max(0, min(WPMC_MAX_CHUNK, (int) ($q['length'] ?? 1048576)));
    $memory = wpmc_bytes((string) ini_get('memory_limit'));
    if ($memory > 0) {
        $length = min($length, max(65536, intdiv($memory, 4)));
    }
    $data = '';
    if ($offset < $st['size'] && $length > 0) {
        fseek($fh, $offset);
        $want = min($length, $st['size'] - $offset);
        while (strlen($data) < $want && !feof($fh)) {
            $piece = fread($fh, min(1048576, $want - strlen($data)));
            if ($piece === false || $piece === '') {
                break;
            }
            $data .= $piece;
        }
    }
    fclose($fh);
    status_header(200);
    header('Content-Type: application/octet-stream');
    header('Content-Length: ' . strlen($data));
    header('X-WPM-File-Size: ' . $st['size']);
    header('X-WPM-File-Mtime: ' . $st['mtime']);
    header('X-WPM-Chunk-Sha256: ' . hash('sha256', $data));
    echo $data;
    exit;
}
