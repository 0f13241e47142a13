<?php
// Router for `php -S`: existing files and directories go to the built-in server, every
// other path to WordPress's front controller (without a router any path with a dot,
// e.g. /wp-sitemap.xml or /robots.txt, gets the built-in server's own 404).
// Every request is also appended as one JSON line to $WPSB_REQUEST_LOG, with a
// sub-second timestamp, so tests can check which paths a crawler asked for and how fast.

function wpsb_log_request(?int $status): void
{
    $log = getenv('WPSB_REQUEST_LOG');
    if (!$log) {
        return;
    }
    $line = json_encode([
        't' => microtime(true),
        'method' => $_SERVER['REQUEST_METHOD'] ?? '',
        'uri' => $_SERVER['REQUEST_URI'] ?? '',
        'status' => $status,
        'ua' => $_SERVER['HTTP_USER_AGENT'] ?? '',
        'auth' => isset($_SERVER['HTTP_AUTHORIZATION']) || isset($_SERVER['PHP_AUTH_USER']),
    ], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    file_put_contents($log, $line . "\n", FILE_APPEND | LOCK_EX);
}

$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
$real = realpath($root . $path);
if ($path !== '/' && $real !== false && str_starts_with($real, $root . '/')) {
    // The built-in server serves the file (or runs the .php script) itself.
    wpsb_log_request(null);
    return false;
}

register_shutdown_function(static function (): void {
    wpsb_log_request(http_response_code() ?: 200);
});
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $root . '/index.php';
chdir($root);
require $root . '/index.php';
