"""Messages in the staff's and the guest's language, through the gettext toolchain.

Strings are marked in the code (:func:`N_`, :func:`NN_` for plural forms, :func:`NP_` with
a context), extracted with ``pybabel extract`` (``./dev catalogs``), translated in the
``.po`` files of ``locale/<lang>/LC_MESSAGES/`` and compiled to the ``.mo`` files beside
them, which the standard library's :mod:`gettext` loads. The ``.mo`` files are committed, so
a wheel and an editable install carry them; a test checks that each matches its ``.po``,
and that the ``.po`` files hold exactly what the code marks. English is the source
language (message ids), so it has no catalog. Placeholders in braces are kept by every
translation (a test checks it). Dates and times are written by Babel in the language's own
way, in the park's zone; Babel is imported only when a time is written.

The language is the optional ``locale`` attribute of the park (staff: ``message``) and of
the booking (guest: ``guest_message``), e.g. ``"nl"``, ``"nl_NL"`` or ``"de-DE"``; missing
or unknown means English.
"""

from __future__ import annotations

import functools
import gettext
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

DOMAIN = "ireserve_salto"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "nl", "de")
# English for a European park: British usage, a 24-hour clock ("14:00", not "2:00 PM")
BABEL_LOCALES = {"en": "en_GB"}
DEFAULT = "en"


def language(value: Any) -> str:
    """``"nl_NL"``, ``"nl-nl"``, ``"NL"`` → ``"nl"``; anything else → ``"en"``."""
    if not isinstance(value, str):
        return DEFAULT
    return _language(value[:16])


def _language(value: str) -> str:
    code = value.replace("-", "_").split("_", 1)[0].strip().lower()
    return code if code in LANGUAGES else DEFAULT


def host_language(obj: Any) -> str:
    """The ``locale`` attribute of a park or booking (a getter that raises counts as none)."""
    try:
        return language(getattr(obj, "locale", None))
    except Exception:
        return DEFAULT


def N_(message: str) -> str:
    """Marks a message id for ``pybabel extract``; translated where it is shown."""
    return message


def NN_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with plural forms (the singular is the id); see :func:`plural`."""
    return singular, plural


def NP_(context: str, message: str) -> str:
    """Marks a message id in a context (a word of the web admin); see :func:`word`."""
    return message


@functools.cache
def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (one of :data:`LANGUAGES`); English has none."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


FORMAL_DUTCH = "nl_u"  # the guest's language when the park addresses Dutch guests as "u"
# The Dutch guest texts that say "je", as the park says them with "u" (guest_address "u").
# German guest texts always say "Sie"; a test checks every key is a Dutch translation.
DUTCH_U = {
    "Je kunt de deur openen vanaf {opens_at}.": "U kunt de deur openen vanaf {opens_at}.",
    "Je verblijf is voorbij; de deur kon worden geopend tot {closes_at}.": (
        "Uw verblijf is voorbij; de deur kon worden geopend tot {closes_at}."
    ),
    "Met je boeking kun je de deur (nog) niet openen. Neem contact op met de receptie.": (
        "Met uw boeking kunt u de deur (nog) niet openen. Neem contact op met de receptie."
    ),
    "Je verzoek wordt verwerkt; een ogenblik geduld.": (
        "Uw verzoek wordt verwerkt; een ogenblik geduld."
    ),
    "De deur is mogelijk geopend; controleer dit voordat je het opnieuw probeert.": (
        "De deur is mogelijk geopend; controleer dit voordat u het opnieuw probeert."
    ),
    "Vanaf {opens_at} open je de deur in de app.": "Vanaf {opens_at} opent u de deur in de app.",
}


def guest_language(booking: Any, address: str, park_lang: str = DEFAULT) -> str:
    """The guest's language: the booking's ``locale``, else the park's (``park_lang``: a
    booking the host sends without one is the park's guest); Dutch with "u" when the park
    asks."""
    try:
        given = getattr(booking, "locale", None)
    except Exception:  # a host property that raises counts as none
        given = None
    lang = host_language(booking) if given else language(park_lang)
    return FORMAL_DUTCH if lang == "nl" and address == "u" else lang


def translate(message: str, lang: str) -> str:
    """``message`` (an English message id) in ``lang``; itself when not in the catalog
    (free text such as an exception's message stays as it is)."""
    if not message:
        return message
    text = catalog(language(lang)).gettext(message)
    return DUTCH_U.get(text, text) if lang == FORMAL_DUTCH else text


def plural(forms: tuple[str, str], count: int, lang: str) -> str:
    """The form of ``forms`` (:func:`NN_`) for ``count`` in ``lang`` ("1 IQ", "3 IQ's")."""
    return catalog(language(lang)).ngettext(forms[0], forms[1], count)


def word(context: str, message: str, lang: str) -> str:
    """``message`` in ``context`` (:func:`NP_`) in ``lang``."""
    return catalog(language(lang)).pgettext(context, message)


def when(moment: datetime | None, zone: tzinfo, lang: str, today: datetime | None = None) -> str:
    """A moment for people, in the park's zone: ``14:00`` today, else with the date
    (``za 29 nov. 14:00``), as the language writes it."""
    if moment is None:
        return "?"
    from babel.dates import format_skeleton, format_time

    lang = BABEL_LOCALES.get(language(lang), language(lang))
    try:
        local = moment.astimezone(zone)
        reference = (today or datetime.now(zone)).astimezone(zone)
        clock = format_time(local, "short", tzinfo=zone, locale=lang)
        if local.date() == reference.date():
            return clock
        return f"{format_skeleton('MMMEd', local, tzinfo=zone, locale=lang)} {clock}"
    except (OverflowError, ValueError):  # the edge of datetime's range, in a far-off zone
        return moment.isoformat(timespec="minutes")
