"""A small web admin for the reference host (Flask, server-rendered): the integration page
rendered from the plugin's exported form (``config_form``) alone — four tabs, the buttons,
GET PIN → Set PIN → "IQ is activated", the lock dropdown with online state, the mapping
table — and a booking view with the open button, the explainer and the guest message, in
nl, en and de (``?lang=``). ``ireserve-salto sandbox --admin`` serves it on the sandbox.

Secrets are never sent to the browser: secret fields render empty and saving goes through
``merge_settings`` (``ReferenceHost.save_form``).

It is an example integrators copy, so it shows what such a page must protect: it binds to
loopback; every page needs a login (a token printed when it starts, traded for a session
cookie that is ``HttpOnly`` and ``SameSite=Strict``); every POST carries a CSRF token
(Flask-WTF); a request whose ``Host`` is not an allowed name is refused (DNS rebinding);
a staff open asks for confirmation with the lock's name; messages travel in the session,
never in the URL. What a host must add: its own users and roles instead of one token,
TLS, audit of who pressed what.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from flask import (
    Flask,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park import i18n
from ireserve_salto_plugin.park.fields import describe_errors
from ireserve_salto_plugin.park.i18n import NP_, language
from ireserve_salto_plugin.reference.host import Park, ReferenceHost

WEB_ADMIN = "web admin"  # the catalogs' context of the page's own words
# The page's own words (not the plugin's), in the catalogs under the context "web admin";
# templates show them with t(word). A test checks every t(...) of a template is here.
WORDS = frozenset({
    NP_("web admin", "Save"),
    NP_("web admin", "IQ is activated"),
    NP_("web admin", "Open the door"),
    NP_("web admin", "Why"),
    NP_("web admin", "Saved."),
    NP_("web admin", "Open lock"),
    NP_("web admin", "Yes, open it now"),
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
    NP_("web admin", "Details"),
    NP_("web admin", "ok"),
    NP_("web admin", "fail"),
    NP_("web admin", "unknown"),
    NP_("web admin", "settings"),
    NP_("web admin", "enabled"),
    NP_("web admin", "booking"),
    NP_("web admin", "lock_mapped"),
    NP_("web admin", "lock_exists"),
    NP_("web admin", "iq_activated"),
    NP_("web admin", "status"),
    NP_("web admin", "window"),
    NP_("web admin", "salto"),
    NP_("web admin", "otp_budget"),
    NP_("web admin", "iq_online"),
    NP_("web admin", "lock_online"),
    NP_("web admin", "clock"),
    NP_("web admin", "Login token (printed when the web admin started)"),
})


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SECRET_FIELDS = frozenset({"password", "iqs"})  # never rendered back into the page


def create_app(host: ReferenceHost, park: Park, *, token: str | None = None,
               allowed_hosts: Iterable[str] = LOOPBACK_NAMES) -> Flask:
    """The app; ``token`` (random when not given, read back as ``app.config["LOGIN_TOKEN"]``)
    is what the admin types once at ``/login``."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), LOGIN_TOKEN=token or
                      secrets.token_urlsafe(24), SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", WTF_CSRF_TIME_LIMIT=None)
    CSRFProtect(app)
    allowed = frozenset(allowed_hosts)

    @app.before_request
    def guard() -> Response | None:
        name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") \
            else request.host
        if name not in allowed:  # a rebound DNS name reaching this loopback port
            abort(400)
        if request.endpoint not in ("login", "static") and not session.get("admin"):
            return redirect(url_for("login", lang=request.args.get("lang")))
        return None

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        given = request.form.get("token", "") if request.method == "POST" else ""
        if given and hmac.compare_digest(given, app.config["LOGIN_TOKEN"]):
            session.clear()
            session["admin"] = True
            return redirect(url_for("page", lang=request.args.get("lang")))
        if given:
            flash("?", "bad")
        return render("login.html", tab="")

    def lang() -> str:
        return language(request.args.get("lang") or park.locale)

    def render(template: str, form: Any = None, **context: Any) -> str:
        code = lang()
        form = form or host.pm.hook.config_form(integration=INTEGRATION)
        labels = {a["name"]: a["label"] for a in form["x-actions"]}
        context.setdefault("here", request.path)  # a page a GET can show again
        return render_template(
            template, park=park, lang=code, form=form,
            t=lambda text: i18n.word(WEB_ADMIN, text, code),
            action_label=lambda name: labels[name][code],
            messages=get_flashed_messages(with_categories=True), **context)

    @app.get("/")
    def page(tab: str | None = None, edited: dict[str, Any] | None = None) -> str:
        form = host.pm.hook.config_form(integration=INTEGRATION)
        tab = tab or request.args.get("tab", "authentication")
        current = next((t for t in form["x-tabs"] if t["name"] == tab), None)
        if current is None:
            abort(404)
        settings = edited if edited is not None else park.integrations.get(INTEGRATION, {})
        iqs: list[dict[str, Any]] = []
        trouble: list[str] = []
        if tab == "iq_otp":
            listed = host.admin(park, INTEGRATION, "list_iqs")
            iqs = listed.data.get("iqs", [])
            if not listed.ok:
                trouble.append(listed.message)
        options = host.lock_options(park, INTEGRATION) if tab in ("mapping",) else []
        if tab == "mapping" and not options:
            trouble.append(i18n.word(WEB_ADMIN, "No locks could be read from Salto KS", lang())
                           + " (Salto KS, mapping_options).")
        return render("integration.html", form, tab=tab, current=current, settings=settings,
                      iqs=iqs, options=options, trouble=trouble, here=url_for("page"),
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
        submitted = _submitted(park, tab, request.form)
        try:
            host.save_form(park, INTEGRATION, submitted)
        except ValidationError as exc:  # shown on the page as typed: no edit is lost
            flash(describe_errors(exc.messages, lang=code), "bad")
            shown = {k: v for k, v in submitted.items() if k not in SECRET_FIELDS}
            return page(tab, shown)  # type: ignore[return-value]
        return _back(tab, code, i18n.word(WEB_ADMIN, "Saved.", code), False)

    @app.get("/bookings")
    def bookings() -> str:
        return render("bookings.html", tab="", bookings=list(host.bookings.values()))

    def found_booking(booking_id: str) -> Any:
        found = host.bookings.get(booking_id)
        if found is None:
            abort(404)
        return found

    @app.get("/booking/<path:booking_id>")
    def booking(booking_id: str, result: Any = None, confirm: str | None = None) -> str:
        found = found_booking(booking_id)
        why = host.pm.hook.explain_access(park=park, booking=found, now=None)
        return render("booking.html", tab="", booking=found, why=why, result=result,
                      confirm=confirm, here=url_for("booking", booking_id=booking_id))

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

    @app.errorhandler(404)
    def not_found(_: Any) -> tuple[str, int]:
        return "Not found", 404

    return app


def _back(tab: str, lang: str, message: str, bad: bool) -> Response:
    flash(message, "bad" if bad else "ok")  # in the session: no page shows text from a URL
    return redirect(url_for("page", tab=tab, lang=lang))


def _submitted(park: Park, tab: str, form: Any) -> dict[str, Any]:
    """The stored settings with this tab's inputs applied (as the browser sent them)."""
    new = dict(park.integrations.get(INTEGRATION, {}))
    if tab == "details":
        new["enabled"] = form.get("enabled") == "1"
    for key in ("environment", "username", "password", "site_uid", "open_field",
                "checkin_status", "guest_address"):
        if key in form:
            new[key] = form[key] or (None if key in ("open_field", "checkin_status") else "")
    if "minutes_before" in form:
        text = form["minutes_before"].strip()
        new["minutes_before"] = int(text) if text.lstrip("-").isdigit() else text
    if "open_statuses" in form:
        new["open_statuses"] = [s.strip() for s in form["open_statuses"].split(",") if s.strip()]
    if "default_lock_id" in form:
        new["default_lock_id"] = form["default_lock_id"] or None
    if form.get("map_object"):
        new["mapping"] = {**new.get("mapping", {}), form["map_object"]: form["map_lock"]}
    return new


def serve(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A werkzeug server for ``app`` on loopback (``.serve_forever()``; ``.server_port``)."""
    from werkzeug.serving import make_server

    return make_server(host, port, app, threaded=True)
