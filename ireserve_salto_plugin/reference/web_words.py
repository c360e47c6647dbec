"""The web admin page's own words (labels, headings, buttons), marked for the catalogs under
the context ``web admin``; the templates translate them in the page's language."""

from __future__ import annotations

from ireserve_salto_plugin.park.i18n import NP_

WEB_ADMIN = "web admin"  # the catalogs' context of the page's own words


# The page's own words (not the plugin's), in the catalogs under the context "web admin";
# templates show them with t(word). A test checks every t(...) of a template is here.
WORDS = frozenset(
    {
        NP_("web admin", "Save"),
        NP_("web admin", "IQ is activated"),
        NP_("web admin", "Open the door"),
        NP_("web admin", "Why"),
        NP_("web admin", "Saved."),
        NP_("web admin", "Open lock"),
        NP_("web admin", "Yes, open it now"),
        NP_("web admin", "Forget IQ"),
        NP_(
            "web admin",
            "Its secret and PIN are deleted here. GET PIN is then no longer possible "
            "until the IQ's PIN is reset in Salto KS.",
        ),
        NP_("web admin", "Yes, forget it"),
        NP_("web admin", "Log out"),
        NP_("web admin", "Door log"),
        NP_("web admin", "From"),
        NP_("web admin", "To"),
        NP_("web admin", "Show"),
        NP_("web admin", "Download CSV"),
        NP_("web admin", "Last attempt"),
        NP_("web admin", "No lock of this IQ is known."),
        NP_(
            "web admin",
            "A real open, logged as a test open: the only proof that the IQ itself takes the "
            "stored codes.",
        ),
        NP_("web admin", "Confirmed"),
        NP_("web admin", "Option"),
        NP_("web admin", "Checked in"),
        NP_("web admin", "Cancelled"),
        NP_("web admin", "and {count} others"),
        NP_("web admin", "Sandbox mailbox (PIN e-mails)"),
        NP_("web admin", "Line {line}: no object here is called {object}."),
        NP_(
            "web admin",
            "Saved: {imported} pasted rows, with the other rows as the form showed them.",
        ),
        NP_("web admin", "One lock for more than one object: {locks}."),
        NP_("web admin", "Wrong login token: use the one the admin was started with."),
        NP_("web admin", "Cancel"),
        NP_("web admin", "No locks could be read from Salto KS"),
        NP_("web admin", "Log in"),
        NP_("web admin", "Bookings"),
        NP_("web admin", "online"),
        NP_("web admin", "yes"),
        NP_("web admin", "no"),
        NP_("web admin", "object"),
        NP_("web admin", "lock"),
        NP_("web admin", "object id"),
        NP_("web admin", "Guest sees:"),
        NP_("web admin", "For staff:"),
        NP_("web admin", "technical details"),
        NP_("web admin", "ok"),
        NP_("web admin", "fail"),
        NP_("web admin", "unknown"),
        NP_("web admin", "Settings"),
        NP_("web admin", "Switched on"),
        NP_("web admin", "Booking"),
        NP_("web admin", "Lock mapped"),
        NP_("web admin", "Lock at Salto"),
        NP_("web admin", "IQ activated"),
        NP_("web admin", "Status"),
        NP_("web admin", "Time window"),
        NP_("web admin", "Salto reachable"),
        NP_("web admin", "Code budget"),
        NP_("web admin", "IQ online"),
        NP_("web admin", "Lock online"),
        NP_("web admin", "Clock"),
        NP_("web admin", "Login token (printed when the web admin started)"),
        NP_("web admin", "Lock list read from Salto KS at"),
        NP_("web admin", "suggested:"),
        NP_("web admin", "not activated"),
        NP_("web admin", "Delete"),
        NP_("web admin", "Use suggestions"),
        NP_("web admin", "Paste rows: object;lock (the lock's name or id), one per line"),
        NP_("web admin", "Import"),
        NP_("web admin", "{count} suggested: check them, then press Save."),
        NP_("web admin", "Line {line}: write an object and a lock."),
        NP_("web admin", "Line {line}: no lock of the site is called {lock}."),
        NP_("web admin", "Line {line}: {lock} names more than one lock; use its id."),
        NP_(
            "web admin",
            "Not activated yet: {locks} are on an IQ that is not activated, so they "
            'cannot open (tab "Activate IQs").',
        ),
        NP_("web admin", "The locks below are the list read at {time}."),
        NP_("web admin", "Open a door"),
        NP_("web admin", "Reason (housekeeping, maintenance, ...)"),
        NP_("web admin", "label"),
        NP_("web admin", "Doors"),
        NP_("web admin", "own"),
        NP_("web admin", "common"),
    }
)


# The explainer's step names (the checklist's codes) as the page labels them.
STEP_LABELS = {
    "last_attempt": "Last attempt",
    "settings": "Settings",
    "enabled": "Switched on",
    "booking": "Booking",
    "lock_mapped": "Lock mapped",
    "lock_exists": "Lock at Salto",
    "iq_activated": "IQ activated",
    "status": "Status",
    "window": "Time window",
    "salto": "Salto reachable",
    "otp_budget": "Code budget",
    "iq_online": "IQ online",
    "lock_online": "Lock online",
    "clock": "Clock",
}


# The reference host's booking statuses (its own codes) as the bookings page says them.
STATUS_WORDS = {
    "confirmed": "Confirmed",
    "option": "Option",
    "checked_in": "Checked in",
    "cancelled": "Cancelled",
}
