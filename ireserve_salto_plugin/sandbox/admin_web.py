"""A small web admin for the reference host (Flask, server-rendered): the integration page
rendered from the plugin's exported form (``config_form``) alone — four tabs, the buttons,
GET PIN → Set PIN → "IQ is activated", the lock dropdown with online state, the mapping
table — and a booking view with the open button, the explainer and the guest message, in
nl, en and de (``?lang=``). ``ireserve-salto sandbox --admin`` serves it on the sandbox.

Secrets are never sent to the browser: secret fields render empty and saving goes through
``merge_settings`` (``ReferenceHost.save_form``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from .. import INTEGRATION
from ..i18n import language
from ..settings import describe_errors
from .host import Park, ReferenceHost

# The page's own words (not the plugin's): kept here, in three languages.
WORDS = {
    "Save": {"nl": "Opslaan", "de": "Speichern"},
    "IQ is activated": {"nl": "IQ is geactiveerd", "de": "IQ ist aktiviert"},
    "Open the door": {"nl": "Deur openen", "de": "Tür öffnen"},
    "Why": {"nl": "Waarom", "de": "Warum"},
    "Saved.": {"nl": "Opgeslagen.", "de": "Gespeichert."},
}


def create_app(host: ReferenceHost, park: Park) -> Flask:
    app = Flask(__name__)

    def lang() -> str:
        return language(request.args.get("lang") or park.locale)

    def render(template: str, form: Any = None, **context: Any) -> str:
        code = lang()
        form = form or host.pm.hook.config_form(integration=INTEGRATION)
        labels = {a["name"]: a["label"] for a in form["x-actions"]}
        return render_template(
            template, park=park, lang=code, form=form,
            t=lambda word: WORDS.get(word, {}).get(code, word),
            action_label=lambda name: labels[name][code],
            message=request.args.get("message"), bad=request.args.get("bad"), **context)

    @app.get("/")
    def page() -> str:
        form = host.pm.hook.config_form(integration=INTEGRATION)
        tab = request.args.get("tab", "authentication")
        current = next(t for t in form["x-tabs"] if t["name"] == tab)
        settings = park.integrations.get(INTEGRATION, {})
        iqs: list[dict[str, Any]] = []
        if tab == "iq_otp":
            listed = host.admin(park, INTEGRATION, "list_iqs")
            iqs = listed.data.get("iqs", [])
        options = host.lock_options(park, INTEGRATION) if tab == "mapping" else []
        return render("integration.html", form, tab=tab, current=current, settings=settings,
                      iqs=iqs, options=options,
                      lock_names={o["value"]: o["label"] for o in options})

    @app.post("/save")
    def save() -> Response:
        tab, code = request.args.get("tab", "authentication"), lang()
        park.locale = code  # messages in the language the admin reads the page in
        action = request.form.get("action", "save")
        if action != "save":
            name, _, iq_id = action.partition(":")
            params: dict[str, Any] = {"iq_id": iq_id} if iq_id else {}
            if name == "set_pin":
                params["current_pin"] = request.form.get(f"pin:{iq_id}", "")
            result = host.admin(park, INTEGRATION, name, **params)
            return _back(tab, code, result.message, not result.ok)
        try:
            host.save_form(park, INTEGRATION, _submitted(park, tab, request.form))
        except ValidationError as exc:
            return _back(tab, code, describe_errors(exc.messages, lang=code), True)
        return _back(tab, code, WORDS["Saved."].get(code, "Saved."), False)

    @app.get("/bookings")
    def bookings() -> str:
        return render("bookings.html", tab="", bookings=list(host.bookings.values()))

    @app.get("/booking/<booking_id>")
    def booking(booking_id: str, result: Any = None) -> str:
        found = host.bookings[booking_id]
        why = host.pm.hook.explain_access(park=park, booking=found, now=None)
        return render("booking.html", tab="", booking=found, why=why, result=result)

    @app.post("/booking/<booking_id>/open")
    def open_door(booking_id: str) -> str:
        found = host.bookings[booking_id]
        park.locale = lang()
        found.locale = lang()
        return booking(booking_id, host.open(found, "staff"))

    return app


def _back(tab: str, lang: str, message: str, bad: bool) -> Response:
    args: dict[str, Any] = {"tab": tab, "lang": lang, "message": message}
    if bad:
        args["bad"] = "1"
    return redirect(url_for("page", **args))


def _submitted(park: Park, tab: str, form: Any) -> dict[str, Any]:
    """The stored settings with this tab's inputs applied (as the browser sent them)."""
    new = dict(park.integrations.get(INTEGRATION, {}))
    if tab == "details":
        new["enabled"] = form.get("enabled") == "1"
    for key in ("environment", "username", "password", "site_uid", "open_field",
                "checkin_status"):
        if key in form:
            new[key] = form[key] or (None if key in ("open_field", "checkin_status") else "")
    if "minutes_before" in form:
        text = form["minutes_before"].strip()
        new["minutes_before"] = int(text) if text.lstrip("-").isdigit() else text
    if "open_statuses" in form:
        new["open_statuses"] = [s.strip() for s in form["open_statuses"].split(",") if s.strip()]
    if form.get("map_object"):
        new["mapping"] = {**new.get("mapping", {}), form["map_object"]: form["map_lock"]}
    return new


def serve(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A werkzeug server for ``app`` on loopback (``.serve_forever()``; ``.server_port``)."""
    from werkzeug.serving import make_server

    return make_server(host, port, app, threaded=True)
