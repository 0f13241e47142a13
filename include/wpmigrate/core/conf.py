"""The portal's run-conf contract: one JSON schema per mode, shipped with the package.

The DAGs turn each top-level property into an Airflow ``Param`` (so the UI form and
the REST API validate), and tasks re-validate the whole conf with the same schema.
"""

from __future__ import annotations

import json
from datetime import datetime
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


# An error message names the offending value, but never echoes a long one whole (a 10 KB
# field would land in the task log, the error XCom and the portal).
_MAX_VALUE_CHARS = 80
_MAX_MESSAGE_CHARS = 300


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _error_message(err: jsonschema.ValidationError) -> str:
    path = _shortened("/".join(str(p) for p in err.absolute_path) or "(root)", _MAX_VALUE_CHARS)
    message = err.message
    shown = repr(err.instance)
    if len(shown) > _MAX_VALUE_CHARS:
        message = message.replace(shown, _shortened(shown, _MAX_VALUE_CHARS))
    return f"{path}: {_shortened(message, _MAX_MESSAGE_CHARS)}"


def _check_schedule(conf: dict[str, Any]) -> None:
    """The schema's pattern already refuses impossible dates (so the REST API answers 400);
    the date is parsed here too, as the tasks will parse it."""
    schedule = conf.get("schedule")
    if isinstance(schedule, str) and schedule not in ("now", "off_peak"):
        try:
            datetime.fromisoformat(schedule.replace("Z", "+00:00"))
        except ValueError as exc:
            shown = _shortened(repr(schedule), _MAX_VALUE_CHARS)
            raise MigrationError(ErrorCode.INVALID_CONF, f"schedule: {shown} is not a date: {exc}") from None


def validate_conf(mode: str, conf: dict[str, Any]) -> dict[str, Any]:
    """Validate ``conf`` and return it with the schema's top-level defaults filled in.

    ``MigrationError(INVALID_CONF)`` (permanent) names the field and the rule; a long value
    is shortened in the message."""
    schema = conf_schema(mode)
    try:
        jsonschema.validate(conf, schema, format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as err:
        raise MigrationError(ErrorCode.INVALID_CONF, _error_message(err)) from None
    _check_schedule(conf)
    filled = {k: v for k, (v, _) in param_specs(mode).items() if v is not NO_DEFAULT}
    filled.update(conf)
    return filled
