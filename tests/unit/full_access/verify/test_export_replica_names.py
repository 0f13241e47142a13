"""Replica table names (``verify.export_replica``): inside the staging namespace that
``drop_staging_tables`` cleans, apart from the import's own staging, within 64 chars."""

from __future__ import annotations

import re

import pytest

from wpmigrate.full_access.db.importer import NEW, OLD, REPLICA, STAGING_PREFIXES, temp_name
from wpmigrate.full_access.db.table_prefix import validate_prefix
from wpmigrate.full_access.verify.export_replica import new_replica_prefix, replica_table


def test_replica_prefixes_are_fresh_valid_and_cleaned_up() -> None:
    prefixes = {new_replica_prefix() for _ in range(50)}
    assert len(prefixes) == 50
    for prefix in prefixes:
        assert re.fullmatch(r"_wpm_rep_[0-9a-f]{6}_", prefix)
        assert validate_prefix(prefix) == prefix
        assert prefix.startswith(STAGING_PREFIXES) and not prefix.startswith((NEW, OLD))


@pytest.mark.parametrize("table", ["wp_posts", "rep_posts", "_wpm_rep_x", "x" * 64])
def test_import_staging_never_takes_a_replica_name(table: str) -> None:
    assert not temp_name(NEW, table).startswith(REPLICA)
    assert not temp_name(OLD, table).startswith(REPLICA)


def test_replica_table_names() -> None:
    prefix = "_wpm_rep_0a1b2c_"
    assert replica_table("wpsrc_posts", "wpsrc_", prefix) == "_wpm_rep_0a1b2c_posts"
    assert replica_table("wpsrc_2_options", "wpsrc_", prefix) == "_wpm_rep_0a1b2c_2_options"
    fits = "wp_" + "x" * (64 - len(prefix))
    assert replica_table(fits, "wp_", prefix) == prefix + "x" * (64 - len(prefix))
    assert replica_table(fits + "y", "wp_", prefix) is None  # not replicated, never truncated
    with pytest.raises(ValueError):
        replica_table("other_posts", "wpsrc_", prefix)
