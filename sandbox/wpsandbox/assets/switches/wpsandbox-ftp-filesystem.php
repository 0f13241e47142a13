<?php
/**
 * Plugin Name: wpsandbox FTP filesystem (stand-in)
 * Description: Switched on by wpsandbox.source_switches.filesystem_needs_credentials(). As on a host whose files PHP may not write, WordPress uses FTP for plugin installs and asks the admin for FTP credentials.
 */

add_filter('filesystem_method', static fn () => 'ftpext');
