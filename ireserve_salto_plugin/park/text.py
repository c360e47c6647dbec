"""Text for logs and messages: host values made safe to print, instants made readable."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

LOG_VALUE_CHARS = 80  # a value from the host is cut to this in a log line


def host_attr(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)`` that a host object's raising property cannot break."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def host_text(value: Any, limit: int = LOG_VALUE_CHARS) -> str:
    """A value from the host (park id, booking id, requester) as bounded, printable text:
    control characters are escaped (no forged log lines), and a ``str()`` that raises is
    not our caller's problem."""
    try:
        text = value if isinstance(value, str) else str(value)
        if not isinstance(text, str):
            raise TypeError
    except Exception:
        return "<unprintable>"
    text = text[: limit + 1]
    if not text.isprintable():
        text = "".join(
            c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
            for c in text
        )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def iso_utc(instant: datetime) -> str:
    """``2026-11-28T14:00:00Z``: how open times are written to booking fields."""
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local_time(instant: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """``2026-11-28 15:00 CET``: how times are shown to staff, in the park's zone; with
    ``seconds`` (``15:00:07``) for what happened, e.g. an entry in Salto's log."""
    try:
        return instant.astimezone(zone).strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")
    except OverflowError:  # the edge of datetime's range, in a far-off zone
        return iso_utc(instant)


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (a lock name from Salto may hold
    escape sequences) are shown escaped; line breaks stay."""
    if text.isprintable():
        return text
    return "".join(
        c
        if c.isprintable() or c == "\n"
        else f"\\x{ord(c):02x}"
        if ord(c) < 256
        else f"\\u{ord(c):04x}"
        for c in text
    )
