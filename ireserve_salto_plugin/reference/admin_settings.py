"""The web admin's integration page: the tabs of the exported form, Save, the admin
buttons (Forget IQ after a confirmation naming the IQ), and the mapping tab's suggestions,
import and rows with what their IQs say."""

from __future__ import annotations

from typing import Any

from flask import (
    Flask,
    abort,
    flash,
    request,
    url_for,
)
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park import i18n
from ireserve_salto_plugin.park.fields import describe_errors
from ireserve_salto_plugin.reference.admin_forms import (
    form_mapping,
    lock_name,
    mapping_rows,
    names_and_more,
    on_idle_iqs,
    parse_import,
    read_at_text,
    shared_locks,
    submitted_settings,
    suggestions,
)
from ireserve_salto_plugin.reference.admin_view import View, back
from ireserve_salto_plugin.reference.web_words import WEB_ADMIN

SECRET_FIELDS = frozenset({"password", "iqs"})  # never rendered back into the page


def settings_pages(app: Flask, view: View) -> None:
    """The integration page (``page``) and its Save (``save``)."""
    pages = SettingsPages(view)
    app.add_url_rule("/", "page", pages.page, methods=["GET"])
    app.add_url_rule("/save", "save", pages.save, methods=["POST"])


class SettingsPages:
    """The integration page's tabs and Save, for one park."""

    def __init__(self, view: View) -> None:
        self.view = view

    def page(
        self,
        tab: str | None = None,
        edited: dict[str, Any] | None = None,
        forget: str | None = None,
        test_open: dict[str, str] | None = None,
    ) -> str:
        """A tab of the form; ``forget``: the IQ whose "Forget IQ" asks for confirmation."""
        view = self.view
        form = view.host.pm.hook.config_form(integration=INTEGRATION)
        tab = tab or request.args.get("tab", "authentication")
        current = next((t for t in form["x-tabs"] if t["name"] == tab), None)
        if current is None:
            abort(404)
        settings = edited if edited is not None else view.park.integrations.get(INTEGRATION, {})
        iqs: list[dict[str, Any]] = []
        trouble: list[str] = []
        if tab == "iq_otp":
            listed = view.host.admin(view.park, INTEGRATION, "list_iqs")
            iqs = listed.data.get("iqs", [])
            if not listed.ok:
                trouble.append(listed.message)
        mapping_tab = self._mapping_tab(settings, trouble) if tab == "mapping" else {}
        options = mapping_tab.get("options", [])
        return view.render(
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
            test_open=test_open,
            staff_opens=settings.get("staff_open_enabled", True) is not False,
            warnings=mapping_tab.get("warnings", []),
            lock_names={o["value"]: o["label"] for o in options},
            rows=mapping_tab.get("rows", []),
            common=list((settings.get("common_locks") or {}).items()),
            read_at=mapping_tab.get("read_at", ""),
            pasted=request.form.get("mapping_import", ""),
        )

    def _mapping_tab(self, settings: dict[str, Any], trouble: list[str]) -> dict[str, Any]:
        """The mapping tab's lock options, rows (with what their IQs say), the time the
        list was read and the warnings said at once (not at the first guest's open)."""
        view = self.view
        options = view.host.lock_options(view.park, INTEGRATION)
        read_at = read_at_text(options, view.park) if options else ""
        if not options:
            trouble.append(
                view.word("No locks could be read from Salto KS") + " (Salto KS, mapping_options)."
            )
        listed = view.host.admin(view.park, INTEGRATION, "list_iqs")
        if not listed.ok:  # Salto is not answering now: the list below is older
            older = view.word("The locks below are the list read at {time}.")
            trouble.append(listed.message + (" " + older.format(time=read_at) if read_at else ""))
        rows = mapping_rows(
            view.host.objects,
            settings.get("mapping") or {},
            options,
            listed.data.get("iqs", []) if listed.ok else [],
        )
        warnings = []
        idle = on_idle_iqs(rows, options)
        if idle:
            warnings.append(
                view.word(
                    "Not activated yet: {locks} are on an IQ that is not "
                    'activated, so they cannot open (tab "Activate IQs").'
                ).format(locks=names_and_more(idle, view.lang()))
            )
        return {"options": options, "rows": rows, "read_at": read_at, "warnings": warnings}

    def save(self) -> Response | str | tuple[str, int]:
        view = self.view
        tab, code = request.args.get("tab", "authentication"), view.lang()
        view.park.locale = code  # messages in the language the admin reads the page in
        action = request.form.get("action", "save")
        if tab == "mapping" and action.partition(":")[0] in ("unmap", "suggest", "import"):
            return self.mapping_action(action, code)
        if action != "save":
            return self.button(tab, code, action)
        submitted = submitted_settings(view.park, tab, request.form)
        try:
            view.host.save_form(view.park, INTEGRATION, submitted)
        except ValidationError as exc:  # shown on the page as typed: no edit is lost
            flash(describe_errors(exc.messages, lang=code), "bad")
            shown = {k: v for k, v in submitted.items() if k not in SECRET_FIELDS}
            return self.page(tab, shown), 400
        return back(tab, code, i18n.word(WEB_ADMIN, "Saved.", code), False)

    def button(self, tab: str, code: str, action: str) -> Response | str:
        """An admin button of the tab (``name:iq_id``); Forget IQ asks first, naming the IQ
        and what follows."""
        name, _, iq_id = action.partition(":")
        params: dict[str, Any] = {"iq_id": iq_id} if iq_id else {}
        if name == "set_pin":
            params["current_pin"] = request.form.get(f"pin:{iq_id}", "")
        if name == "test_open":  # a real open: ask first, naming the lock it will open
            return self._test_open(tab, code, iq_id)
        if name == "forget_iq":
            if request.form.get("confirmed") != "yes":
                return self.page(tab, forget=iq_id)
            params["confirm"] = True
        result = self.view.host.admin(self.view.park, INTEGRATION, name, **params)
        return back(tab, code, result.message, not result.ok)

    def _test_open(self, tab: str, code: str, iq_id: str) -> Response | str:
        """A test open of one lock of the IQ (the first by name): the only proof that the IQ
        itself takes the stored codes. Asks first, naming the lock."""
        view = self.view
        options = view.host.lock_options(view.park, INTEGRATION)
        locks = sorted((o for o in options if o.get("iq_id") == iq_id), key=lock_name)
        if not locks:
            return back(tab, code, view.word("No lock of this IQ is known."), True)
        lock = locks[0]
        if request.form.get("confirmed") != "yes":
            return self.page(
                tab, test_open={"iq": iq_id, "lock": lock["value"], "name": lock_name(lock)}
            )
        result = view.host.admin(
            view.park,
            INTEGRATION,
            "test_open",
            lock_id=lock["value"],
            requested_by="staff:web-admin",
        )
        return back(tab, code, result.message, not result.ok)

    def mapping_action(self, action: str, code: str) -> Response | str | tuple[str, int]:
        """Delete one row, fill in the suggestions (not saved), or import pasted rows. Each
        starts from the mapping as the form shows it (the dropdowns, suggestions included),
        so no button drops what the admin sees; a failed import keeps it on the page."""
        view = self.view
        name, _, object_id = action.partition(":")
        stored = dict(view.park.integrations.get(INTEGRATION, {}))
        shown = form_mapping(dict(stored.get("mapping") or {}), request.form)
        options = view.host.lock_options(view.park, INTEGRATION)
        if name == "suggest":
            found = suggestions(view.host.objects, shown, options)
            said = i18n.word(WEB_ADMIN, "{count} suggested: check them, then press Save.", code)
            flash(said.format(count=len(found)), "ok")
            return self.page("mapping", {**stored, "mapping": {**shown, **found}})
        saved = i18n.word(WEB_ADMIN, "Saved.", code)
        if name == "unmap":
            shown.pop(object_id, None)
        else:
            text = request.form.get("mapping_import", "")
            imported, errors = parse_import(text, options, code, view.host.objects)
            if errors:  # nothing saved; the pasted text and the form's rows stay to correct
                flash(" ".join(errors), "bad")
                return self.page("mapping", {**stored, "mapping": shown})
            said = "Saved: {imported} pasted rows, with the other rows as the form showed them."
            saved = i18n.word(WEB_ADMIN, said, code).format(imported=len(imported))
            shown.update(imported)
        try:
            view.host.save_form(view.park, INTEGRATION, {**stored, "mapping": shown})
        except ValidationError as exc:
            flash(describe_errors(exc.messages, lang=code), "bad")
            return self.page("mapping", {**stored, "mapping": shown}), 400
        shared = shared_locks(shown, options)
        if shared:
            note = i18n.word(WEB_ADMIN, "One lock for more than one object: {locks}.", code)
            saved += " " + note.format(locks="; ".join(shared))
        return back("mapping", code, saved, False)
