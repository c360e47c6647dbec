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
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from ireserve_salto_plugin.park.text import local_time
from ireserve_salto_plugin.reference.host import Park, ReferenceHost

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
                read_at = _read_at(options, park)
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
            idle = _on_idle_iqs(rows, options)
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
        submitted = _submitted(park, tab, request.form)
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
        return render(
            "booking.html",
            tab="",
            booking=found,
            why=why,
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
        names = {o["value"]: _lock_name(o) for o in options}
        lock, why = request.form.get("lock_id", ""), request.form.get("reason", "").strip()
        result, confirm = None, None
        if request.method == "POST":
            if request.form.get("confirmed") != "yes":
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

    @app.errorhandler(404)
    def not_found(_: Any) -> tuple[str, int]:
        return "Not found", 404

    return app


def _norm(text: str) -> str:
    """``"chalet-12"``, ``"Chalet 12"`` → ``"chalet12"``: how names are matched."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _lock_name(option: dict[str, Any]) -> str:
    return str(option["label"]).removesuffix(" (offline)")


def suggestions(
    objects: dict[str, str], mapping: dict[str, str], options: list[dict[str, Any]]
) -> dict[str, str]:
    """Unmapped objects whose id or name is one lock's name but for case, spaces and
    punctuation ("chalet-12" ↔ "Chalet 12"); a name two locks share suggests nothing."""
    by_name: dict[str, list[str]] = {}
    for option in options:
        by_name.setdefault(_norm(_lock_name(option)), []).append(option["value"])
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
    text: str, options: list[dict[str, Any]], lang: str
) -> tuple[dict[str, str], list[str]]:
    """Pasted rows ``object;lock`` (or ``,`` or a tab, as a spreadsheet copies them), the
    lock by its id or its name in any case; a first row ``object;lock`` is a header. The
    errors name the line, in ``lang``."""
    by_id = {option["value"].lower(): option["value"] for option in options}
    by_name: dict[str, list[str]] = {}
    for option in options:
        by_name.setdefault(_lock_name(option).casefold(), []).append(option["value"])
    mapping: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.replace("\t", ";").replace(",", ";").split(";")]
        if len(parts) != 2 or not all(parts):
            errors.append(
                i18n.word(WEB_ADMIN, "Line {line}: write an object and a lock.", lang).format(
                    line=number
                )
            )
            continue
        object_id, lock = parts
        if number == 1 and (object_id.casefold(), lock.casefold()) == ("object", "lock"):
            continue
        found = by_id.get(lock.strip("{}").lower())
        names = by_name.get(lock.casefold(), [])
        if found is None and len(names) == 1:
            found = names[0]
        if found is None:
            errors.append(
                i18n.word(
                    WEB_ADMIN,
                    "Line {line}: no lock of the site is called {lock}."
                    if not names
                    else "Line {line}: {lock} names more than one lock; use its id.",
                    lang,
                ).format(line=number, lock=repr(lock[:60]))
            )
            continue
        mapping[object_id] = found
    return mapping, errors


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


def _on_idle_iqs(rows: list[dict[str, Any]], options: list[dict[str, Any]]) -> list[str]:
    """The names of the mapped locks whose IQ is not activated here (and needs a code)."""
    names = {option["value"]: _lock_name(option) for option in options}
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


def _read_at(options: list[dict[str, Any]], park: Park) -> str:
    """When the lock list was read from Salto, in the park's time."""
    stamp = str(options[0].get("read_at") or "") if options else ""
    if not stamp:
        return ""
    try:
        return local_time(datetime.fromisoformat(stamp), ZoneInfo(park.timezone))
    except (ValueError, KeyError):
        return stamp


def _back(tab: str, lang: str, message: str, bad: bool) -> Response:
    flash(message, "bad" if bad else "ok")  # in the session: no page shows text from a URL
    return redirect(url_for("page", tab=tab, lang=lang))


MAX_DIGITS = 9  # a number typed in the form (minutes): longer is no number of minutes


def _submitted(park: Park, tab: str, form: Any) -> dict[str, Any]:
    """The stored settings with this tab's inputs applied (as the browser sent them)."""
    new = dict(park.integrations.get(INTEGRATION, {}))
    if tab == "details":
        new["enabled"] = form.get("enabled") == "1"
        new["staff_open_enabled"] = form.get("staff_open_enabled") == "1"
        texts = {lang: form.get(f"fallback:{lang}", "").strip() for lang in ("nl", "en", "de")}
        new["guest_fallback_text"] = {lang: text for lang, text in texts.items() if text}
    for key in (
        "environment",
        "username",
        "password",
        "site_uid",
        "open_field",
        "checkin_status",
        "guest_address",
        "reception_phone",
    ):
        if key in form:
            new[key] = form[key] or (
                None if key in ("open_field", "checkin_status", "reception_phone") else ""
            )
    for key in ("minutes_before", "minutes_after"):
        if key in form:
            text = form[key].strip()
            digits = text.removeprefix("-")
            # ASCII digits only ("²" is a digit to str.isdigit, not to int), and few of them
            # (int() refuses 5,000): anything else goes to the schema, which names the field
            new[key] = (
                int(text)
                if digits.isascii() and digits.isdigit() and len(digits) <= MAX_DIGITS
                else text
            )
    if "open_statuses" in form:
        new["open_statuses"] = [s.strip() for s in form["open_statuses"].split(",") if s.strip()]
    if "default_lock_id" in form:
        new["default_lock_id"] = form["default_lock_id"] or None
    if tab == "mapping":  # one dropdown per object; "—" leaves it unmapped
        mapping = dict(new.get("mapping") or {})
        for key in form:
            if key.startswith("lock:"):
                if form[key]:  # its own lock; an object's further doors stay as they are
                    old = mapping.get(key[5:])
                    rest = (
                        [lock for lock in old[1:] if lock != form[key]]
                        if isinstance(old, list)
                        else []
                    )
                    mapping[key[5:]] = [form[key], *rest] if rest else form[key]
                else:
                    mapping.pop(key[5:], None)
        if form.get("map_object"):  # an object the host does not list, by its id
            mapping[form["map_object"]] = form["map_lock"]
        new["mapping"] = mapping
        common: dict[str, str] = {}  # rows of a lock and its label; "—" drops the row
        for key in form:
            if key.startswith("common:") and form[key]:
                common[form[key]] = form.get(f"common_label:{key[7:]}", "").strip()
        new["common_locks"] = common
    return new


def serve(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A werkzeug server for ``app`` on loopback (``.serve_forever()``; ``.server_port``)."""
    from werkzeug.serving import make_server

    return make_server(host, port, app, threaded=True)
