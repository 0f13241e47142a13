"""Mode B (scrape and rebuild): discovery, scraping, media, theme matching, the REST rebuild and its
verification."""
