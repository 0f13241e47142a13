"""Mode A's ``wp_admin`` route: the companion plugin this project ships, the wp-admin
automation that installs and removes it, its signed client, and the exports that turn its
answers into the artifacts ``export_database`` and ``export_files`` write."""
