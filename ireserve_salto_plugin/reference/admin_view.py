"""One park's web admin pages as a request sees them: their language and how a template is
rendered (the exported form, its labels, the flashed messages)."""

from __future__ import annotations

from typing import Any

from flask import (
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.park import i18n
from ireserve_salto_plugin.park.i18n import language
from ireserve_salto_plugin.reference.host import Park, ReferenceHost
from ireserve_salto_plugin.reference.web_words import WEB_ADMIN


class View:
    """One park's pages: the language a request reads them in, and a template rendered with
    the exported form, its labels and the flashed messages."""

    def __init__(self, host: ReferenceHost, park: Park, mailbox: str | None = None) -> None:
        self.host, self.park = host, park
        self.mailbox = mailbox  # on the sandbox: where Salto's PIN e-mails are read

    def lang(self) -> str:
        return language(request.args.get("lang") or self.park.locale)

    def word(self, text: str) -> str:
        """One of the page's own words, in the request's language."""
        return i18n.word(WEB_ADMIN, text, self.lang())

    def render(self, template: str, form: Any = None, **context: Any) -> str:
        code = self.lang()
        form = form or self.host.pm.hook.config_form(integration=INTEGRATION)
        labels = {a["name"]: a["label"] for a in form["x-actions"]}
        context.setdefault("here", request.path)  # a page a GET can show again
        return render_template(
            template,
            park=self.park,
            lang=code,
            form=form,
            t=lambda text: i18n.word(WEB_ADMIN, text, code),
            action_label=lambda name: labels[name][code],
            messages=get_flashed_messages(with_categories=True),
            mailbox=self.mailbox,
            **context,
        )


def back(tab: str, lang: str, message: str, bad: bool) -> Response:
    """To the tab, with the message in the session: no page shows text from a URL."""
    flash(message, "bad" if bad else "ok")
    return redirect(url_for("page", tab=tab, lang=lang))
