"""The portal's run-conf contract: one JSON schema per mode, shipped with the package.

The DAGs turn each top-level property into an Airflow ``Param`` (so the UI form and
the REST API validate). A task reads its conf once, through ``load_conf``: the whole
schema checked, every default it declares filled in (nested ones too), a typed object
back. Each field's rule lives once, in the schema's ``$defs``; ``field_pattern`` hands
it to the code that must apply the same rule (artifact paths, the companion package).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, overload

import jsonschema
from jsonschema.protocols import Validator

from wpmigrate.core.conf_model import FullAccessConf, RunConf, ScrapeRebuildConf, from_filled
from wpmigrate.core.errors import ErrorCode, MigrationError

FULL_ACCESS = "full_access"
SCRAPE_REBUILD = "scrape_rebuild"
_SCHEMA_FILES = {FULL_ACCESS: "full_access.conf.v1.json", SCRAPE_REBUILD: "scrape_rebuild.conf.v1.json"}
NO_DEFAULT = object()


@cache
def conf_schema(mode: str) -> dict[str, Any]:
    text = resources.files("wpmigrate.core.schemas").joinpath(_SCHEMA_FILES[mode]).read_text()
    return json.loads(text)


def _inlined(node: Any, defs: Mapping[str, Any]) -> Any:
    """``node`` with every local ``{"$ref": "#/$defs/X", ...}`` replaced by ``X`` (plus the
    sibling keywords): a Param checks one property alone, without the document's ``$defs``."""
    if isinstance(node, list):
        return [_inlined(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inlined(v, defs) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        out = {**_inlined(defs[ref.removeprefix("#/$defs/")], defs), **out}
    return out


def field_pattern(name: str, mode: str = FULL_ACCESS) -> re.Pattern[str]:
    """The schema's rule for field ``name`` (``$defs``), compiled: the one rule every
    other place applies to the same value."""
    return re.compile(conf_schema(mode)["$defs"][name]["pattern"])


def param_specs(mode: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """``{name: (default or NO_DEFAULT, json-schema of the property)}`` for Params."""
    schema = conf_schema(mode)
    defs = schema.get("$defs", {})
    specs = {}
    for name, prop in schema["properties"].items():
        prop = _inlined(prop, defs)
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


def _filling_defaults(cls: type[Validator]) -> type[Validator]:
    """A validator class that also fills in, on the instance, every ``default`` of a
    ``properties`` keyword it walks (nested objects too, once their own default is in)."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator: Any, props: dict[str, Any], instance: Any,
                   schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
        if validator.is_type(instance, "object"):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": properties})


@cache
def _validator(mode: str) -> Validator:
    schema = conf_schema(mode)
    cls = _filling_defaults(jsonschema.validators.validator_for(schema))
    return cls(schema, format_checker=jsonschema.FormatChecker())


def validate_conf(mode: str, conf: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``conf``, validated against the whole schema, with every default the
    schema declares filled in (nested ones too).

    ``MigrationError(INVALID_CONF)`` (permanent) names the field and the rule; a long value
    is shortened in the message."""
    filled = copy.deepcopy(dict(conf))
    error = jsonschema.exceptions.best_match(_validator(mode).iter_errors(filled))
    if error is not None:
        raise MigrationError(ErrorCode.INVALID_CONF, _error_message(error))
    _check_schedule(filled)
    return filled


_MODELS: dict[str, type[FullAccessConf] | type[ScrapeRebuildConf]] = {
    FULL_ACCESS: FullAccessConf, SCRAPE_REBUILD: ScrapeRebuildConf}


@overload
def load_conf(mode: type[FullAccessConf], params: Mapping[str, Any]) -> FullAccessConf: ...
@overload
def load_conf(mode: type[ScrapeRebuildConf], params: Mapping[str, Any]) -> ScrapeRebuildConf: ...
@overload
def load_conf(mode: str, params: Mapping[str, Any]) -> RunConf: ...
def load_conf(mode: Any, params: Mapping[str, Any]) -> RunConf:
    """The one way a task reads its conf: validated once, defaults filled, typed.
    ``mode``: the model class (``FullAccessConf``) or the mode's name."""
    model = _MODELS[mode] if isinstance(mode, str) else mode
    return from_filled(model, validate_conf(model.mode, params))
