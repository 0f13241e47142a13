<?php
/**
 * Plugin Name: Sandbox Helper
 * Plugin URI:  https://example.test/sandbox-helper
 * Description: Part of the wpmigrate sandbox: a shortcode, a private post type and a switch that disables the REST API.
 * Version:     1.2.0
 * Author:      wpmigrate
 * License:     GPL-2.0-or-later
 * Text Domain: sandbox-helper
 */

defined('ABSPATH') || exit;

require_once __DIR__ . '/includes/helpers.php';

add_action('init', static function (): void {
    // Holds the bulk rows of the big postmeta table; never public, like many plugins' data.
    register_post_type('sandbox_record', ['public' => false, 'show_in_rest' => false, 'label' => 'Sandbox records']);
});

add_shortcode('sandbox_contact', 'sandbox_helper_contact');

// The sandbox's "REST API disabled" switch (option sandbox_disable_rest, toggled by
// `python -m wpsandbox source-rest off`), like the security plugins that close it.
if (get_option('sandbox_disable_rest')) {
    add_filter('rest_authentication_errors', static function ($result) {
        return new WP_Error('rest_disabled', 'The REST API is disabled on this site.', ['status' => 401]);
    });
    remove_action('wp_head', 'rest_output_link_wp_head', 10);
    remove_action('template_redirect', 'rest_output_link_header', 11);
}

// Crawl fixtures for the discovery tests; additive and invisible to other clients.
// robots.txt disallows /sandbox-members/ (no content lives there). A crawler whose
// User-Agent contains "wpmigrate-trap-test" also sees a footer link to /sandbox-trap/,
// a page of endless links (next-month calendar, session ids, ?m= and date archives,
// ?replytocom, far pagination, feeds) and of a link into /sandbox-members/.
add_filter('robots_txt', static function ($output) {
    return $output . "Disallow: /sandbox-members/\n";  // before core's Sitemap line (priority 0)
}, -1);

add_action('wp_footer', static function (): void {
    if (str_contains($_SERVER['HTTP_USER_AGENT'] ?? '', 'wpmigrate-trap-test')) {
        echo '<p class="sandbox-trap-link"><a href="' . esc_url(home_url('/sandbox-trap/')) . '">Calendar</a></p>';
    }
});

add_action('template_redirect', static function (): void {
    $path = (string) parse_url($_SERVER['REQUEST_URI'] ?? '', PHP_URL_PATH);
    if (str_starts_with($path, '/sandbox-members/')) {
        status_header(200);
        header('Content-Type: text/html; charset=utf-8');
        echo '<!doctype html><title>Members</title><body class="page page-id-999999"><p>Members only.</p>';
        exit;
    }
    if ($path !== '/sandbox-trap/') {
        return;
    }
    status_header(200);
    header('Content-Type: text/html; charset=utf-8');
    $month = max(0, (int) ($_GET['month'] ?? 0));
    $links = [
        home_url('/sandbox-trap/?month=' . ($month + 1)),
        home_url('/sandbox-trap/?month=' . $month . '&PHPSESSID=' . wp_generate_password(12, false)),
        home_url('/sandbox-trap/?month=' . $month . '&utm_source=trap' . $month),
        home_url('/?m=2021' . sprintf('%02d', $month % 12 + 1)),
        home_url('/2021/03/'),
        home_url('/2021/03/15/'),
        home_url('/block-editor-showcase/?replytocom=' . ($month + 1)),
        home_url('/page/' . (900 + $month) . '/'),
        home_url('/feed/'),
        home_url('/wp-login.php'),
        home_url('/sandbox-members/secret-' . $month . '/'),
    ];
    echo '<!doctype html><html><head><meta charset="utf-8"><title>Calendar</title></head><body class="archive date sandbox-trap">';
    foreach ($links as $link) {
        echo '<a href="' . esc_url($link) . '">' . esc_html($link) . "</a>\n";
    }
    echo '</body></html>';
    exit;
}, 0);
