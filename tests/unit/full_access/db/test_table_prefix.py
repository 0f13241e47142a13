"""Table selection and prefix mapping (pure functions)."""

from __future__ import annotations

import pytest

from wpmigrate.full_access.db.importer import temp_name
from wpmigrate.full_access.db.table_prefix import (
    CORE_TABLES,
    map_option_name,
    map_references,
    map_table_name,
    map_usermeta_key,
    rename_create_table,
    select_site_tables,
    split_foreign_keys,
    unprefixed,
    validate_prefix,
)


def core(prefix: str) -> list[str]:
    return [prefix + t for t in CORE_TABLES]


def test_select_takes_core_and_plugin_tables_of_the_prefix_only() -> None:
    tables = [*core("wp_"), "wp_wc_orders", "wp_yoast_indexable", *core("wpsrc_"), "other_table"]
    assert select_site_tables(tables, "wp_") == sorted([*core("wp_"), "wp_wc_orders", "wp_yoast_indexable"])
    assert select_site_tables(tables, "wpsrc_") == sorted(core("wpsrc_"))


def test_select_excludes_another_install_whose_prefix_extends_ours() -> None:
    tables = [*core("wp_"), *core("wp_source_"), "wp_source_plugin_log", "wp_sourcemap_cache"]
    got = select_site_tables(tables, "wp_")
    assert "wp_source_posts" not in got and "wp_source_plugin_log" not in got
    # a plugin table that only looks similar stays (no options+posts pair behind it)
    assert "wp_sourcemap_cache" in got
    assert set(core("wp_")) <= set(got)
    assert select_site_tables(tables, "wp_source_") == sorted([*core("wp_source_"), "wp_source_plugin_log"])


def test_select_keeps_multisite_subsites_but_not_without_network() -> None:
    subsite = ["wp_2_options", "wp_2_posts", "wp_2_postmeta"]
    assert set(subsite) <= set(select_site_tables([*core("wp_"), "wp_blogs", *subsite], "wp_"))
    assert not set(subsite) & set(select_site_tables([*core("wp_"), *subsite], "wp_"))


def test_table_names() -> None:
    assert map_table_name("wpsrc_posts", "wpsrc_", "wp_") == "wp_posts"
    assert map_table_name("wpsrc_wpsrc_x", "wpsrc_", "wp_") == "wp_wpsrc_x"  # only the leading one
    with pytest.raises(ValueError):
        map_table_name("wp_posts", "wpsrc_", "wp_")
    assert unprefixed("wpsrc_posts", "wpsrc_") == "posts"
    assert unprefixed("wpsrc_3_posts", "wpsrc_") == "posts"
    assert unprefixed("wpsrc_2fa_codes", "wpsrc_") == "2fa_codes"


def test_option_names() -> None:
    assert map_option_name(b"wpsrc_user_roles", "wpsrc_", "wp_") == b"wp_user_roles"
    assert map_option_name(b"wpsrc_2_user_roles", "wpsrc_", "wp_") == b"wp_2_user_roles"
    # not the prefix-derived option: untouched, even when it starts with the prefix
    assert map_option_name(b"wpsrc_settings", "wpsrc_", "wp_") == b"wpsrc_settings"
    assert map_option_name(b"my_wpsrc_user_roles", "wpsrc_", "wp_") == b"my_wpsrc_user_roles"
    assert map_option_name(b"wp_page_for_privacy_policy", "wpsrc_", "wp_") == b"wp_page_for_privacy_policy"
    # a stale copy under the target prefix would collide with the mapped one
    assert map_option_name(b"wp_user_roles", "wpsrc_", "wp_") is None
    assert map_option_name(b"wp_user_roles", "wp_", "wp_") == b"wp_user_roles"


@pytest.mark.parametrize("suffix", [b"capabilities", b"user_level", b"user-settings", b"user-settings-time",
                                    b"dashboard_quick_press_last_post_id", b"2_capabilities",
                                    b"some_plugin_per_site_key"])
def test_usermeta_keys_with_the_prefix_are_mapped(suffix: bytes) -> None:
    assert map_usermeta_key(b"wpsrc_" + suffix, "wpsrc_", "wp_") == b"wp_" + suffix


def test_usermeta_keys_without_a_leading_prefix_are_untouched() -> None:
    for key in (b"nickname", b"my_wpsrc_capabilities", b"_application_passwords", b"session_tokens",
                b"wp_statistics_seen"):
        assert map_usermeta_key(key, "wpsrc_", "wp_") == key
    assert map_usermeta_key(b"wp_capabilities", "wp_", "wp_") == b"wp_capabilities"
    # overlapping prefixes: only the leading source prefix is replaced, once
    assert map_usermeta_key(b"wp_capabilities", "wp_", "wp_x_") == b"wp_x_capabilities"
    assert map_usermeta_key(b"wp_x_capabilities", "wp_x_", "wp_") == b"wp_capabilities"


def test_stale_privilege_keys_under_the_target_prefix_are_dropped() -> None:
    assert map_usermeta_key(b"wp_capabilities", "wpsrc_", "wp_") is None
    assert map_usermeta_key(b"wp_user_level", "wpsrc_", "wp_") is None
    assert map_usermeta_key(b"wp_3_capabilities", "wpsrc_", "wp_") is None


def test_create_table_rename_and_foreign_keys() -> None:
    sql = ("CREATE TABLE `wpsrc_orders` (\n  `id` int NOT NULL,\n  `item` int NOT NULL,\n"
           "  PRIMARY KEY (`id`),\n  KEY `item` (`item`),\n"
           "  CONSTRAINT `fk_item` FOREIGN KEY (`item`) REFERENCES `wpsrc_items` (`id`) ON DELETE CASCADE\n"
           ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    mapped = map_references(sql, "wpsrc_", "wp_")
    assert "REFERENCES `wp_items`" in mapped
    body, fks = split_foreign_keys(mapped)
    assert fks == ["CONSTRAINT `fk_item` FOREIGN KEY (`item`) REFERENCES `wp_items` (`id`) ON DELETE CASCADE"]
    assert "FOREIGN KEY" not in body and body.count("KEY `item` (`item`)\n)") == 1
    renamed = rename_create_table(body, "_wpm_new_wp_orders")
    assert renamed.startswith("CREATE TABLE `_wpm_new_wp_orders` (")
    with pytest.raises(ValueError):
        rename_create_table("CREATE VIEW `x` AS SELECT 1", "y")


def test_temp_names_fit_mysql_identifier_limit() -> None:
    assert temp_name("_wpm_new_", "wp_posts") == "_wpm_new_wp_posts"
    long = "wp_" + "x" * 61
    a, b = temp_name("_wpm_new_", long), temp_name("_wpm_new_", long[:-1] + "y")
    assert len(a) <= 64 and a.startswith("_wpm_new_") and a != b


def test_prefix_validation() -> None:
    assert validate_prefix("wp_") == "wp_"
    for bad in ("", "wp-", "wp_`;", "wp %"):
        with pytest.raises(ValueError):
            validate_prefix(bad)
