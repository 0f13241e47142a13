"""The wp_admin route's companion plugin: wp-admin automation that installs and removes it."""
