"""Messages in the staff's and the guest's language: gettext catalogs in nl, en and de.

The catalogs are the ``.po`` files in ``locale/`` (English source strings as message ids;
placeholders in braces are kept by every translation, which a test checks). They are
compiled in memory with Babel on first use, so no build step can leave a stale ``.mo``.
Dates and times are written by Babel in the language's own way, in the park's zone.

The language is the optional ``locale`` attribute of the park (staff: ``message``) and of
the booking (guest: ``guest_message``), e.g. ``"nl"``, ``"nl_NL"`` or ``"de-DE"``; missing
or unknown means English.
"""

from __future__ import annotations

import functools
import gettext
import io
import threading
from datetime import datetime, tzinfo
from importlib import resources
from typing import Any

LANGUAGES = ("en", "nl", "de")
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


@functools.cache
def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (one of :data:`LANGUAGES`)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with _lock:
        source = resources.files(__package__).joinpath("locale", f"{lang}.po").read_bytes()
        parsed = read_po(io.BytesIO(source), locale=lang)
        compiled = io.BytesIO()
        write_mo(compiled, parsed)
        compiled.seek(0)
        return gettext.GNUTranslations(compiled)


def translate(message: str, lang: str) -> str:
    """``message`` (an English message id) in ``lang``; itself when not in the catalog
    (free text such as an exception's message stays as it is)."""
    if not message:
        return message
    return catalog(language(lang)).gettext(message)


def when(moment: datetime | None, zone: tzinfo, lang: str,
         today: datetime | None = None) -> str:
    """A moment for people, in the park's zone: ``14:00`` today, else with the date
    (``za 29 nov. 14:00``), as the language writes it."""
    if moment is None:
        return "?"
    from babel.dates import format_skeleton, format_time

    lang = language(lang)
    try:
        local = moment.astimezone(zone)
        reference = (today or datetime.now(zone)).astimezone(zone)
        clock = format_time(local, "short", tzinfo=zone, locale=lang)
        if local.date() == reference.date():
            return clock
        return f"{format_skeleton('MMMEd', local, tzinfo=zone, locale=lang)} {clock}"
    except (OverflowError, ValueError):  # the edge of datetime's range, in a far-off zone
        return moment.isoformat(timespec="minutes")
