import pytest

from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.wp_config import parse_table_prefix


def test_prefix_from_a_real_looking_config() -> None:
    config = b"<?php\ndefine('DB_NAME', 'x');\n// $table_prefix = 'nope_';\n$table_prefix  = \"wpsrc_\";\n"
    assert parse_table_prefix(config) == "wpsrc_"


def test_config_without_prefix_is_not_wordpress() -> None:
    with pytest.raises(MigrationError) as info:
        parse_table_prefix(b"<?php echo 1;")
    assert info.value.code is ErrorCode.NOT_WORDPRESS
