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

import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import (
    Flask,
)
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

from ireserve_salto_plugin.reference.admin_bookings import booking_pages
from ireserve_salto_plugin.reference.admin_log import log_pages
from ireserve_salto_plugin.reference.admin_login import login_pages
from ireserve_salto_plugin.reference.admin_settings import settings_pages
from ireserve_salto_plugin.reference.admin_view import View
from ireserve_salto_plugin.reference.host import Park, ReferenceHost

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def create_app(
    host: ReferenceHost,
    park: Park,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_NAMES,
    clock: Callable[[], float] = time.time,
    mailbox: str | None = None,
) -> Flask:
    """The app; ``token`` (random when not given, read back as ``app.config["LOGIN_TOKEN"]``)
    is what the admin types once at ``/login``.

    The session: signed with a key of this start, in a cookie whose name holds a secret of
    this start (another admin or any app on another loopback port has another name and
    another key), bound to the port the admin logged in on (a cookie sent to another
    port, as browsers do for one host, is refused here when replayed from there), ended
    after 30 minutes without a request (``clock``: the wall clock, for tests) and by
    "Log out". What it cannot do: a process on this machine that receives the browser's
    cookie and replays it to this very port within the idle time is the admin (loopback
    is the trust boundary of the reference admin: put a host's own login in front)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        LOGIN_TOKEN=token or secrets.token_urlsafe(24),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_NAME=f"salto-admin-{secrets.token_hex(8)}",
    )
    CSRFProtect(app)
    view = View(host, park, mailbox)
    login_pages(app, frozenset(allowed_hosts), clock, view)
    settings_pages(app, view)
    booking_pages(app, host, park, view.lang, view.render)
    log_pages(app, host, park, view.lang, view.render)

    @app.errorhandler(404)
    def not_found(_: Any) -> tuple[str, int]:
        return "Not found", 404

    return app


def serve(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A werkzeug server for ``app`` on loopback (``.serve_forever()``; ``.server_port``)."""
    from werkzeug.serving import make_server

    return make_server(host, port, app, threaded=True)
