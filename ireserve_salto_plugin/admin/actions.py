"""Admin actions behind ``on_admin_action``: connection test, site and IQ activation.

Each action returns an :class:`AdminResult`; none raises. ``settings_update`` is what the
host deep-merges into the park's stored settings (and persists before showing the result),
so a secret Salto hands out only once is returned at once, even when a later step fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ireserve_salto_plugin.admin.health import account_data, account_findings, site_user
from ireserve_salto_plugin.admin.operations import Operations
from ireserve_salto_plugin.admin.params import ParamError, pin_param, uuid_param
from ireserve_salto_plugin.flow.context import ParkContext, Parks, raw_settings
from ireserve_salto_plugin.models import AdminResult, OpenResult, Park, Reason
from ireserve_salto_plugin.park.fields import Action, SettingsError
from ireserve_salto_plugin.park.i18n import N_, host_language
from ireserve_salto_plugin.park.messages import auth_cause, say, staff_message
from ireserve_salto_plugin.park.text import host_text
from ireserve_salto_plugin.salto.clock import SYSTEM_CLOCK, Clock
from ireserve_salto_plugin.salto.errors import (
    AuthError,
    PermissionDenied,
    Refused,
    SaltoError,
    StoreUnavailable,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.otp import pin_delta, salto_otp
from ireserve_salto_plugin.store.guards import OtpBudget, credentials_mark

log = logging.getLogger(__name__)


class AdminActions(Operations):
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
        settings, lang = ctx.settings, _lang(ctx)
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
            message += say(lang, "subscription", state=user.subscription_state)
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
            say(_lang(ctx), "site", site_uid=site.site_uid, site_id=site.id),
            settings_update={"site_id": site.id},
            data={"site_id": site.id, "site_name": site.name},
        )

    def get_pin(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        iq_id = uuid_param(params, "iq_id")
        settings, lang = ctx.settings, _lang(ctx)
        site_id = ctx.site_id(gateway)
        known = {iq.id: iq for iq in gateway.iqs(site_id)}
        if iq_id not in known and (found := gateway.iq(site_id, iq_id)) is not None:
            known[iq_id] = found  # a list Salto did not page right: the IQ itself says
        if iq_id not in known:
            return AdminResult(
                False, say(lang, "iq_unknown", iq_id=iq_id, site_uid=settings.site_uid)
            )
        stored = settings.iqs.get(iq_id)
        update: dict[str, Any] = {}
        reset = known[iq_id].restore_required  # the stored secret and PIN are dead
        if stored is None or not stored.secret or reset:
            try:
                secret = gateway.iq_secret(site_id, iq_id)
            except (Refused, PermissionDenied) as exc:
                if exc.code == "2203":
                    return AdminResult(
                        False,
                        say(lang, "secret_gone", username=settings.username, iq=known[iq_id].name),
                    )
                raise
            # a new secret starts a new activation: no PIN until Set PIN
            update = {"iqs": {iq_id: {"secret": secret, "pin": None, "activated_at": None}}}
        try:
            gateway.request_pin_email(site_id, iq_id)
        except (Refused, PermissionDenied) as exc:
            if (exc.salto_message or "").lower().find("command_forbidden") >= 0 or (
                exc.code == "2203"
            ):
                return AdminResult(
                    False,
                    say(lang, "no_pin_mail", iq=known[iq_id].name, username=settings.username),
                    settings_update=update,
                )
            return AdminResult(
                False, say(lang, "get_pin_failed", detail=exc), settings_update=update
            )
        except SaltoError as exc:
            return AdminResult(
                False, say(lang, "get_pin_failed", detail=exc), settings_update=update
            )
        return AdminResult(
            True,
            say(lang, "pin_mailed", iq=known[iq_id].name, username=settings.username)
            + (say(lang, "secret_stored") if update else ""),
            settings_update=update,
            data={"iq_id": iq_id, "secret_stored": True},
        )

    def set_pin(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """Set PIN signed with OTP(secret, current PIN), keeping the PIN (delta ``0000``).
        A real PIN change cannot be verified through the API (after one, Salto's cloud
        accepted codes the IQ rejected: docs/salto-ks-api.md, ``PUT pin``), so a
        ``new_pin`` is refused unless ``expert`` is true, and then it is never called
        confirmed."""
        iq_id = uuid_param(params, "iq_id")
        current = pin_param(params, "current_pin")
        new = pin_param(params, "new_pin", required=False) or current
        assert current is not None and new is not None
        stored, lang = ctx.settings.iqs.get(iq_id), _lang(ctx)
        changing = new != current
        if changing and params.get("expert") is not True:
            return AdminResult(
                False,
                say(lang, "pin_change_refused"),
                data={"iq_id": iq_id, "reason": "pin_change_refused"},
            )
        if stored is None or not stored.secret:
            return AdminResult(False, say(lang, "no_secret"))
        if stored.activated and params.get("confirm") is not True:
            # activated already: each try spends a real code against the IQ's budget
            return AdminResult(
                False,
                say(lang, "confirm_set_pin"),
                data={"iq_id": iq_id, "reason": "confirm_required"},
            )
        site_id = ctx.site_id(gateway)
        secret = stored.secret
        # Set PIN spends a code like an open: the same budget, slots and window of
        # rejections (a wrong PIN typed three times would get the IQ blocked)
        failed = self.signed(
            ctx,
            gateway,
            iq_id,
            None if changing else credentials_mark(secret, current),
            lambda: gateway.set_pin(
                site_id,
                iq_id,
                delta=pin_delta(current, new),
                otp=salto_otp(secret, current, gateway.salto_now()),
            ),
            "pin_rejected",
        )
        if failed is not None:
            return failed
        activated_at = self.clock.utcnow().replace(microsecond=0).isoformat()
        self._forget_cached_iq_state(gateway, site_id)
        if not changing:
            return self._activated(iq_id, current, activated_at, say(lang, "activated"))
        log.warning(
            "salto set_pin: the PIN of IQ %s was changed by an expert request; the "
            "change cannot be verified through the API",
            iq_id,
        )
        return self._activated(
            iq_id, new, activated_at, say(lang, "pin_changed_unverified"), changed=True
        )

    def forget_iq(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """Drop the IQ's stored secret and PIN (``null``, which a host's deep merge writes
        as "not activated"): the way back after an IQ reset or a broken activation. Sends
        nothing to Salto."""
        iq_id = uuid_param(params, "iq_id")
        if params.get("confirm") is not True:
            return AdminResult(
                False,
                say(_lang(ctx), "confirm_forget"),
                data={"iq_id": iq_id, "reason": "confirm_required"},
            )
        return AdminResult(
            True,
            say(_lang(ctx), "iq_forgotten"),
            settings_update={"iqs": {iq_id: None}},
            data={"iq_id": iq_id},
        )

    def test_open(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        """A real open of one lock the admin chose, audited: the proof the self-test cannot
        give (that the IQ itself takes the stored secret and PIN). Off, like staff opens,
        when the park sets ``staff_open_enabled`` false: it opens a door without a booking."""
        if not ctx.settings.staff_open_enabled:
            return AdminResult(
                False, say(_lang(ctx), "staff_open_off"), data={"reason": "staff_open_disabled"}
            )
        lock_id = uuid_param(params, "lock_id", what="lock")
        who = params.get("requested_by")
        if not isinstance(who, str) or not who.strip():
            raise ParamError("requested_by: say who asks for the test open (it is audited)")
        if self._test_open is None:
            return AdminResult(False, say(_lang(ctx), "unexpected", action="test_open"))
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
        lang = _lang(ctx)
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

    def _forget_cached_iq_state(self, gateway: SaltoGateway, site_id: str) -> None:
        """After a successful Set PIN the cached lock list may still say the IQ was reset
        (``restore_required``): the next open reads the list anew."""
        try:
            gateway.forget_locks(site_id)
        except StoreUnavailable:
            log.warning("salto set_pin: the cached lock list could not be dropped")

    @staticmethod
    def _activated(
        iq_id: str, pin: str, activated_at: str, message: str, changed: bool = False
    ) -> AdminResult:
        data: dict[str, Any] = {"iq_id": iq_id, "activated_at": activated_at}
        if changed:  # sent, accepted by Salto's cloud, and unverifiable at the IQ
            data.update(pin_changed=True, verified=False)
        return AdminResult(
            True,
            message,
            settings_update={"iqs": {iq_id: {"pin": pin, "activated_at": activated_at}}},
            data=data,
        )

    def refresh_locks(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        options = gateway.locks(ctx.site_id(gateway), refresh=True, thorough=True).options()
        offline = sum(1 for option in options if not option["online"])
        return AdminResult(
            True,
            say(_lang(ctx), "locks_loaded", count=len(options), offline=offline),
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


def _lang(ctx: ParkContext) -> str:
    """The staff's language: the park's ``locale``."""
    return host_language(ctx.park)


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
)
BY_NAME = {action.name: action for action in ACTIONS}
