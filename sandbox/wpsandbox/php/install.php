<?php
// Installs WordPress the way the web installer does, then sets pretty permalinks.
// Env: WPSB_DOCROOT WPSB_URL WPSB_TITLE WPSB_ADMIN_USER WPSB_ADMIN_PASSWORD WPSB_ADMIN_EMAIL
require __DIR__ . '/bootstrap.php';

define('WP_INSTALLING', true);
$docroot = wpsb_env('WPSB_DOCROOT');
wpsb_fake_request(wpsb_env('WPSB_URL'));
require $docroot . '/wp-load.php';

// Pluggable: the installer would try to mail the admin; there is no MTA here.
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password)
{
}

require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$result = wp_install(
    wpsb_env('WPSB_TITLE'),
    wpsb_env('WPSB_ADMIN_USER'),
    wpsb_env('WPSB_ADMIN_EMAIL'),
    true,
    '',
    wp_slash(wpsb_env('WPSB_ADMIN_PASSWORD'))
);

global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%postname%/');
// Taxonomies are registered on `init`, which WP_INSTALLING skipped: without them the
// flushed rules lack /category/x/ and /tag/x/, which then answer 404.
create_initial_taxonomies();
flush_rewrite_rules(false);

wpsb_result(['user_id' => (int) $result['user_id'], 'url' => $result['url']]);
