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
from dataclasses import dataclass
from typing import Any

from .i18n import LANGUAGES, translate

TABS: tuple[tuple[str, str], ...] = (
    ("authentication", "Authentication"),
    ("iq_otp", "Activate IQs"),
    ("details", "Details"),
    ("mapping", "Mapping"),
)
WIDGETS = ("text", "password", "select", "multiselect", "number", "checkbox", "iq_table",
           "mapping_table")


@dataclass(frozen=True, slots=True)
class FieldForm:
    tab: str
    widget: str
    label: str  # English message id (:mod:`.i18n`)
    help: str
    read_only: bool = False
    secret: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, English label)
    # Where a select's options come from when they are not fixed ``choices``: a list the
    # host has (``host:booking_statuses``, ``host:booking_fields``, ``host:objects``) or a
    # hook of the plugin (``hook:mapping_options``).
    options_source: str | None = None


# In the order of the form; the tab's fields are shown in this order.
FORM: dict[str, FieldForm] = {
    "environment": FieldForm(
        "authentication", "select", "Environment",
        "Acceptance or production: each has its own Salto KS account, site and IQs.",
        choices=(("acceptance", "Acceptance"), ("production", "Production"))),
    "username": FieldForm(
        "authentication", "text", "Username",
        "The Salto KS account (e-mail address) the plugin logs in with: a dedicated service "
        "account with the right to open remotely, never used in the Salto KS app (activating "
        "it there changes the IQ secret, and the plugin can no longer sign opens)."),
    "password": FieldForm(
        "authentication", "password", "Password",
        "The Salto KS account's password. Leave empty to keep the stored one.", secret=True),
    "site_uid": FieldForm(
        "authentication", "text", "Site UID",
        "The site's UID as Salto KS shows it, e.g. NL6254340082."),
    "site_id": FieldForm(
        "authentication", "text", "Site ID", "Filled in by 'Resolve site ID'; not editable.",
        read_only=True),
    "iqs": FieldForm(
        "iq_otp", "iq_table", "IQs",
        "The IQ gateways activated for this account; secret and PIN are set by GET PIN and "
        "Set PIN.", read_only=True, secret=True),
    "enabled": FieldForm(
        "details", "checkbox", "Enabled", "Open Salto KS locks for this park's bookings."),
    "open_statuses": FieldForm(
        "details", "multiselect", "Opening statuses",
        "Booking statuses that allow opening the door.",
        options_source="host:booking_statuses"),
    "minutes_before": FieldForm(
        "details", "number", "Minutes before",
        "How many minutes before the booking's start the door may be opened."),
    "open_field": FieldForm(
        "details", "text", "Open time field",
        "A booking field that receives the time of each successful opening (optional).",
        options_source="host:booking_fields"),
    "checkin_status": FieldForm(
        "details", "select", "Check-in status",
        "The status a booking moves to after it opened a door (optional).",
        options_source="host:booking_statuses"),
    "guest_address": FieldForm(
        "details", "select", "Dutch guests are addressed as",
        "Dutch texts for guests say \"je\" (default) or \"u\". German texts always say "
        "\"Sie\".", choices=(("je", "je"), ("u", "u"))),
    "mapping": FieldForm(
        "mapping", "mapping_table", "Mapping",
        "Which Salto KS lock belongs to each object (accommodation).",
        options_source="host:objects"),
    "default_lock_id": FieldForm(
        "mapping", "select", "Default lock",
        "The lock used for objects without a mapping (optional).",
        options_source="hook:mapping_options"),
}


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # as passed to on_admin_action
    label: str
    tab: str
    params: tuple[str, ...] = ()  # what the button asks for (``params`` of the hook)
    changes: tuple[str, ...] = ()  # settings it writes back (``settings_update``)


ACTIONS: tuple[Action, ...] = (
    Action("test_connection", "Test / request access", "authentication"),
    Action("resolve_site", "Resolve site ID", "authentication", changes=("site_id",)),
    Action("get_pin", "GET PIN", "iq_otp", ("iq_id",), ("iqs",)),
    Action("set_pin", "Set PIN", "iq_otp", ("iq_id", "current_pin", "new_pin"), ("iqs",)),
    Action("forget_iq", "Forget IQ", "iq_otp", ("iq_id",), ("iqs",)),
    Action("list_iqs", "List IQs", "iq_otp"),
    Action("self_test", "Cloud check of the IQ codes", "iq_otp", ("iq_id",)),
    Action("test_open", "Test open of one lock", "iq_otp", ("lock_id", "requested_by")),
    Action("refresh_locks", "Refresh locks", "mapping"),
    Action("status", "Integration status", "details"),
    Action("recent_opens", "Recent opens", "details", ("count", "lock_id")),
    Action("confirm_open", "Confirm an open", "details", ("attempt_id", "lock_id", "time")),
)


def texts(message: str) -> dict[str, str]:
    """``message`` in every language: ``{"en": …, "nl": …, "de": …}``."""
    return {lang: translate(message, lang) for lang in LANGUAGES}


def field_metadata(name: str) -> dict[str, Any]:
    """The marshmallow ``metadata`` of settings field ``name``: JSON Schema keywords
    (``title``, ``description``, ``readOnly``, ``writeOnly``) and ``x-`` hints."""
    spec = FORM[name]
    meta: dict[str, Any] = {
        "title": spec.label, "description": spec.help,
        "x-label": texts(spec.label), "x-help": texts(spec.help), "x-tab": spec.tab,
        "x-order": list(FORM).index(name) + 1, "x-widget": spec.widget,
        "x-secret": spec.secret,
    }
    if spec.read_only:
        meta["readOnly"] = True
    if spec.secret and not spec.read_only:
        meta["writeOnly"] = True  # never sent back to the browser
    if spec.choices:
        meta["x-choices"] = [{"value": value, "label": texts(label)}
                             for value, label in spec.choices]
    if spec.options_source:
        meta["x-options-source"] = spec.options_source
    return meta


def tabs() -> list[dict[str, Any]]:
    return [{"name": name, "label": texts(label),
             "fields": [field for field, spec in FORM.items() if spec.tab == name],
             "actions": [action.name for action in ACTIONS if action.tab == name]}
            for name, label in TABS]


def actions() -> list[dict[str, Any]]:
    return [{"name": a.name, "label": texts(a.label), "tab": a.tab, "params": list(a.params),
             "changes": list(a.changes)} for a in ACTIONS]


def json_schema() -> dict[str, Any]:
    """The settings form as JSON Schema 2020-12, with ``x-tabs`` and ``x-actions`` at the
    top and the hints on each property. Secrets are ``writeOnly``: a host renders them
    masked and empty, and stores the form with :func:`merge_settings`. Built once per
    process; each caller gets its own copy."""
    return copy.deepcopy(_json_schema())


@functools.cache
def _json_schema() -> dict[str, Any]:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    from .settings import SettingsSchema, Uuid

    def inline(_schema: Any) -> Any:
        return None  # nested schemas inline, not as $ref

    plugin = MarshmallowPlugin(schema_name_resolver=inline)
    APISpec("ireserve-salto-plugin", "1", "3.1.0", plugins=[plugin])
    converter: Any = plugin.converter
    converter.field_mapping[Uuid] = ("string", "uuid")
    body: dict[str, Any] = converter.schema2jsonschema(SettingsSchema())
    body.pop("description", None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:ireserve:integration:salto_ks:settings",
            "title": "Salto KS", "x-tabs": tabs(), "x-actions": actions(),
            "x-languages": list(LANGUAGES), **body, "additionalProperties": False}


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

