<?php
/**
 * Plugin Name: wpsandbox second factor (stand-in)
 * Description: Switched on by wpsandbox.source_switches.second_factor(). Like two-factor plugins, a correct password does not log in: wp-login.php answers with a form asking for a one-time code. No code is ever accepted, and nothing is stored (no session is created).
 */

add_filter('authenticate', static function ($user) {
    if (!($user instanceof WP_User) || ($GLOBALS['pagenow'] ?? '') !== 'wp-login.php') {
        return $user;
    }
    // Runs inside wp-login.php, so its page functions are there, as for the Two Factor plugin.
    login_header(__('Log In'), '<p class="message">Enter the code from your authenticator app.</p>');
    ?>
    <form name="validate_2fa_form" id="loginform" action="<?php echo esc_url(site_url('wp-login.php?action=validate_2fa', 'login_post')); ?>" method="post" autocomplete="off">
        <input type="hidden" name="wp-auth-id" value="<?php echo (int) $user->ID; ?>">
        <p>
            <label for="authcode">Authentication Code:</label>
            <input type="text" inputmode="numeric" name="authcode" id="authcode" class="input" value="" size="20" autocomplete="one-time-code">
        </p>
        <p class="submit"><input type="submit" name="wp-submit" id="wp-submit" class="button button-primary" value="Log In"></p>
    </form>
    <?php
    login_footer('authcode');
    exit;
}, 99);
