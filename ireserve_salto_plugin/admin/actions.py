"""Admin actions behind ``on_admin_action``: connection test, site and IQ activation.

Each action returns an :class:`AdminResult`; none raises. ``settings_update`` is what the
host deep-merges into the park's stored settings (and persists before showing the result),
so a secret Salto hands out only once is returned at once, even when a later step fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ireserve_salto_plugin.admin.activation import Activation
from ireserve_salto_plugin.admin.health import account_data, account_findings, site_user
from ireserve_salto_plugin.admin.operations import Operations
from ireserve_salto_plugin.admin.params import ParamError, uuid_param
from ireserve_salto_plugin.admin.receipts import staff_lang
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.models import AdminResult, OpenResult, Park, Reason
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.fields import Action, SettingsError
from ireserve_salto_plugin.park.i18n import N_, host_language
from ireserve_salto_plugin.park.messages import auth_cause, staff_message
from ireserve_salto_plugin.park.text import host_text
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.errors import (
    AuthError,
    SaltoError,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.store.guards import OtpBudget

log = logging.getLogger(__name__)


class AdminActions(Activation):
    """The admin buttons, for any park: given its context and the OTP budget, not the
    whole service. Which button runs what is declared once, in :data:`ACTIONS`."""

    def __init__(
        self,
        parks: Parks,
        budget: OtpBudget,
        clock: Clock = SYSTEM_CLOCK,
        test_open: Callable[..., OpenResult | None] | None = None,
    ) -> None:
        super().__init__(budget, parks.store, clock)
        self.parks = parks
        self._test_open = test_open  # the service's open, for the audited test open

    def run(self, park: Park, action: Any, params: Any) -> AdminResult | None:
        raw = raw_settings(park)
        if raw is None:
            return None
        lang = host_language(park)
        spec = BY_NAME.get(action) if isinstance(action, str) else None
        if spec is None or spec.run is None:
            return AdminResult(
                False,
                say(
                    lang,
                    "unknown_action",
                    action=repr(host_text(action, 40)),
                    known=", ".join(BY_NAME),
                ),
            )
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            return AdminResult(False, say(lang, "params"))
        try:
            ctx = self.parks.context(park, raw, partial=True)
            gateway = ctx.gateway(self.parks.tuning.admin_deadline)
            result: AdminResult = spec.run(self, ctx, gateway, params)
            return result
        except ParamError as exc:
            return AdminResult(False, str(exc))
        except SettingsError as exc:
            return AdminResult(False, say(lang, "settings", detail=exc.describe(lang)))
        except SaltoError as exc:  # in the staff's language; Salto's own words in details
            log.info("salto admin %s failed: %r", action, exc)
            return AdminResult(
                False,
                failure_text(exc, lang, raw),
                data={"reason": exc.reason, "details": str(exc)},
            )
        except Exception:
            log.exception("salto admin %s failed unexpectedly", action)
            return AdminResult(
                False,
                say(lang, "unexpected", action=action),
                data={"reason": Reason.INTERNAL_ERROR.value},
            )

    # -- actions -----------------------------------------------------------------------------

    def test_connection(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """Asks Salto every time it is pressed: a new token (password grant), the site by
        its Site UID, and the account as a site user with its IQ activations. ``ok`` only
        when the account can open doors."""
        gateway.tokens.renew()
        settings, lang = ctx.settings, staff_lang(ctx)
        site = gateway.resolve_site(settings.site_uid, fresh=True)
        user = site_user(gateway, site.id)
        activated = gateway.activated_iqs(site.id)
        iqs = (
            {iq.id: iq for iq in gateway.iqs(site.id)}
            if any(state.activated for state in activated)
            else {}
        )
        findings = account_findings(settings, user, activated, iqs, lang, self.clock.utcnow())
        name = f" ({site.name})" if site.name else ""
        message = say(
            lang,
            "connected",
            environment=settings.environment,
            username=settings.username,
            site_uid=site.site_uid,
            name=name,
        )
        if user is not None and user.subscription_state:
            state = user.subscription_state
            words = say(lang, state) if state in ("subscribed", "suspended") else repr(state)
            message += say(lang, "subscription", state=words)
        return AdminResult(
            not findings,
            message + "".join(" " + finding.message for finding in findings),
            data={
                "site_id": site.id,
                "site_name": site.name,
                "account": account_data(user),
                "findings": [finding.to_dict() for finding in findings],
            },
        )

    def resolve_site(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        settings = ctx.settings
        site = gateway.resolve_site(settings.site_uid)
        return AdminResult(
            True,
            say(staff_lang(ctx), "site", site_uid=site.site_uid, site_id=site.id),
            settings_update={"site_id": site.id},
            data={"site_id": site.id, "site_name": site.name},
        )

    def test_open(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """A real open of one lock the admin chose, audited: the proof the self-test cannot
        give (that the IQ itself takes the stored secret and PIN). Off, like staff opens,
        when the park sets ``staff_open_enabled`` false: it opens a door without a booking."""
        if not ctx.settings.staff_open_enabled:
            return AdminResult(
                False,
                say(staff_lang(ctx), "staff_open_off"),
                data={"reason": "staff_open_disabled"},
            )
        lock_id = uuid_param(params, "lock_id", what="lock")
        who = params.get("requested_by")
        if not isinstance(who, str) or not who.strip():
            raise ParamError("requested_by: say who asks for the test open (it is audited)")
        if self._test_open is None:
            return AdminResult(False, say(staff_lang(ctx), "unexpected", action="test_open"))
        result = self._test_open(ctx.park, lock_id, who.strip())
        assert result is not None
        return AdminResult(
            result.opened,
            result.message,
            data={
                "attempt_id": result.attempt_id,
                "reason": result.reason.value,
                "opened_at": result.opened_at.isoformat() if result.opened_at else None,
            },
        )

    def staff_open(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """Reception opens a lock of the site without a booking (housekeeping,
        maintenance): with a reason, through the OTP budget and the duplicate guard, with a
        receipt; the log line says it was a staff open, by whom and why. Off when the park
        sets ``staff_open_enabled`` false. A confirmation belongs in the page or the CLI
        that calls this, not in its params."""
        lang = staff_lang(ctx)
        if not ctx.settings.staff_open_enabled:
            return AdminResult(
                False, say(lang, "staff_open_off"), data={"reason": "staff_open_disabled"}
            )
        lock_id = uuid_param(params, "lock_id", what="lock")
        why, who = params.get("reason"), params.get("requested_by")
        if not isinstance(why, str) or not why.strip():
            raise ParamError(say(lang, "staff_open_reason"))
        if not isinstance(who, str) or not who.strip():
            raise ParamError("requested_by: say who asks for the open (it is audited)")
        if self._test_open is None:
            return AdminResult(False, say(lang, "unexpected", action="staff_open"))
        result = self._test_open(ctx.park, lock_id, who.strip(), why.strip())
        assert result is not None
        return AdminResult(
            result.opened,
            result.message,
            data={
                "attempt_id": result.attempt_id,
                "reason": result.reason.value,
                "opened_at": result.opened_at.isoformat() if result.opened_at else None,
                "staff_open": True,
            },
        )

    def refresh_locks(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        options = gateway.locks(ctx.site_id(gateway), refresh=True, thorough=True).options()
        offline = sum(1 for option in options if not option["online"])
        return AdminResult(
            True,
            say(staff_lang(ctx), "locks_loaded", count=len(options), offline=offline),
            data={"count": len(options), "offline": offline, "options": options},
        )


def failure_text(exc: SaltoError, lang: str, raw: Any) -> str:
    """A Salto failure for staff, all in ``lang``: the reason's sentence, the login's
    cause naming the account; codes and Salto's text stay out (they are the details)."""
    settings = raw if isinstance(raw, Mapping) else {}
    account = str(settings.get("username", "?"))
    if isinstance(exc, AuthError):
        return say(lang, "login", detail=auth_cause(exc.code, account, lang))
    return staff_message(
        Reason(exc.reason),
        lang,
        {
            "account": repr(account),
            "site_uid": settings.get("site_uid", "?"),
            "detail": "",
            "lock": "?",
            "minutes": "?",
        },
    )


# Every admin button, declared once: its name (``on_admin_action``), label, tab, the params
# it asks for, the settings it writes back, and what runs it. The form export
# (``x-actions``), the dispatch above and the docs' tests read this.
ACTIONS: tuple[Action, ...] = (
    Action(
        "test_connection",
        N_("Test / request access"),
        "authentication",
        run=AdminActions.test_connection,
    ),
    Action(
        "resolve_site",
        N_("Resolve site ID"),
        "authentication",
        changes=("site_id",),
        run=AdminActions.resolve_site,
    ),
    Action("get_pin", N_("GET PIN"), "iq_otp", ("iq_id",), ("iqs",), run=AdminActions.get_pin),
    Action(
        "set_pin",
        N_("Set PIN"),
        "iq_otp",
        ("iq_id", "current_pin", "new_pin", "expert", "confirm"),
        ("iqs",),
        run=AdminActions.set_pin,
    ),
    Action(
        "forget_iq",
        N_("Forget IQ"),
        "iq_otp",
        ("iq_id", "confirm"),
        ("iqs",),
        run=AdminActions.forget_iq,
    ),
    Action("list_iqs", N_("List IQs"), "iq_otp", run=Operations.list_iqs),
    Action(
        "self_test",
        N_("Cloud check of the IQ codes"),
        "iq_otp",
        ("iq_id",),
        run=Operations.self_test,
    ),
    Action(
        "test_open",
        N_("Test open of one lock"),
        "iq_otp",
        ("lock_id", "requested_by"),
        run=AdminActions.test_open,
    ),
    Action(
        "staff_open",
        N_("Open a door"),
        "details",
        ("lock_id", "reason", "requested_by"),
        run=AdminActions.staff_open,
    ),
    Action("refresh_locks", N_("Refresh locks"), "mapping", run=AdminActions.refresh_locks),
    Action("status", N_("Integration status"), "details", run=Operations.status),
    Action(
        "recent_opens",
        N_("Recent opens"),
        "details",
        ("count", "lock_id"),
        run=Operations.recent_opens,
    ),
    Action(
        "confirm_open",
        N_("Confirm an open"),
        "details",
        ("attempt_id", "lock_id", "time"),
        run=Operations.confirm_open,
    ),
    Action(
        "door_log",
        N_("Door log"),
        "details",
        ("from", "to"),
        run=Operations.door_log,
    ),
)
BY_NAME = {action.name: action for action in ACTIONS}
