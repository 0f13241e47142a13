"""Issue 10 items 9 and 10: the conf contract refuses what it used to let through.

Two levels, as in production: each top-level property's schema alone (what Airflow's Params
check when the portal triggers a run: a refusal there is the REST API's 400, before any task
runs) and the whole schema (``validate_conf``, what every task checks first)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from wpmigrate.core.conf import FULL_ACCESS, SCRAPE_REBUILD, conf_schema, param_specs, validate_conf
from wpmigrate.core.errors import ErrorCode, MigrationError

UUID = "6f1c1a86-4a57-4c1e-9a43-3f3b6f0b0c11"


def _mode_a() -> dict[str, Any]:
    return {
        "migration_id": UUID, "tenant_id": "t1", "source_url": "https://old.example.com",
        "source_access": {"sftp_conn_id": "s", "db_conn_id": "d", "wp_root": "/var/www/html",
                          "table_prefix": "wp_"},
        "target": {"provisioner": "existing", "url": "https://new.example.com", "db_conn_id": "t",
                   "wp_content_uri": "file:///srv/wp-content", "table_prefix": "wp_"},
        "notify": {"emails": ["ops@example.com"], "webhook_url": "https://portal.example.com/hook"},
        "schedule": "2026-12-24T22:00:00+01:00",
    }


def _mode_b() -> dict[str, Any]:
    return {
        "migration_id": UUID, "tenant_id": "t1", "source_url": "https://old.example.com",
        "target": {"provisioner": "existing", "url": "https://new.example.com", "wp_conn_id": "w"},
        "theme_preference": "select_theme", "selected_theme": "twentytwentythree/Pilgrimage",
        "notify": {"emails": ["ops@example.com"]}, "schedule": "now",
    }


CONFS = {FULL_ACCESS: _mode_a, SCRAPE_REBUILD: _mode_b}


def _trigger_refuses(mode: str, conf: dict[str, Any]) -> bool:
    """What Airflow's Params do at trigger time: each top-level value against its own schema."""
    specs = param_specs(mode)
    for name, value in conf.items():
        if name not in specs:
            continue  # Airflow keeps an unknown key as a Param without a schema
        try:
            jsonschema.validate(value, specs[name][1], format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError:
            return True
    return False


def _task_refuses(mode: str, conf: dict[str, Any]) -> MigrationError | None:
    try:
        validate_conf(mode, conf)
    except MigrationError as err:
        assert err.code == ErrorCode.INVALID_CONF and err.permanent
        return err
    return None


@pytest.mark.parametrize("mode", [FULL_ACCESS, SCRAPE_REBUILD])
def test_the_valid_confs_pass_both_levels(mode: str) -> None:
    conf = CONFS[mode]()
    assert not _trigger_refuses(mode, conf)
    assert _task_refuses(mode, conf) is None


@pytest.mark.parametrize("mode", [FULL_ACCESS, SCRAPE_REBUILD])
@pytest.mark.parametrize("extra", [{"dryRun": True}, {"password": "hunter2"}, {"contractVersion": 1}])
def test_unknown_top_level_fields_are_refused(mode: str, extra: dict[str, Any]) -> None:
    conf = {**CONFS[mode](), **extra}
    err = _task_refuses(mode, conf)
    assert err is not None and next(iter(extra)) in err.message
    assert "hunter2" not in err.message  # the value of an unknown field is not echoed


def _every_object(schema: dict[str, Any], where: str = "(root)") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if schema.get("type") == "object" or "properties" in schema:
        found.append((where, schema))
    for name, sub in schema.get("properties", {}).items():
        found += _every_object(sub, f"{where}/{name}")
    if isinstance(schema.get("items"), dict):
        found += _every_object(schema["items"], f"{where}[]")
    return found


@pytest.mark.parametrize("mode", [FULL_ACCESS, SCRAPE_REBUILD])
def test_additional_properties_are_refused_at_every_level(mode: str) -> None:
    objects = _every_object(conf_schema(mode))
    assert len(objects) >= 4
    assert [w for w, o in objects if o.get("additionalProperties") is not False] == []


# (mode, path to the field, value): each pattern field of the contract, valid as given.
PATTERN_FIELDS = [
    (FULL_ACCESS, ("migration_id",)), (FULL_ACCESS, ("tenant_id",)), (FULL_ACCESS, ("source_url",)),
    (FULL_ACCESS, ("source_access", "table_prefix")), (FULL_ACCESS, ("target", "table_prefix")),
    (FULL_ACCESS, ("target", "url")), (FULL_ACCESS, ("notify", "emails", 0)), (FULL_ACCESS, ("schedule",)),
    (SCRAPE_REBUILD, ("migration_id",)), (SCRAPE_REBUILD, ("tenant_id",)), (SCRAPE_REBUILD, ("source_url",)),
    (SCRAPE_REBUILD, ("target", "url")), (SCRAPE_REBUILD, ("notify", "emails", 0)),
    (SCRAPE_REBUILD, ("schedule",)), (SCRAPE_REBUILD, ("selected_theme",)),
]


def _set(conf: dict[str, Any], path: tuple[Any, ...], suffix: str) -> None:
    node: Any = conf
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = node[path[-1]] + suffix


@pytest.mark.parametrize(("mode", "path"), PATTERN_FIELDS)
def test_pattern_fields_refuse_a_trailing_newline(mode: str, path: tuple[Any, ...]) -> None:
    conf = CONFS[mode]()
    _set(conf, path, "\n")
    assert _trigger_refuses(mode, conf), path
    assert _task_refuses(mode, conf) is not None, path


@pytest.mark.parametrize("schedule", [
    "2026-13-45T99:99Z", "2026-02-29T10:00Z", "2026-04-31T10:00Z", "2026-01-01T24:00Z",
    "2026-01-01T10:60Z", "2026-01-01T10:00:60Z", "2026-01-01T10:00+24:00", "0000-01-01T00:00Z",
    "2100-02-29T10:00Z", "2026-1-01T10:00Z", "tomorrow",
])
@pytest.mark.parametrize("mode", [FULL_ACCESS, SCRAPE_REBUILD])
def test_impossible_schedule_dates_are_refused_at_trigger_time(mode: str, schedule: str) -> None:
    conf = {**CONFS[mode](), "schedule": schedule}
    assert _trigger_refuses(mode, conf)
    assert _task_refuses(mode, conf) is not None


@pytest.mark.parametrize("schedule", [
    "now", "off_peak", "2028-02-29T10:00Z", "2000-02-29T00:00:00Z", "2026-12-31T23:59:59.123456-05:30",
    "2026-06-30T00:00+14:00", "2026-01-01T10:00:00.5Z",
])
def test_real_schedule_dates_still_pass(schedule: str) -> None:
    conf = {**_mode_a(), "schedule": schedule}
    assert not _trigger_refuses(FULL_ACCESS, conf)
    assert _task_refuses(FULL_ACCESS, conf) is None


@pytest.mark.parametrize("field", ["tenant_id", "source_url", "unknown"])
def test_error_messages_do_not_echo_a_10_kb_value(field: str) -> None:
    big = "x" * 10_240
    conf = _mode_a()
    if field == "unknown":
        conf[big] = True
    elif field == "source_url":
        conf[field] = "https://" + big
    else:
        conf[field] = big
    err = _task_refuses(FULL_ACCESS, conf)
    assert err is not None
    assert len(err.message) < 600, len(err.message)
    assert "10240 characters" in err.message or "characters" in err.message


@pytest.mark.parametrize("tenant", [".", "..", "\n", "./x", "../x", ".\n"])
@pytest.mark.parametrize("mode", [FULL_ACCESS, SCRAPE_REBUILD])
def test_tenant_ids_that_name_a_directory_are_refused(mode: str, tenant: str) -> None:
    conf = {**CONFS[mode](), "tenant_id": tenant}
    assert _trigger_refuses(mode, conf)
    assert _task_refuses(mode, conf) is not None


@pytest.mark.parametrize("tenant", ["t1", "sandbox", "acme.example", "a..b", "...", "_x", "-x", "a" * 64])
def test_ordinary_tenant_ids_still_pass(tenant: str) -> None:
    conf = {**_mode_a(), "tenant_id": tenant}
    assert not _trigger_refuses(FULL_ACCESS, conf)
    assert _task_refuses(FULL_ACCESS, conf) is None


def test_defaults_are_still_filled_in() -> None:
    filled = validate_conf(FULL_ACCESS, copy.deepcopy(_mode_a()))
    assert filled["dry_run"] is False and filled["contract_version"] == 1
