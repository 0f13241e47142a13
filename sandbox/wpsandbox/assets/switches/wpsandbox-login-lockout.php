<?php
/**
 * Plugin Name: wpsandbox login lockout (stand-in)
 * Description: Switched on by wpsandbox.source_switches.login_locked_out(). Like Limit Login Attempts after too many failures: every login on wp-login.php is refused, right password or not.
 */

add_filter('authenticate', static function ($user) {
    if (($GLOBALS['pagenow'] ?? '') !== 'wp-login.php' || empty($_POST['log'])) {
        return $user;
    }
    return new WP_Error('too_many_retries',
        '<strong>Error:</strong> Too many failed login attempts. Please try again in 20 minutes.');
}, 99);
