<?php
/**
 * Plugin Name: wpsandbox blocked plugin upload (stand-in)
 * Description: Switched on by wpsandbox.source_switches.plugin_upload_blocked(). Like security plugins that hide plugin installation from wp-admin: plugin-install.php sends administrators back to plugins.php (not the dashboard: its Quick Draft box writes an auto-draft post).
 */

add_action('load-plugin-install.php', static function (): void {
    wp_safe_redirect(admin_url('plugins.php'));
    exit;
});
