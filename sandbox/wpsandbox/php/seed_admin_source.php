<?php
// What the admin source has on top of seed_source.php: an editor with a known password (a
// login that is not an administrator) and one option whose value is over 5 MB.
// The value is a serialized array of random base64 strings: valid serialized PHP, nothing a
// URL rewrite touches (base64 has no '.' or ':'), so it must arrive byte for byte.
// Env: WPSB_DOCROOT WPSB_URL WPSB_EDITOR_USER WPSB_EDITOR_PASSWORD WPSB_BIG_OPTION WPSB_BIG_OPTION_BYTES
require __DIR__ . '/bootstrap.php';

$docroot = wpsb_env('WPSB_DOCROOT');
wpsb_fake_request(wpsb_env('WPSB_URL'));
require $docroot . '/wp-load.php';

$login = wpsb_env('WPSB_EDITOR_USER');
$editor = wp_insert_user([
    'user_login' => $login,
    'user_pass' => wpsb_env('WPSB_EDITOR_PASSWORD'),
    'user_email' => "$login@example.test",
    'display_name' => 'Site Editor',
    'role' => 'editor',
]);
if (is_wp_error($editor)) {
    fwrite(STDERR, 'editor: ' . $editor->get_error_message() . "\n");
    exit(1);
}

$name = wpsb_env('WPSB_BIG_OPTION');
$want = (int) wpsb_env('WPSB_BIG_OPTION_BYTES');
$parts = [];
$size = 0;
for ($i = 0; $size < $want; $i++) {
    $parts["part_$i"] = base64_encode(random_bytes(3072));  // 4096 characters
    $size += 4096 + 32;
}
// autoload 'no': every page load would otherwise carry the 5 MB in a 64 MB process.
if (!add_option($name, $parts, '', 'no')) {
    fwrite(STDERR, "could not add option $name\n");
    exit(1);
}
global $wpdb;
// Read back as stored: the recorded digest is of the bytes in the table.
$stored = $wpdb->get_var($wpdb->prepare("SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", $name));
if (!is_string($stored) || $stored !== serialize($parts)) {
    fwrite(STDERR, "option $name does not read back as written\n");
    exit(1);
}

wpsb_result([
    'editor_id' => (int) $editor,
    'big_option' => ['size' => strlen($stored), 'sha256' => hash('sha256', $stored), 'parts' => count($parts)],
]);
