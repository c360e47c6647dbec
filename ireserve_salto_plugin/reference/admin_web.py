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
import time
from collections.abc import Callable, Iterable
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
from ireserve_salto_plugin.park.i18n import language
from ireserve_salto_plugin.reference.admin_bookings import booking_pages
from ireserve_salto_plugin.reference.admin_forms import (
    mapping_rows,
    on_idle_iqs,
    parse_import,
    read_at_text,
    submitted_settings,
    suggestions,
)
from ireserve_salto_plugin.reference.host import Park, ReferenceHost
from ireserve_salto_plugin.reference.web_words import WEB_ADMIN

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
IDLE_SECONDS = 30 * 60  # a session without a request this long is over


def _port(host: str) -> str:
    """The port of a ``Host`` header (the session is bound to it)."""
    _, sep, port = host.rpartition(":")
    return port if sep and not port.endswith("]") else ""


SECRET_FIELDS = frozenset({"password", "iqs"})  # never rendered back into the page


def create_app(
    host: ReferenceHost,
    park: Park,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_NAMES,
    clock: Callable[[], float] = time.time,
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
    allowed = frozenset(allowed_hosts)

    @app.before_request
    def guard() -> Response | None:
        name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        if name not in allowed:  # a rebound DNS name reaching this loopback port
            abort(400)
        now = clock()
        if session.get("admin") and (
            session.get("port") != _port(request.host)
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
            session.update(admin=True, port=_port(request.host), seen=clock())
            return redirect(url_for("page", lang=request.args.get("lang")))
        if given:
            flash(
                i18n.word(
                    WEB_ADMIN, "Wrong login token: use the one the admin was started with.", lang()
                ),
                "bad",
            )
            return render("login.html", tab=""), 400
        return render("login.html", tab="")

    def lang() -> str:
        return language(request.args.get("lang") or park.locale)

    def render(template: str, form: Any = None, **context: Any) -> str:
        code = lang()
        form = form or host.pm.hook.config_form(integration=INTEGRATION)
        labels = {a["name"]: a["label"] for a in form["x-actions"]}
        context.setdefault("here", request.path)  # a page a GET can show again
        return render_template(
            template,
            park=park,
            lang=code,
            form=form,
            t=lambda text: i18n.word(WEB_ADMIN, text, code),
            action_label=lambda name: labels[name][code],
            messages=get_flashed_messages(with_categories=True),
            **context,
        )

    @app.get("/")
    def page(
        tab: str | None = None, edited: dict[str, Any] | None = None, forget: str | None = None
    ) -> str:
        """A tab of the form; ``forget``: the IQ whose "Forget IQ" asks for confirmation."""
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
        rows: list[dict[str, Any]] = []
        warnings: list[str] = []
        read_at = ""
        if tab == "mapping":
            if not options:
                trouble.append(
                    i18n.word(WEB_ADMIN, "No locks could be read from Salto KS", lang())
                    + " (Salto KS, mapping_options)."
                )
            else:
                read_at = read_at_text(options, park)
            listed = host.admin(park, INTEGRATION, "list_iqs")
            if not listed.ok:  # Salto is not answering now: the list below is older
                trouble.append(
                    listed.message
                    + (
                        " "
                        + i18n.word(
                            WEB_ADMIN, "The locks below are the list read at {time}.", lang()
                        ).format(time=read_at)
                        if read_at
                        else ""
                    )
                )
            rows = mapping_rows(
                host.objects,
                settings.get("mapping") or {},
                options,
                listed.data.get("iqs", []) if listed.ok else [],
            )
            idle = on_idle_iqs(rows, options)
            if idle:  # said on the page at once, not at the first guest's open
                warnings.append(
                    i18n.word(
                        WEB_ADMIN,
                        "Not activated yet: {locks} are on an IQ that is not "
                        'activated, so they cannot open (tab "Activate IQs").',
                        lang(),
                    ).format(locks=", ".join(idle[:10]))
                )
        return render(
            "integration.html",
            form,
            tab=tab,
            current=current,
            settings=settings,
            iqs=iqs,
            options=options,
            trouble=trouble,
            here=url_for("page"),
            forget=next((iq for iq in iqs if iq["id"] == forget), None),
            warnings=warnings,
            lock_names={o["value"]: o["label"] for o in options},
            rows=rows,
            common=list((settings.get("common_locks") or {}).items()),
            read_at=read_at,
            pasted=request.form.get("mapping_import", ""),
        )

    @app.post("/save")
    def save() -> Response | str | tuple[str, int]:
        tab, code = request.args.get("tab", "authentication"), lang()
        park.locale = code  # messages in the language the admin reads the page in
        action = request.form.get("action", "save")
        if tab == "mapping" and action.partition(":")[0] in ("unmap", "suggest", "import"):
            return mapping_action(action, code)
        if action != "save":
            name, _, iq_id = action.partition(":")
            params: dict[str, Any] = {"iq_id": iq_id} if iq_id else {}
            if name == "set_pin":
                params["current_pin"] = request.form.get(f"pin:{iq_id}", "")
            if name == "forget_iq":  # not one click: ask first, naming the IQ and what follows
                if request.form.get("confirmed") != "yes":
                    return page(tab, forget=iq_id)
                params["confirm"] = True
            result = host.admin(park, INTEGRATION, name, **params)
            return _back(tab, code, result.message, not result.ok)
        submitted = submitted_settings(park, tab, request.form)
        try:
            host.save_form(park, INTEGRATION, submitted)
        except ValidationError as exc:  # shown on the page as typed: no edit is lost
            flash(describe_errors(exc.messages, lang=code), "bad")
            shown = {k: v for k, v in submitted.items() if k not in SECRET_FIELDS}
            return page(tab, shown), 400
        return _back(tab, code, i18n.word(WEB_ADMIN, "Saved.", code), False)

    def mapping_action(action: str, code: str) -> Response | str | tuple[str, int]:
        """Delete one row, fill in the suggestions (not saved), or import pasted rows."""
        name, _, object_id = action.partition(":")
        stored = dict(park.integrations.get(INTEGRATION, {}))
        mapping = dict(stored.get("mapping") or {})
        options = host.lock_options(park, INTEGRATION)
        if name == "suggest":
            found = suggestions(host.objects, mapping, options)
            flash(
                i18n.word(
                    WEB_ADMIN, "{count} suggested: check them, then press Save.", code
                ).format(count=len(found)),
                "ok",
            )
            return page("mapping", {**stored, "mapping": {**mapping, **found}})
        if name == "unmap":
            mapping.pop(object_id, None)
        else:
            imported, errors = parse_import(request.form.get("mapping_import", ""), options, code)
            if errors:  # nothing saved; the pasted text stays in the box to correct
                flash(" ".join(errors), "bad")
                return page("mapping", stored)
            mapping.update(imported)
        try:
            host.save_form(park, INTEGRATION, {**stored, "mapping": mapping})
        except ValidationError as exc:
            flash(describe_errors(exc.messages, lang=code), "bad")
            return page("mapping", stored), 400
        return _back("mapping", code, i18n.word(WEB_ADMIN, "Saved.", code), False)

    booking_pages(app, host, park, lang, render)

    @app.errorhandler(404)
    def not_found(_: Any) -> tuple[str, int]:
        return "Not found", 404

    return app


def _back(tab: str, lang: str, message: str, bad: bool) -> Response:
    flash(message, "bad" if bad else "ok")  # in the session: no page shows text from a URL
    return redirect(url_for("page", tab=tab, lang=lang))


def serve(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A werkzeug server for ``app`` on loopback (``.serve_forever()``; ``.server_port``)."""
    from werkzeug.serving import make_server

    return make_server(host, port, app, threaded=True)
