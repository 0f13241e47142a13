"""The platform's target site, reached as the platform's service user: its REST API (both modes
check access through it; Mode B rebuilds through it)."""
