"""Mode A (full access): database and wp-content export/import, verification, stats."""
