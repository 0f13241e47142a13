<?php
// Shared by the CLI scripts: fake just enough of a web request for WordPress to load
// from the command line (there is no wp-cli here). Input comes from WPSB_* variables so
// that no password shows up in `ps`.

function wpsb_env(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        fwrite(STDERR, "missing environment variable $name\n");
        exit(2);
    }
    return $value;
}

function wpsb_fake_request(string $url): void
{
    $parts = parse_url($url);
    $_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
    $_SERVER['SERVER_NAME'] = $parts['host'];
    $_SERVER['SERVER_PORT'] = (string) ($parts['port'] ?? 80);
    $_SERVER['REQUEST_URI'] = '/';
    $_SERVER['REQUEST_METHOD'] = 'GET';
    $_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
}

function wpsb_result(array $data): void
{
    echo "\n@@WPSB@@" . json_encode($data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n";
}
