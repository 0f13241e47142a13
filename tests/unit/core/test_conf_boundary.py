"""The conf boundary: one function reads a task's conf (the whole schema, every default the
schema declares filled in, a typed object back), one rule per field, and the task modules
neither validate nor restate a default nor ask which source route they are on."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from wpmigrate.core.conf import (
    FULL_ACCESS,
    SCRAPE_REBUILD,
    conf_schema,
    field_pattern,
    load_conf,
    param_specs,
)
from wpmigrate.core.conf_model import FullAccessConf, ScrapeRebuildConf
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.package import secret_php

ROOT = Path(__file__).resolve().parents[3]
UUID = "6f1c1a86-4a57-4c1e-9a43-3f3b6f0b0c11"


def _mode_a(**access: Any) -> dict[str, Any]:
    return {"migration_id": UUID, "tenant_id": "t1", "source_url": "https://old.example.com",
            "source_access": access or {"sftp_conn_id": "s", "db_conn_id": "d", "wp_root": "/var/www"},
            "target": {"provisioner": "existing", "url": "https://new.example.com", "db_conn_id": "t",
                       "wp_content_uri": "file:///srv/wp-content"}}


def _mode_b() -> dict[str, Any]:
    return {"migration_id": UUID, "tenant_id": "t1", "source_url": "https://old.example.com",
            "target": {"provisioner": "existing", "url": "https://new.example.com", "wp_conn_id": "w"}}


def _defaults(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Every ``default`` the schema declares, by dotted path, nested objects included."""
    found: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        prop = defs.get(prop.get("$ref", "").removeprefix("#/$defs/"), prop) if "$ref" in prop else prop
        key = f"{path}{name}"
        if "default" in prop:
            found[key] = prop["default"]
        if prop.get("type") == "object":
            found.update(_defaults(prop, defs, key + "."))
    return found


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize(("mode", "model", "conf"), [(FULL_ACCESS, FullAccessConf, _mode_a()),
                                                      (SCRAPE_REBUILD, ScrapeRebuildConf, _mode_b())])
def test_every_default_the_schema_declares_is_filled_in_nested_ones_too(mode, model, conf) -> None:
    schema = conf_schema(mode)
    defaults = _defaults(schema, schema["$defs"])
    assert len(defaults) > 8  # the nested ones are there: route, include_*, max_depth, table_prefix...
    loaded = load_conf(model, conf)
    for dotted, default in defaults.items():
        value = _attr(loaded, dotted)
        if isinstance(default, dict):
            continue  # an object's default is its own properties' defaults, checked one by one
        assert value == (tuple(default) if isinstance(default, list) else default), dotted


def test_the_route_and_the_scope_come_from_the_schema_not_the_code() -> None:
    conf = load_conf(FullAccessConf, _mode_a())
    assert conf.source_access.route == conf_schema(FULL_ACCESS)["properties"]["source_access"][
        "properties"]["route"]["default"]
    scope = load_conf(ScrapeRebuildConf, _mode_b() | {"content_scope": {"max_depth": 2}}).content_scope
    assert scope.max_depth == 2 and scope.include_comments is True


def test_loading_leaves_the_callers_conf_as_it_was() -> None:
    conf = _mode_a()
    before = copy.deepcopy(conf)
    load_conf(FullAccessConf, conf)
    assert conf == before


HOSTILE_IDS = ["x" * 1_000_000, "src\nother", "src\x00", "\x1b[31mred", "tenant/conn", "../airflow_db",
               "..", "-flag", " spaced", ""]


def _trigger_refuses(mode: str, name: str, value: Any) -> bool:
    try:
        jsonschema.validate(value, param_specs(mode)[name][1])
    except jsonschema.ValidationError:
        return True
    return False


@pytest.mark.parametrize("conn_id", HOSTILE_IDS, ids=lambda v: repr(v[:20]))
@pytest.mark.parametrize("field", ["sftp_conn_id", "db_conn_id"])
def test_a_connection_id_takes_one_plain_form_at_both_levels(field: str, conn_id: str) -> None:
    conf = _mode_a()
    conf["source_access"][field] = conn_id
    assert _trigger_refuses(FULL_ACCESS, "source_access", conf["source_access"])
    with pytest.raises(MigrationError) as refused:
        load_conf(FullAccessConf, conf)
    assert refused.value.code is ErrorCode.INVALID_CONF and len(refused.value.message) < 500


@pytest.mark.parametrize("conn_id", HOSTILE_IDS[:5], ids=lambda v: repr(v[:20]))
def test_target_connection_ids_too(conn_id: str) -> None:
    conf = _mode_b()
    conf["target"]["wp_conn_id"] = conn_id
    assert _trigger_refuses(SCRAPE_REBUILD, "target", conf["target"])
    with pytest.raises(MigrationError):
        load_conf(ScrapeRebuildConf, conf)


@pytest.mark.parametrize("path", ["/srv/www\n", "/srv/\x00www", "relative/www", "/srv/\x1b[0m"])
def test_source_paths_are_absolute_and_plain(path: str) -> None:
    conf = _mode_a(sftp_conn_id="s", db_conn_id="d", wp_root=path)
    with pytest.raises(MigrationError):
        load_conf(FullAccessConf, conf)


def test_a_login_and_a_manual_secret_together_are_refused() -> None:
    """With a login the plugin's secret is always derived: a conf cannot also name a
    connection whose password would go into the zip."""
    both = _mode_a(route="wp_admin", wp_conn_id="admin", companion_conn_id="manual")
    assert _trigger_refuses(FULL_ACCESS, "source_access", both["source_access"])
    with pytest.raises(MigrationError):
        load_conf(FullAccessConf, both)
    for one in ({"wp_conn_id": "admin"}, {"companion_conn_id": "manual"}):
        assert load_conf(FullAccessConf, _mode_a(route="wp_admin", **one)).source_access.route == "wp_admin"


def test_one_rule_per_field_in_both_modes_and_in_the_companion_package() -> None:
    assert conf_schema(FULL_ACCESS)["$defs"] == conf_schema(SCRAPE_REBUILD)["$defs"]
    assert field_pattern("migration_id").search(UUID)
    for not_a_uuid in ("m-1", "../x", UUID + "\n", "x" * 100):
        assert not field_pattern("migration_id").search(not_a_uuid)
        with pytest.raises(ValueError):
            secret_php("0" * 64, idle_seconds=60, migration_id=not_a_uuid)


TASK_MODULES = [ROOT / "plugins" / "wpmigrate_airflow" / name
                for name in ("full_access.py", "scrape_rebuild.py")]


@pytest.mark.parametrize("module", TASK_MODULES, ids=lambda p: p.name)
def test_task_modules_neither_validate_nor_restate_defaults_nor_switch_on_the_route(module: Path) -> None:
    tree = ast.parse(module.read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not {"validate_conf", "load_conf", "params"} & names
    assert "route" not in attrs  # the route is read in source_routes.route_for only
    # No conf lookups with a fallback (a restated default): conf is typed, not a dict.
    gets = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "get" and isinstance(n.func.value, ast.Attribute)
            and isinstance(n.func.value.value, ast.Name) and n.func.value.value.id == "conf"]
    assert not gets
