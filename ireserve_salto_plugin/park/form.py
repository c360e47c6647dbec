"""The settings form as data a host can render without reading the README: each field's
label and help (nl, en, de), tab, order, widget, read-only and secret flags and choices;
the admin buttons; the export as JSON Schema 2020-12; and the merge that keeps secrets.

Every field of :class:`~.settings.SettingsSchema` carries :func:`field_metadata` in its
marshmallow ``metadata``, so ``config_schema`` alone describes the form. :func:`json_schema`
turns the schema into JSON Schema with apispec (the marshmallow project's converter; OpenAPI
3.1 schemas are JSON Schema 2020-12), with the hints as ``x-`` keywords.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from ireserve_salto_plugin.park.fields import FORM, Action, action_forms, tabs
from ireserve_salto_plugin.park.i18n import LANGUAGES
from ireserve_salto_plugin.park.settings import SettingsSchema, Uuid


def json_schema(actions: tuple[Action, ...]) -> dict[str, Any]:
    """The settings form as JSON Schema 2020-12, with ``x-tabs`` and ``x-actions`` (the
    registry's buttons) at the top and the hints on each property. Secrets are
    ``writeOnly``: a host renders them masked and empty, and stores the form with
    :func:`merge_settings`. Built once per process; each caller gets its own copy."""
    return copy.deepcopy(_json_schema(actions))


@functools.cache
def _json_schema(actions: tuple[Action, ...]) -> dict[str, Any]:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    def inline(_schema: Any) -> Any:
        return None  # nested schemas inline, not as $ref

    plugin = MarshmallowPlugin(schema_name_resolver=inline)
    APISpec("ireserve-salto-plugin", "1", "3.1.0", plugins=[plugin])
    converter: Any = plugin.converter
    converter.field_mapping[Uuid] = ("string", "uuid")
    body: dict[str, Any] = converter.schema2jsonschema(SettingsSchema())
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:ireserve:integration:salto_ks:settings",
        "title": "Salto KS",
        "x-tabs": tabs(actions),
        "x-actions": action_forms(actions),
        "x-languages": list(LANGUAGES),
        **body,
        "additionalProperties": False,
    }


def _empty(value: Any) -> bool:
    return value is None or value == ""


def merge_settings(stored: Any, submitted: Any) -> dict[str, Any]:
    """What a host stores when an admin saves the form: ``submitted``, except that a secret
    left empty keeps the stored value and read-only fields (``site_id``, the IQ block,
    which admin actions write) are always the stored ones. A changed Site UID clears the
    site id (it belongs to the old site; "Resolve site ID" finds the new one).

    Never store ``SettingsSchema().dump(...)`` instead: dumps leave secrets out by design
    (``load_only``), and storing one loses the IQ secret that Salto hands out only once.
    """
    if stored is None:  # a park saving the form for the first time
        stored = {}
    if not isinstance(stored, Mapping) or not isinstance(submitted, Mapping):
        # any mapping a host keeps is read as one; anything else is an error, never a
        # silent {} that drops the IQ secrets and site_id and still validates
        raise TypeError("stored and submitted settings must be mappings")
    old, new = dict(stored), dict(submitted)
    for name, spec in FORM.items():
        if spec.read_only:
            if name in old:
                new[name] = old[name]
            else:
                new.pop(name, None)
        elif spec.secret and _empty(new.get(name)) and name in old:
            new[name] = old[name]
    if old.get("site_uid") != new.get("site_uid"):
        new.pop("site_id", None)
    return new
