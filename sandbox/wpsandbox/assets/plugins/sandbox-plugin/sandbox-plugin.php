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
