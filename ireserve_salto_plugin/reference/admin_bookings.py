"""The web admin's booking pages: the bookings, one booking with why it can or cannot open
(and an open by staff after a confirmation naming the lock), and "open a door" without a
booking (a lock, a reason, a confirmation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    abort,
    flash,
    request,
    url_for,
)

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.i18n import when
from ireserve_salto_plugin.reference.admin_forms import (
    lock_name,
)
from ireserve_salto_plugin.reference.host import Park, ReferenceHost
from ireserve_salto_plugin.reference.web_words import STATUS_WORDS, STEP_LABELS


def booking_pages(
    app: Flask,
    host: ReferenceHost,
    park: Park,
    lang: Callable[[], str],
    render: Callable[..., str],
) -> None:
    """Adds the booking pages to ``app`` (one park's web admin)."""

    @app.get("/bookings")
    def bookings() -> str:
        """Each booking with its stay in the park's zone and its status in words."""
        rows = [booking_row(host, park, b, lang()) for b in host.bookings.values()]
        return render("bookings.html", tab="", bookings=rows)

    def found_booking(booking_id: str) -> Any:
        found = host.bookings.get(booking_id)
        if found is None:
            abort(404)
        return found

    @app.get("/booking/<path:booking_id>")
    def booking(booking_id: str, result: Any = None, confirm: str | None = None) -> str:
        found = found_booking(booking_id)
        # in the language this page is read in (a GET never changes the park's)
        why = host.pm.hook.explain_access(
            park=replace(park, locale=lang()), booking=found, now=None
        )
        return render(
            "booking.html",
            tab="",
            booking=found,
            why=why,
            step_labels=STEP_LABELS,
            status_word=STATUS_WORDS.get(found.status, found.status),
            result=result,
            confirm=confirm,
            here=url_for("booking", booking_id=booking_id),
        )

    @app.post("/open/<path:booking_id>")
    def open_door(booking_id: str) -> str:
        found = found_booking(booking_id)
        park.locale = lang()
        found.locale = lang()
        if request.form.get("confirmed") != "yes":  # first ask, naming the lock
            why = host.pm.hook.explain_access(park=park, booking=found, now=None)
            names = {o["value"]: o["label"] for o in host.lock_options(park, INTEGRATION)}
            lock = names.get(why.lock_id or "", why.lock_id or "?")
            return booking(booking_id, confirm=lock)
        return booking(booking_id, host.open(found, "staff:web-admin"))

    @app.route("/open-a-door", methods=["GET", "POST"])
    def open_a_door() -> str:
        """Reception opens a lock without a booking (housekeeping, maintenance): a lock, a
        reason, then a confirmation naming the lock; the staff_open action does the rest."""
        code = lang()
        if request.method == "POST":  # a GET (a link, a reload) never changes the park's
            park.locale = code  # language: only what the admin submits in one does
        options = host.lock_options(park, INTEGRATION)
        names = {o["value"]: lock_name(o) for o in options}
        lock, why = request.form.get("lock_id", ""), request.form.get("reason", "").strip()
        result, confirm = None, None
        if request.method == "POST":
            if not why:  # checked before the confirmation, not after it
                flash(say(code, "staff_open_reason"), "bad")
            elif request.form.get("confirmed") != "yes":
                confirm = names.get(lock, lock)
            else:
                result = host.admin(
                    park,
                    INTEGRATION,
                    "staff_open",
                    lock_id=lock,
                    reason=why,
                    requested_by="staff:web-admin",
                )
        return render(
            "open_a_door.html",
            tab="",
            options=options,
            lock=lock,
            why=why,
            confirm=confirm,
            result=result,
            here=url_for("open_a_door"),
        )


def booking_row(host: ReferenceHost, park: Park, booking: Any, lang: str) -> dict[str, Any]:
    """A booking as the bookings page lists it: the object's name, the stay in the park's
    zone, the status in words (the host's own code when it has none)."""
    zone = ZoneInfo(park.timezone)

    def local(moment: datetime) -> str:
        return when(moment if moment.tzinfo else moment.replace(tzinfo=zone), zone, lang)

    return {
        "id": booking.id,
        "object": host.objects.get(booking.object_id, booking.object_id),
        "status": STATUS_WORDS.get(booking.status, booking.status),
        "stay": f"{local(booking.arrival)} – {local(booking.departure)}",
    }
