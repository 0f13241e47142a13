<?php
/**
 * Plugin Name: wpsandbox DISALLOW_FILE_MODS
 * Description: Switched on by wpsandbox.source_switches.disallow_file_mods(). Core reads the constant when it checks capabilities, after must-use plugins load, so this acts as the line in wp-config.php does: no plugin or theme installs, updates, deletions or edits in wp-admin.
 */

if (!defined('DISALLOW_FILE_MODS')) {
    define('DISALLOW_FILE_MODS', true);
}
