<?php
// Router for the static (non-WordPress) site: existing files only and a plain 404
// otherwise; without it `php -S` answers every unknown path with index.html.
$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
$real = realpath($root . $path);
if ($path === '/' || ($real !== false && str_starts_with($real, $root . '/') && is_file($real))) {
    return false;
}
http_response_code(404);
header('Content-Type: text/html; charset=utf-8');
echo "<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n";
