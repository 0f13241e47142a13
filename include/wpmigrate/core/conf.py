"""The portal's run-conf contract: one JSON schema per mode, shipped with the package.

The DAGs turn each top-level property into an Airflow ``Param`` (so the UI form and
the REST API validate), and tasks re-validate the whole conf with the same schema.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from wpmigrate.core.errors import ErrorCode, MigrationError

FULL_ACCESS = "full_access"
SCRAPE_REBUILD = "scrape_rebuild"
_SCHEMA_FILES = {FULL_ACCESS: "full_access.conf.v1.json", SCRAPE_REBUILD: "scrape_rebuild.conf.v1.json"}
NO_DEFAULT = object()


@cache
def conf_schema(mode: str) -> dict[str, Any]:
    text = resources.files("wpmigrate.core.schemas").joinpath(_SCHEMA_FILES[mode]).read_text()
    return json.loads(text)


def param_specs(mode: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """``{name: (default or NO_DEFAULT, json-schema of the property)}`` for Params."""
    schema = conf_schema(mode)
    specs = {}
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        default = prop.pop("default", NO_DEFAULT)
        specs[name] = (default, prop)
    return specs


def validate_conf(mode: str, conf: dict[str, Any]) -> dict[str, Any]:
    """Validate ``conf`` and return it with the schema's top-level defaults filled in."""
    schema = conf_schema(mode)
    try:
        jsonschema.validate(conf, schema, format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as err:
        path = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise MigrationError(ErrorCode.INVALID_CONF, f"{path}: {err.message}") from None
    filled = {k: v for k, (v, _) in param_specs(mode).items() if v is not NO_DEFAULT}
    filled.update(conf)
    return filled
