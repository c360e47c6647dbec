"""The settings form's fields and what names them: each field's label and help (nl, en,
de), tab, order, widget, read-only and secret flags, choices and where its options come
from; the admin buttons; and :class:`SettingsError`, whose text names fields by those
labels. Read by the schema (:mod:`.settings`) and the form export (:mod:`.form`) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ireserve_salto_plugin.park.i18n import LANGUAGES, N_, translate

ERROR_KEY_CHARS = 40  # a field name in an error text is cut to this
WHOLE_SETTINGS = N_("settings")  # an error of the settings as a whole names them so


TABS: tuple[tuple[str, str], ...] = (
    ("authentication", N_("Authentication")),
    ("iq_otp", N_("Activate IQs")),
    ("details", N_("Details")),
    ("mapping", N_("Mapping")),
)
WIDGETS = (
    "text",
    "password",
    "select",
    "multiselect",
    "number",
    "checkbox",
    "iq_table",
    "mapping_table",
    "lock_labels",
    "texts",
)


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
        "authentication",
        "select",
        N_("Environment"),
        N_("Acceptance or production: each has its own Salto KS account, site and IQs."),
        choices=(("acceptance", N_("Acceptance")), ("production", N_("Production"))),
    ),
    "username": FieldForm(
        "authentication",
        "text",
        N_("Username"),
        N_(
            "The Salto KS account (e-mail address) the plugin logs in with: a dedicated service "
            "account with the right to open remotely, never used in the Salto KS app (activating "
            "it there changes the IQ secret, and the plugin can no longer sign opens)."
        ),
    ),
    "password": FieldForm(
        "authentication",
        "password",
        N_("Password"),
        N_("The Salto KS account's password. Leave empty to keep the stored one."),
        secret=True,
    ),
    "site_uid": FieldForm(
        "authentication",
        "text",
        N_("Site UID"),
        N_("The site's UID as Salto KS shows it, e.g. NL6254340082."),
    ),
    "site_id": FieldForm(
        "authentication",
        "text",
        N_("Site ID"),
        N_("Filled in by 'Resolve site ID'; not editable."),
        read_only=True,
    ),
    "iqs": FieldForm(
        "iq_otp",
        "iq_table",
        N_("IQs"),
        N_(
            "The site's IQ gateways and whether each is activated for this account: GET PIN, "
            "then Set PIN with the PIN from Salto's e-mail. A test open of one of its locks "
            "proves the IQ itself takes the codes."
        ),
        read_only=True,
        secret=True,
    ),
    "enabled": FieldForm(
        "details", "checkbox", N_("Enabled"), N_("Open Salto KS locks for this park's bookings.")
    ),
    "open_statuses": FieldForm(
        "details",
        "multiselect",
        N_("Opening statuses"),
        N_("Booking statuses that allow opening the door."),
        options_source="host:booking_statuses",
    ),
    "minutes_before": FieldForm(
        "details",
        "number",
        N_("Minutes before"),
        N_("How many minutes before the booking's start the door may be opened."),
    ),
    "minutes_after": FieldForm(
        "details",
        "number",
        N_("Minutes after"),
        N_(
            "How many minutes after the booking's end the door may still be opened (a guest "
            "back for a forgotten charger)."
        ),
    ),
    "open_field": FieldForm(
        "details",
        "text",
        N_("Open time field"),
        N_("A booking field that receives the time of each successful opening (optional)."),
        options_source="host:booking_fields",
    ),
    "checkin_status": FieldForm(
        "details",
        "select",
        N_("Check-in status"),
        N_("The status a booking moves to after it opened a door (optional)."),
        options_source="host:booking_statuses",
    ),
    "guest_address": FieldForm(
        "details",
        "select",
        N_("Dutch guests are addressed as"),
        N_('Dutch texts for guests say "je" (default) or "u". German texts always say "Sie".'),
        choices=(("je", N_("je")), ("u", N_("u"))),
    ),
    "staff_open_enabled": FieldForm(
        "details",
        "checkbox",
        N_("Staff opens"),
        N_(
            "Reception may open any lock of the site without a booking (housekeeping, "
            "maintenance), with a reason; each such open is logged."
        ),
    ),
    "reception_phone": FieldForm(
        "details",
        "text",
        N_("Reception phone"),
        N_("Shown to a guest whose door cannot be opened online (optional)."),
    ),
    "guest_fallback_text": FieldForm(
        "details",
        "texts",
        N_("Text for guests when the door cannot open"),
        N_(
            "Per language (nl, en, de): what a guest should do when the door cannot be opened "
            "online; replaces the reception phone's sentence (optional)."
        ),
    ),
    "mapping": FieldForm(
        "mapping",
        "mapping_table",
        N_("Mapping"),
        N_(
            "Which Salto KS lock belongs to each object (accommodation); an object may have "
            "several doors (the chalet, then its shed): its first lock is its own."
        ),
        options_source="host:objects",
    ),
    "default_lock_id": FieldForm(
        "mapping",
        "select",
        N_("Default lock"),
        N_("The lock used for objects without a mapping (optional)."),
        options_source="hook:mapping_options",
    ),
    "common_locks": FieldForm(
        "mapping",
        "lock_labels",
        N_("Common doors"),
        N_(
            "Doors every booking may open while it may open its own: the barrier, the "
            "sanitary building, the pool. A label per door (optional)."
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class Action:
    """An admin button, declared once (the registry is ``admin.actions.ACTIONS``): the
    form export, the dispatch of ``on_admin_action`` and the docs' tests all read it."""

    name: str  # as passed to on_admin_action
    label: str
    tab: str
    params: tuple[str, ...] = ()  # what the button asks for (``params`` of the hook)
    changes: tuple[str, ...] = ()  # settings it writes back (``settings_update``)
    run: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


def texts(message: str) -> dict[str, str]:
    """``message`` in every language: ``{"en": …, "nl": …, "de": …}``."""
    return {lang: translate(message, lang) for lang in LANGUAGES}


def field_metadata(name: str) -> dict[str, Any]:
    """The marshmallow ``metadata`` of settings field ``name``: JSON Schema keywords
    (``title``, ``description``, ``readOnly``, ``writeOnly``) and ``x-`` hints."""
    spec = FORM[name]
    meta: dict[str, Any] = {
        "title": spec.label,
        "description": spec.help,
        "x-label": texts(spec.label),
        "x-help": texts(spec.help),
        "x-tab": spec.tab,
        "x-order": list(FORM).index(name) + 1,
        "x-widget": spec.widget,
        "x-secret": spec.secret,
    }
    if spec.read_only:
        meta["readOnly"] = True
    if spec.secret and not spec.read_only:
        meta["writeOnly"] = True  # never sent back to the browser
    if spec.choices:
        meta["x-choices"] = [
            {"value": value, "label": texts(label)} for value, label in spec.choices
        ]
    if spec.options_source:
        meta["x-options-source"] = spec.options_source
    return meta


def tabs(actions: Sequence[Action]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "label": texts(label),
            "fields": [field for field, spec in FORM.items() if spec.tab == name],
            "actions": [action.name for action in actions if action.tab == name],
        }
        for name, label in TABS
    ]


def action_forms(actions: Sequence[Action]) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "label": texts(a.label),
            "tab": a.tab,
            "params": list(a.params),
            "changes": list(a.changes),
        }
        for a in actions
    ]


class SettingsError(Exception):
    """Settings that cannot be used: a park's invalid fields, or a platform variable of the
    host process (hosts, OAuth client, tuning) that is missing or invalid. The message
    names the field or the variable, never its value."""

    def __init__(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})

    def describe(self, lang: str) -> str:
        """The message in ``lang``, naming fields by their labels in the form."""
        if self.fields:
            return describe_errors(self.fields, lang=lang)
        return translate(str(self), lang)


def describe_errors(messages: Any, limit: int = 5, lang: str = "en") -> str:
    """Flatten marshmallow messages into ``label (key): message`` text in ``lang``, e.g.
    ``Minuten vooraf (minutes_before): Geen geldig geheel getal.`` (no input values; long
    field names are cut, and only the first ``limit`` problems are listed)."""
    parts: list[str] = []

    def name(key: Any, top: bool) -> str:
        text = str(key)
        if top and text in FORM:  # the label people see, and the key integrators use
            return f"{translate(FORM[text].label, lang)} ({text})"
        return text if len(text) <= ERROR_KEY_CHARS else text[: ERROR_KEY_CHARS - 3] + "..."

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                walk(f"{prefix}.{name(key, False)}" if prefix else name(key, True), sub)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(prefix, item)
        else:
            parts.append(
                f"{prefix or translate(WHOLE_SETTINGS, lang)}: {translate(str(value), lang)}"
            )

    walk("", messages)
    more = (
        translate(N_("; and {count} more"), lang).format(count=len(parts) - limit)
        if len(parts) > limit
        else ""
    )
    return "; ".join(parts[:limit]) + more
