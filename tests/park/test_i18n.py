"""Messages in nl, en and de: complete catalogs, and the languages of park and booking."""

from __future__ import annotations

import gettext
import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from marshmallow import fields, validate

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.admin.actions import ACTIONS
from ireserve_salto_plugin.flow.preflight import RESTORE_REQUIRED
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park import answers, i18n, messages
from ireserve_salto_plugin.park.fields import FORM, TABS, describe_errors
from ireserve_salto_plugin.park.i18n import catalog as i18n_catalog
from ireserve_salto_plugin.park.i18n import language, translate, when
from ireserve_salto_plugin.park.settings import IqSchema, SettingsSchema
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox

PLACEHOLDER = re.compile(r"\{[^}]*\}")


TRANSLATED = ("nl", "de")  # English is the source language: the message ids
PO = "ireserve_salto_plugin/park/locale/{lang}/LC_MESSAGES/ireserve_salto.{ext}"
ROOT = Path(__file__).resolve().parents[2]


def po(lang: str) -> Catalog:
    with (ROOT / PO.format(lang=lang, ext="po")).open("rb") as handle:
        return read_po(handle, locale=lang)


def entries(lang: str) -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(context, singular id) → the translations (one, or one per plural form)."""
    return {
        (m.context, m.id if isinstance(m.id, str) else m.id[0]): (m.string,)
        if isinstance(m.string, str)
        else tuple(m.string or ())
        for m in po(lang)
        if m.id
    }


def marked() -> set[tuple[str | None, str]]:
    """What ``pybabel extract`` finds in the package (``./dev catalogs``)."""
    found = extract_from_dir(
        str(ROOT / "ireserve_salto_plugin"),
        method_map=[("**.py", "python")],
        keywords={"N_": None, "NN_": (1, 2), "NP_": ((1, "c"), 2)},
    )
    return {
        (context, message if isinstance(message, str) else message[0])
        for _, _, message, _, context in found
    }


def used_message_ids() -> set[str]:
    """Every message id the code can show, read from where it is used (not from the
    marks): staff, guest and admin messages, fixed details, the form, the buttons and the
    validation errors the settings schema can give."""
    ids = set(messages.STAFF_MESSAGES.values()) | set(answers.ADMIN_MESSAGES.values())
    ids |= {forms[0] for forms, _ in answers.PLURALS.values()}
    ids |= {
        value
        for name, value in vars(messages).items()
        if isinstance(value, str) and (name.startswith("GUEST_") or name.isupper())
    }
    ids |= {
        messages.MAY_HAVE_OPENED,
        messages.NOT_SENT,
        messages.STILL_RUNNING,
        messages.NOW_SUSPENDED,
        RESTORE_REQUIRED,
    }
    ids |= {label for _, label in TABS} | {action.label for action in ACTIONS}
    for spec in FORM.values():
        ids |= {spec.label, spec.help} | {label for _, label in spec.choices}
    for schema in (SettingsSchema(), IqSchema()):
        for field in schema.fields.values():
            for check in [
                *field.validators,
                *getattr(getattr(field, "inner", None), "validators", []),
            ]:
                if isinstance(
                    check, validate.Length | validate.Range | validate.Regexp | validate.OneOf
                ):
                    ids.add(str(check.error))
            ids |= {
                str(m)
                for m in field.error_messages.values()
                if "{" not in str(m) and isinstance(field, fields.Field)
            }
    ids |= {"Unknown field.", "Must be a UUID.", "settings", "; and {count} more"}
    return {i for i in ids if i}


def test_every_message_has_a_translation_in_every_language() -> None:
    for lang in TRANSLATED:
        catalog = entries(lang)
        missing = [
            msgid for msgid in used_message_ids() if not all(catalog.get((None, msgid), ("",)))
        ]
        assert not missing, (lang, missing[:10])
        assert all(all(forms) for forms in catalog.values()), lang
    assert set(entries("nl")) == set(entries("de"))


def test_the_catalogs_hold_exactly_what_the_code_marks() -> None:
    """``pybabel extract`` over the package finds every id of the catalogs and no other:
    nothing marked is left untranslated, nothing translated is dead."""
    assert marked() == set(entries("nl")) == set(entries("de"))


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_compiled_catalog_matches_its_po(lang: str) -> None:
    """The committed ``.mo`` (what gettext loads, in a wheel and an editable install) is
    the compilation of the ``.po`` beside it: run ``./dev catalogs`` after editing one."""
    compiled = BytesIO()
    write_mo(compiled, po(lang))
    compiled.seek(0)
    with (ROOT / PO.format(lang=lang, ext="mo")).open("rb") as handle:
        committed = gettext.GNUTranslations(handle)
    assert committed._catalog == gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
    assert i18n_catalog(lang).gettext("Save") == "Save"  # no context: not a web admin word
    assert i18n.word("web admin", "Save", lang) != "Save"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_every_placeholder(lang: str) -> None:
    for message in po(lang):  # nl and de have two forms, as English: one by one
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = (
            [message.string] if isinstance(message.string, str) else list(message.string or ())
        )
        assert len(ids) == len(strings), message.id
        for msgid, string in zip(ids, strings, strict=True):
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(string)), msgid


def test_languages_are_normalised_and_default_to_english() -> None:
    assert [language(v) for v in ("nl", "nl_NL", "de-DE", "DE", "fr", None, 3)] == [
        "nl",
        "nl",
        "de",
        "de",
        "en",
        "en",
        "en",
    ]
    assert translate("The door is unlocked – push it open now.", "nl") == (
        "Het slot is ontgrendeld – duw de deur nu open."
    )
    assert translate("free text from Salto", "de") == "free text from Salto"


def test_times_are_written_the_languages_way_in_the_parks_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Amsterdam")
    moment = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # 14:00 in Amsterdam
    assert when(moment, zone, "nl", today=moment) == "14:00"
    assert when(moment, zone, "en", today=moment) == "14:00"  # en-GB: a European park
    assert when(moment, zone, "de", today=moment - timedelta(days=1)).startswith("Sa.")


def test_staff_and_guest_get_their_own_language(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: Any
) -> None:
    park.locale = "nl"
    later = datetime.now(UTC) + timedelta(days=1)
    booking = make_booking(arrival=later)
    booking.locale = "de"
    early = host.open(booking, "guest")
    assert early is not None and early.reason is Reason.TOO_EARLY
    assert early.message.startswith("Te vroeg: openen kan vanaf ")
    assert early.guest_message.startswith("Sie können die Tür ab ")
    before = timedelta(minutes=park.integrations[INTEGRATION].get("minutes_before", 0))
    assert early.opens_at == later - before and early.closes_at == later + timedelta(days=3)
    now = make_booking()
    now.locale = "nl_NL"
    opened = host.open(now, "guest")
    assert opened is not None and opened.opened
    assert opened.message.startswith("Slot ")
    assert opened.guest_message == "Het slot is ontgrendeld – duw de deur nu open."
    park.locale = None
    again = host.open(make_booking(), "guest")
    assert again is not None and again.message.startswith("Lock ")
    assert again.guest_message == "The door is unlocked – push it open now."


def test_a_booking_without_a_locale_gets_the_park_s_language(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: Any
) -> None:
    """A host that sends no ``booking.locale`` gave a Dutch park's guests English."""
    park.locale = "nl"
    booking = make_booking()
    booking.locale = None
    opened = host.open(booking, "guest")
    assert opened is not None and opened.opened
    assert opened.guest_message == "Het slot is ontgrendeld – duw de deur nu open."
    [info] = host.change_status(make_booking(), "confirmed")
    assert info.guest_text is not None and "Vanaf" in info.guest_text


def test_a_guest_never_sees_internals(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: Any
) -> None:
    result = host.open(make_booking(object_id="not-mapped-anywhere"), "guest")
    assert result is not None and result.reason is Reason.NO_LOCK_MAPPED
    assert result.guest_message == messages.GUEST_RECEPTION
    assert "lock" not in result.guest_message.lower() and "mapped" not in result.guest_message
    assert "mapped" in result.message  # staff get the cause


def test_validation_errors_use_the_fields_label_in_the_staffs_language() -> None:
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as caught:
        SettingsSchema().load(
            {
                "environment": "acceptance",
                "username": "u",
                "password": "p",
                "site_uid": "NL6254340082",
                "open_statuses": ["confirmed"],
                "minutes_before": "x",
            }
        )
    text = describe_errors(caught.value.messages, lang="nl")
    assert text == "Minuten vooraf (minutes_before): Geen geldig geheel getal."


def test_an_invalid_park_says_so_in_its_language(
    host: ReferenceHost, park: Park, make_booking: Any
) -> None:
    park.locale = "de"
    park.integrations[INTEGRATION] = {**park.integrations[INTEGRATION], "minutes_before": -1}
    result = host.open(make_booking(), "guest")
    assert result is not None and result.reason is Reason.SETTINGS_INVALID
    assert (
        "Minuten vorher (minutes_before): Muss eine ganze Zahl von 0 bis 1440 sein."
        in result.message
    )


def test_the_explainer_and_admin_answers_speak_the_parks_language(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: Any
) -> None:
    booking = make_booking(arrival=datetime.now(UTC) + timedelta(days=1))
    english = host.pm.hook.explain_access(park=park, booking=booking, now=None)
    park.locale = "nl"
    dutch = host.pm.hook.explain_access(park=park, booking=booking, now=None)
    assert [s.step for s in english.steps] == [s.step for s in dutch.steps]
    for en, nl in zip(english.steps, dutch.steps, strict=True):
        assert en.message != nl.message, en.message  # every line is translated
    assert dutch.message.startswith("Te vroeg")
    status = host.admin(park, INTEGRATION, "status")
    assert status.message.startswith("Verbonden met Salto KS acceptance")
    park.locale = "de"
    listed = host.admin(park, INTEGRATION, "list_iqs")
    assert listed.message == f"3 IQs auf Site {park.integrations[INTEGRATION]['site_uid']}."


def test_english_times_use_the_24_hour_clock_of_a_european_park() -> None:
    from zoneinfo import ZoneInfo

    from ireserve_salto_plugin.park.i18n import when

    fixed = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # a fixed instant
    amsterdam = ZoneInfo("Europe/Amsterdam")
    assert when(fixed, amsterdam, "en", today=fixed) == "14:00"  # was "2:00 PM"
    assert when(fixed, amsterdam, "en", today=fixed - timedelta(days=3)) == "Wed 1 Jul 14:00"


def test_a_park_may_address_dutch_guests_as_u(
    host: ReferenceHost, park: Park, mapped: Any, make_booking: Any
) -> None:
    from ireserve_salto_plugin.park.i18n import DUTCH_U, catalog

    dutch = set(catalog("nl")._catalog.values())  # type: ignore[attr-defined]
    assert set(DUTCH_U) <= dutch  # every "je" text it replaces is a Dutch translation
    early = make_booking(arrival=datetime.now(UTC) + timedelta(days=1))
    early.locale = "nl"
    je = host.open(early, "guest")
    assert je is not None and je.guest_message.startswith("Je kunt de deur openen vanaf")
    park.integrations[INTEGRATION]["guest_address"] = "u"
    u = host.open(make_booking(arrival=datetime.now(UTC) + timedelta(days=1)), "guest")
    assert u is not None and u.guest_message.startswith("You can")  # no locale: English
    later = make_booking(arrival=datetime.now(UTC) + timedelta(days=1))
    later.locale = "nl"
    formal = host.open(later, "guest")
    assert formal is not None and formal.guest_message.startswith("U kunt de deur openen vanaf")
    assert formal.message.startswith("Too early")  # staff: the park's language (none: en)


def test_counts_take_their_plural_forms() -> None:
    from ireserve_salto_plugin.park.answers import say

    assert say("en", "n_iqs", count=1) == "1 IQ" and say("en", "n_iqs", count=3) == "3 IQs"
    assert say("nl", "n_iqs", count=3) == "3 IQ's" and say("nl", "n_locks", count=1) == "1 slot"
    assert say("de", "n_locks", count=36) == "36 Schlösser"
    assert say("nl", "look_at", problems=1) == "1 punt om naar te kijken:"
    assert say("en", "look_at", problems=2) == "2 things to look at:"


def test_every_word_a_web_admin_page_shows_is_in_the_catalogs() -> None:
    from ireserve_salto_plugin.reference.web_words import WORDS

    templates = ROOT / "ireserve_salto_plugin/reference/templates"
    shown = {
        match
        for page in templates.glob("*.html")
        for match in re.findall(r"""\bt\(["']([^"']+)["']\)""", page.read_text())
    }
    assert shown and shown <= WORDS
    assert {("web admin", word) for word in WORDS} <= set(entries("nl"))


def test_no_english_value_inside_a_dutch_or_german_sentence(
    host: ReferenceHost, park: Park, mapped: Any, sandbox: SaltoSandbox
) -> None:
    """ "Abonnementsstatus bij Salto: subscribed", "PUT pin met delta 0000" to a park admin:
    Salto's values and the API's words said in the park's language."""
    park.locale = "nl"
    connected = host.admin(park, INTEGRATION, "test_connection")
    assert "Abonnementsstatus bij Salto: geabonneerd." in connected.message
    checked = host.admin(park, INTEGRATION, "self_test", iq_id=mapped.iq.id)
    assert checked.ok and "PUT" not in checked.message and "0000" not in checked.message
    park.locale = "de"
    again = host.admin(park, INTEGRATION, "test_connection")
    assert "abonniert" in again.message and "subscribed" not in again.message
