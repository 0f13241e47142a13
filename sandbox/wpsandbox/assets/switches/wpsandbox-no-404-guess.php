<?php
/**
 * Plugin Name: wpsandbox no 404 guess
 * Description: Switched on by wpsandbox.source_switches.no_404_guess(). A path WordPress has no rule for answers 404, as on a site that turned the guess off: no redirect to a post whose slug the path's last segment starts with (redirect_guess_404_permalink), so an old post path is simply lost.
 */

add_filter('do_redirect_guess_404_permalink', '__return_false');
