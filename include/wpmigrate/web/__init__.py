"""Talking to a source over HTTP safely: the SSRF guard, the source probe and URL keys."""
