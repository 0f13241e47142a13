"""Scraped HTML: page fields, the sanitiser and media references."""
