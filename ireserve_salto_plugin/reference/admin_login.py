"""The web admin's login: a token traded for a session bound to its port, ended when idle
or on "Log out"; every request's ``Host`` checked against the allowed names (DNS
rebinding)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from flask import (
    Flask,
    abort,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from ireserve_salto_plugin.park import i18n
from ireserve_salto_plugin.reference.admin_view import View
from ireserve_salto_plugin.reference.web_words import WEB_ADMIN

IDLE_SECONDS = 30 * 60  # a session without a request this long is over


def port_of(host: str) -> str:
    """The port of a ``Host`` header (the session is bound to it)."""
    _, sep, port = host.rpartition(":")
    return port if sep and not port.endswith("]") else ""


def login_pages(
    app: Flask, allowed: frozenset[str], clock: Callable[[], float], view: View
) -> None:
    """The login guard before every request, and the login and logout pages."""

    @app.before_request
    def guard() -> Response | None:
        name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        if name not in allowed:  # a rebound DNS name reaching this loopback port
            abort(400)
        now = clock()
        if session.get("admin") and (
            session.get("port") != port_of(request.host)
            or now - float(session.get("seen", 0)) > IDLE_SECONDS
        ):
            session.clear()  # another port's, or idle too long: log in again
        if request.endpoint not in ("login", "static") and not session.get("admin"):
            return redirect(url_for("login", lang=request.args.get("lang")))
        if session.get("admin"):
            session["seen"] = now
        return None

    @app.post("/logout")
    def logout() -> Response:
        session.clear()
        return redirect(url_for("login", lang=request.args.get("lang")))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        given = request.form.get("token", "") if request.method == "POST" else ""
        # bytes: compare_digest refuses a str with characters outside ASCII (it was a 500)
        if given and hmac.compare_digest(given.encode(), app.config["LOGIN_TOKEN"].encode()):
            session.clear()
            session.update(admin=True, port=port_of(request.host), seen=clock())
            return redirect(url_for("page", lang=request.args.get("lang")))
        if given:
            flash(
                i18n.word(
                    WEB_ADMIN,
                    "Wrong login token: use the one the admin was started with.",
                    view.lang(),
                ),
                "bad",
            )
            return view.render("login.html", tab=""), 400
        return view.render("login.html", tab="")
