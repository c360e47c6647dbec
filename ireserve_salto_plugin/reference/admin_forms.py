"""The web admin's forms as data: the mapping tab's rows, suggestions and import, and what a
submitted tab means for the park's settings (numbers checked, secrets never rendered back)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park import i18n
from ireserve_salto_plugin.park.text import local_time
from ireserve_salto_plugin.reference.host import Park
from ireserve_salto_plugin.reference.web_words import WEB_ADMIN


def _norm(text: str) -> str:
    """``"chalet-12"``, ``"Chalet 12"`` → ``"chalet12"``: how names are matched."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def lock_name(option: dict[str, Any]) -> str:
    return str(option["label"]).removesuffix(" (offline)")


def suggestions(
    objects: dict[str, str], mapping: dict[str, str], options: list[dict[str, Any]]
) -> dict[str, str]:
    """Unmapped objects whose id or name is one lock's name but for case, spaces and
    punctuation ("chalet-12" ↔ "Chalet 12"); a name two locks share suggests nothing."""
    by_name: dict[str, list[str]] = {}
    for option in options:
        by_name.setdefault(_norm(lock_name(option)), []).append(option["value"])
    found: dict[str, str] = {}
    for object_id, name in objects.items():
        if object_id in mapping:
            continue
        for key in (_norm(object_id), _norm(name)):
            locks = by_name.get(key, [])
            if len(locks) == 1:
                found[object_id] = locks[0]
                break
    return found


def parse_import(
    text: str, options: list[dict[str, Any]], lang: str, objects: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Pasted rows ``object;lock`` (or ``,`` or a tab, as a spreadsheet copies them): the
    object by its id or its name as the suggestions match them (``objects``: the host's,
    id → name; an object the host does not list is refused), the lock by its id or its
    name in any case; a first row ``object;lock`` is a header. The errors name the line,
    in ``lang``."""
    locks = _LockNames(options)
    find_object = _object_finder(objects)
    mapping: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.replace("\t", ";").replace(",", ";").split(";")]
        if len(parts) != 2 or not all(parts):
            errors.append(_said("Line {line}: write an object and a lock.", lang, line=number))
            continue
        typed, lock = parts
        if number == 1 and (typed.casefold(), lock.casefold()) == ("object", "lock"):
            continue
        object_id = find_object(typed)
        if object_id is None:
            errors.append(
                _said("Line {line}: no object here is called {object}.", lang, line=number,
                      object=repr(typed[:60]))
            )  # fmt: skip
            continue
        found, many = locks.find(lock)
        if found is None:
            message = (
                "Line {line}: {lock} names more than one lock; use its id."
                if many
                else "Line {line}: no lock of the site is called {lock}."
            )
            errors.append(_said(message, lang, line=number, lock=repr(lock[:60])))
            continue
        mapping[object_id] = found
    return mapping, errors


class _LockNames:
    """The site's locks by id and by name (any case)."""

    def __init__(self, options: list[dict[str, Any]]) -> None:
        self.by_id = {option["value"].lower(): option["value"] for option in options}
        self.by_name: dict[str, list[str]] = {}
        for option in options:
            self.by_name.setdefault(lock_name(option).casefold(), []).append(option["value"])

    def find(self, lock: str) -> tuple[str | None, bool]:
        """(the lock's id or None, whether the name is more than one lock's)."""
        found = self.by_id.get(lock.strip("{}").lower())
        names = self.by_name.get(lock.casefold(), [])
        if found is None and len(names) == 1:
            found = names[0]
        return found, len(names) > 1


def _object_finder(objects: dict[str, str] | None) -> Callable[[str], str | None]:
    """An object by its id, else by its id or name as the suggestions match them (case,
    spaces and punctuation aside, one object only); without the host's list, as typed."""
    if not objects:
        return lambda typed: typed
    by_key: dict[str, list[str]] = {}
    for object_id, name in objects.items():
        for key in {_norm(object_id), _norm(name)}:
            by_key.setdefault(key, []).append(object_id)

    def find(typed: str) -> str | None:
        if typed in objects:
            return typed
        found = by_key.get(_norm(typed), [])
        return found[0] if len(set(found)) == 1 else None

    return find


def shared_locks(mapping: dict[str, Any], options: list[dict[str, Any]]) -> list[str]:
    """Each lock that is the own lock of more than one object: ``"Chalet 12: chalet-12,
    chalet-13"``."""
    names = {option["value"]: lock_name(option) for option in options}
    by_lock: dict[str, list[str]] = {}
    for object_id, value in mapping.items():
        lock = value[0] if isinstance(value, list) and value else value
        if isinstance(lock, str):
            by_lock.setdefault(lock, []).append(object_id)
    return [
        f"{names.get(lock, lock)}: {', '.join(sorted(objects))}"
        for lock, objects in by_lock.items()
        if len(objects) > 1
    ]


SHOWN_NAMES = 10  # names a warning lists before "and N others"


def names_and_more(names: list[str], lang: str) -> str:
    """The first names, then "and N others" (a list is never cut silently)."""
    shown = ", ".join(names[:SHOWN_NAMES])
    if len(names) <= SHOWN_NAMES:
        return shown
    return shown + " " + _said("and {count} others", lang, count=len(names) - SHOWN_NAMES)


def _said(message: str, lang: str, **fill: Any) -> str:
    return i18n.word(WEB_ADMIN, message, lang).format(**fill)


def _own(value: Any) -> Any:
    """A mapping's value is a lock, or an object's doors (the first its own lock)."""
    return value[0] if isinstance(value, list) and value else value


def mapping_rows(
    objects: dict[str, str],
    mapping: dict[str, str],
    options: list[dict[str, Any]],
    iqs: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row per object the host has (and per mapped object it no longer has): its lock,
    a suggestion when unmapped, and the IQ of its lock with its activation here."""
    suggested = suggestions(objects, mapping, options)
    locks = {option["value"]: option for option in options}
    by_iq = {iq["id"]: iq for iq in iqs}
    rows = []
    for object_id in [*objects, *(o for o in mapping if o not in objects)]:
        lock = _own(mapping.get(object_id))
        iq = by_iq.get((locks.get(lock or "") or {}).get("iq_id") or "")
        rows.append(
            {
                "id": object_id,
                "name": objects.get(object_id, object_id),
                "lock": lock,
                "suggested": suggested.get(object_id),
                "iq": iq,
            }
        )
    return rows


def on_idle_iqs(rows: list[dict[str, Any]], options: list[dict[str, Any]]) -> list[str]:
    """The names of the mapped locks whose IQ is not activated here (and needs a code)."""
    names = {option["value"]: lock_name(option) for option in options}
    return sorted(
        {
            names.get(row["lock"], row["lock"])
            for row in rows
            if row["lock"]
            and row["iq"] is not None
            and not row["iq"]["activated"]
            and row["iq"].get("otp_enabled") is not False
        }
    )


def read_at_text(options: list[dict[str, Any]], park: Park) -> str:
    """When the lock list was read from Salto, in the park's time."""
    stamp = str(options[0].get("read_at") or "") if options else ""
    if not stamp:
        return ""
    try:
        return local_time(datetime.fromisoformat(stamp), ZoneInfo(park.timezone))
    except (ValueError, KeyError):
        return stamp


MAX_DIGITS = 9  # a number typed in the form (minutes): longer is no number of minutes


TEXT_FIELDS = (
    "environment",
    "username",
    "password",
    "site_uid",
    "open_field",
    "checkin_status",
    "guest_address",
    "reception_phone",
)
OPTIONAL_FIELDS = ("open_field", "checkin_status", "reception_phone")  # empty: None


def submitted_settings(park: Park, tab: str, form: Any) -> dict[str, Any]:
    """The stored settings with this tab's inputs applied (as the browser sent them)."""
    new = dict(park.integrations.get(INTEGRATION, {}))
    if tab == "details":
        new["enabled"] = form.get("enabled") == "1"
        new["staff_open_enabled"] = form.get("staff_open_enabled") == "1"
        texts = {lang: form.get(f"fallback:{lang}", "").strip() for lang in ("nl", "en", "de")}
        new["guest_fallback_text"] = {lang: text for lang, text in texts.items() if text}
    for key in TEXT_FIELDS:
        if key in form:
            new[key] = form[key] or (None if key in OPTIONAL_FIELDS else "")
    for key in ("minutes_before", "minutes_after"):
        if key in form and not form[key].strip():
            new.pop(key, None)  # an empty box: the setting's default, not "no number"
        elif key in form:
            new[key] = _minutes(form[key])
    if "open_statuses" in form:
        new["open_statuses"] = [s.strip() for s in form["open_statuses"].split(",") if s.strip()]
    if "default_lock_id" in form:
        new["default_lock_id"] = form["default_lock_id"] or None
    if tab == "mapping":
        new["mapping"] = form_mapping(dict(new.get("mapping") or {}), form)
        common: dict[str, str] = {}  # rows of a lock and its label; "—" drops the row
        for key in form:
            if key.startswith("common:") and form[key]:
                common[form[key]] = form.get(f"common_label:{key[7:]}", "").strip()
        new["common_locks"] = common
    return new


def _minutes(text: str) -> int | str:
    """A number of minutes as typed: ASCII digits only ("²" is a digit to str.isdigit, not
    to int), and few of them (int() refuses 5,000); anything else goes to the schema as
    typed, which names the field."""
    text = text.strip()
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit() and len(digits) <= MAX_DIGITS:
        return int(text)
    return text


def form_mapping(mapping: dict[str, Any], form: Any) -> dict[str, Any]:
    """One dropdown per object; "—" leaves it unmapped. An object's further doors stay as
    they are; an object the host does not list is mapped by its id."""
    for key in form:
        if not key.startswith("lock:"):
            continue
        object_id, lock_id = key[5:], form[key]
        if not lock_id:
            mapping.pop(object_id, None)
            continue
        old = mapping.get(object_id)
        rest = [lock for lock in old[1:] if lock != lock_id] if isinstance(old, list) else []
        mapping[object_id] = [lock_id, *rest] if rest else lock_id
    if form.get("map_object"):
        mapping[form["map_object"]] = form["map_lock"]
    return mapping
