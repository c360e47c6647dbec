"""Messages in the staff's and the guest's language: gettext catalogs in nl, en and de.

The catalogs are the ``.po`` files in ``locale/`` (English source strings as message ids;
placeholders in braces are kept by every translation, which a test checks). They are read
on first use by a small reader of the ``.po`` format into a ``gettext`` translations
object, so no build step can leave a stale ``.mo`` (the tests read them with Babel's own
parser too). Dates and times are written by Babel in the language's own way, in the
park's zone; Babel is imported only when a time is written.

The language is the optional ``locale`` attribute of the park (staff: ``message``) and of
the booking (guest: ``guest_message``), e.g. ``"nl"``, ``"nl_NL"`` or ``"de-DE"``; missing
or unknown means English.
"""

from __future__ import annotations

import ast
import functools
import gettext
import threading
from datetime import datetime, tzinfo
from importlib import resources
from typing import Any

LANGUAGES = ("en", "nl", "de")
# English for a European park: British usage, a 24-hour clock ("14:00", not "2:00 PM")
BABEL_LOCALES = {"en": "en_GB"}
DEFAULT = "en"
_lock = threading.Lock()


def language(value: Any) -> str:
    """``"nl_NL"``, ``"nl-nl"``, ``"NL"`` → ``"nl"``; anything else → ``"en"``."""
    if not isinstance(value, str):
        return DEFAULT
    code = value[:16].replace("-", "_").split("_", 1)[0].strip().lower()
    return code if code in LANGUAGES else DEFAULT


def host_language(obj: Any) -> str:
    """The ``locale`` attribute of a park or booking (a getter that raises counts as none)."""
    try:
        return language(getattr(obj, "locale", None))
    except Exception:
        return DEFAULT


class Catalog(gettext.NullTranslations):
    """A gettext catalog read from a ``.po`` file: message id → translation."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message


def read_po(source: str) -> dict[str, str]:
    """``msgid``/``msgstr`` pairs of a ``.po`` file (strings may continue on the next
    lines; comments and the header entry are skipped)."""
    messages: dict[str, str] = {}
    field, parts = "", {"msgid": "", "msgstr": ""}

    def flush() -> None:
        if parts["msgid"]:
            messages[parts["msgid"]] = parts["msgstr"]
        parts.update(msgid="", msgstr="")

    for line in source.splitlines():
        line = line.strip()
        if line.startswith("msgid "):
            flush()
            field, line = "msgid", line[6:]
        elif line.startswith("msgstr "):
            field, line = "msgstr", line[7:]
        elif not line.startswith('"'):
            continue  # a comment or a blank line
        if field:
            parts[field] += ast.literal_eval(line)
    flush()
    return messages


@functools.cache
def catalog(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` (one of :data:`LANGUAGES`)."""
    with _lock:
        source = resources.files(__package__).joinpath("locale", f"{lang}.po")
        return Catalog(read_po(source.read_text(encoding="utf-8")))


FORMAL_DUTCH = "nl_u"  # the guest's language when the park addresses Dutch guests as "u"
# The Dutch guest texts that say "je", as the park says them with "u" (guest_address "u").
# German guest texts always say "Sie"; a test checks every key is a Dutch translation.
DUTCH_U = {
    "Je kunt de deur openen vanaf {opens_at}.": "U kunt de deur openen vanaf {opens_at}.",
    "Je verblijf is voorbij; de deur kon worden geopend tot {closes_at}.":
        "Uw verblijf is voorbij; de deur kon worden geopend tot {closes_at}.",
    "Met je boeking kun je de deur (nog) niet openen. Neem contact op met de receptie.":
        "Met uw boeking kunt u de deur (nog) niet openen. Neem contact op met de receptie.",
    "Je verzoek wordt verwerkt; een ogenblik geduld.":
        "Uw verzoek wordt verwerkt; een ogenblik geduld.",
    "De deur is mogelijk geopend; controleer dit voordat je het opnieuw probeert.":
        "De deur is mogelijk geopend; controleer dit voordat u het opnieuw probeert.",
    "Vanaf {opens_at} open je de deur in de app.": "Vanaf {opens_at} opent u de deur in de app.",
}


def guest_language(booking: Any, address: str) -> str:
    """The guest's language: the booking's ``locale``; Dutch with "u" when the park asks."""
    lang = host_language(booking)
    return FORMAL_DUTCH if lang == "nl" and address == "u" else lang


def translate(message: str, lang: str) -> str:
    """``message`` (an English message id) in ``lang``; itself when not in the catalog
    (free text such as an exception's message stays as it is)."""
    if not message:
        return message
    text = catalog(language(lang)).gettext(message)
    return DUTCH_U.get(text, text) if lang == FORMAL_DUTCH else text


def when(moment: datetime | None, zone: tzinfo, lang: str,
         today: datetime | None = None) -> str:
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
