"""Serialization-safe search-replace of URLs, shared by the Mode A database import and the Mode B
content import."""
