<?php
/**
 * Plugin Name: Sandbox must-use plugin
 * Description: Adds an X-Sandbox-MU header, which shows that mu-plugins were migrated.
 */
add_action('send_headers', static function (): void {
    header('X-Sandbox-MU: 1');
});
