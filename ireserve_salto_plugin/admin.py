"""Admin actions behind ``on_admin_action``: connection test, site and IQ activation.

Each action returns an :class:`AdminResult`; none raises. ``settings_update`` is what the
host deep-merges into the park's stored settings (and persists before showing the result),
so a secret Salto hands out only once is returned at once, even when a later step fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .context import ParkContext, Parks, raw_settings
from .errors import AuthError, OtpBlocked, OtpRejected, PermissionDenied, Refused, SaltoError
from .gateway import SaltoGateway
from .guards import OtpBudget
from .models import AdminResult, Park, Reason
from .operations import Operations
from .otp import pin_delta, salto_otp
from .params import ParamError, pin_param, uuid_param
from .settings import SettingsError
from .text import host_text

log = logging.getLogger("ireserve_salto_plugin")

ACTIONS = ("test_connection", "resolve_site", "get_pin", "set_pin", "refresh_locks", "status",
           "list_iqs", "self_test", "confirm_open", "recent_opens")


class AdminActions:
    """The admin buttons, for any park: given its context and the OTP budget, not the
    whole service."""

    def __init__(self, parks: Parks, budget: OtpBudget, clock: Clock = SYSTEM_CLOCK) -> None:
        self.parks = parks
        self.budget = budget
        self.clock = clock
        ops = Operations(budget, parks.store, clock)
        self._actions: dict[str, Callable[[ParkContext, SaltoGateway, Mapping[str, Any]],
                                          AdminResult]] = {
            "test_connection": self.test_connection,
            "resolve_site": self.resolve_site,
            "get_pin": self.get_pin,
            "set_pin": self.set_pin,
            "refresh_locks": self.refresh_locks,
            "status": ops.status,
            "list_iqs": ops.list_iqs,
            "self_test": ops.self_test,
            "confirm_open": ops.confirm_open,
            "recent_opens": ops.recent_opens,
        }

    def run(self, park: Park, action: Any, params: Any) -> AdminResult | None:
        raw = raw_settings(park)
        if raw is None:
            return None
        handler = self._actions.get(action) if isinstance(action, str) else None
        if handler is None:
            return AdminResult(False, f"Unknown action {host_text(action, 40)!r}; known: "
                               + ", ".join(ACTIONS) + ".")
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            return AdminResult(False, "params: must be an object")
        try:
            ctx = self.parks.context(park, raw, partial=True)
            gateway = ctx.gateway(self.parks.tuning.admin_deadline)
            return handler(ctx, gateway, params)
        except ParamError as exc:
            return AdminResult(False, str(exc))
        except SettingsError as exc:
            return AdminResult(False, f"Settings: {exc}")
        except AuthError as exc:
            return AdminResult(False, f"Login failed: {exc}")
        except SaltoError as exc:
            log.info("salto admin %s failed: %r", action, exc)
            return AdminResult(False, f"{action} failed: {exc}",
                               data={"reason": exc.reason.value})
        except Exception:
            log.exception("salto admin %s failed unexpectedly", action)
            return AdminResult(False, f"{action} failed with an unexpected error; the log "
                               "has details.", data={"reason": Reason.INTERNAL_ERROR.value})

    # -- actions -----------------------------------------------------------------------------

    def test_connection(self, ctx: ParkContext, gateway: SaltoGateway,
                        params: Mapping[str, Any]) -> AdminResult:
        gateway.access_token()
        settings = ctx.settings
        site = gateway.resolve_site(settings.site_uid)
        name = f" ({site.name})" if site.name else ""
        return AdminResult(
            True,
            f"Connected to Salto KS {settings.environment} as {settings.username}; "
            f"site {site.site_uid}{name} found.",
            data={"site_id": site.id, "site_name": site.name},
        )

    def resolve_site(self, ctx: ParkContext, gateway: SaltoGateway,
                     params: Mapping[str, Any]) -> AdminResult:
        settings = ctx.settings
        site = gateway.resolve_site(settings.site_uid)
        return AdminResult(True, f"Site {site.site_uid} has site ID {site.id}.",
                           settings_update={"site_id": site.id},
                           data={"site_id": site.id, "site_name": site.name})

    def get_pin(self, ctx: ParkContext, gateway: SaltoGateway,
                params: Mapping[str, Any]) -> AdminResult:
        iq_id = uuid_param(params, "iq_id")
        settings = ctx.settings
        site_id = ctx.site_id(gateway)
        known = {iq.id: iq for iq in gateway.iqs(site_id)}
        if iq_id not in known:
            return AdminResult(False, f"IQ {iq_id} is not on site {settings.site_uid}; "
                               "check the IQ id in the Salto KS web app.")
        stored = settings.iqs.get(iq_id)
        update: dict[str, Any] = {}
        if stored is None or not stored.secret:
            try:
                secret = gateway.iq_secret(site_id, iq_id)
            except (Refused, PermissionDenied) as exc:
                if exc.code == "2203":
                    return AdminResult(False, (
                        f"Salto KS has already activated account {settings.username} at "
                        f"{known[iq_id].name} and will not hand out its secret again. Reset "
                        "this user's IQ PIN in the Salto KS web app (or ask Salto support), "
                        "then run GET PIN again."))
                raise
            update = {"iqs": {iq_id: {"secret": secret}}}
        try:
            gateway.request_pin_email(site_id, iq_id)
        except (Refused, PermissionDenied) as exc:
            if (exc.salto_message or "").lower().find("command_forbidden") >= 0 or (
                exc.code == "2203"
            ):
                return AdminResult(False, (
                    f"{known[iq_id].name} is already activated for account "
                    f"{settings.username}; Salto sends no PIN after activation. If the PIN "
                    "is lost, reset it in the Salto KS web app."), settings_update=update)
            return AdminResult(False, f"GET PIN failed: {exc}", settings_update=update)
        except SaltoError as exc:
            return AdminResult(False, f"GET PIN failed: {exc}", settings_update=update)
        return AdminResult(
            True,
            f"Salto KS e-mailed the current PIN of {known[iq_id].name} to "
            f"{settings.username}. Enter it as the current PIN and press Set PIN."
            + (" The IQ secret was fetched and is stored now." if update else ""),
            settings_update=update,
            data={"iq_id": iq_id, "secret_stored": True},
        )

    def set_pin(self, ctx: ParkContext, gateway: SaltoGateway,
                params: Mapping[str, Any]) -> AdminResult:
        iq_id = uuid_param(params, "iq_id")
        current = pin_param(params, "current_pin")
        new = pin_param(params, "new_pin", required=False) or current
        assert current is not None and new is not None
        stored = ctx.settings.iqs.get(iq_id)
        if stored is None or not stored.secret:
            return AdminResult(False, "No IQ secret is stored for this IQ yet: run GET PIN "
                               "first.")
        site_id = ctx.site_id(gateway)
        budget = self.budget
        refusal = budget.block_refusal(gateway.account.key, iq_id)
        if refusal is not None:
            return self._blocked(refusal.retry_after)
        otp = salto_otp(stored.secret, current, gateway.salto_now())
        try:
            gateway.set_pin(site_id, iq_id, otp=otp, delta=pin_delta(current, new))
        except OtpBlocked:
            return self._blocked(budget.blocked(gateway.account.key, iq_id))
        except OtpRejected:
            return AdminResult(False, "Salto KS rejected the code: the current PIN does not "
                               "match the PIN Salto e-mailed for this IQ (or the server clock "
                               "is off). Check the PIN and try again; repeated failures block "
                               "the IQ for about 20 minutes.",
                               data={"reason": Reason.OTP_REJECTED.value})
        activated_at = self.clock.utcnow().replace(microsecond=0).isoformat()
        if new == current:
            return self._activated(iq_id, current, activated_at,
                                   "IQ is activated: opens for this park can now be signed.")
        return self._check_changed_pin(gateway, site_id, iq_id, stored.secret, current, new,
                                       activated_at)

    def _check_changed_pin(self, gateway: SaltoGateway, site_id: str, iq_id: str,
                           secret: str, old: str, new: str, activated_at: str) -> AdminResult:
        """A real PIN change made the cloud and the IQ disagree in the one field report
        (docs/salto-ks-api.md, "Endpoints"): check at once which PIN Salto accepts, with
        the side-effect-free check (delta "0000"), and keep that one."""
        for pin in (new, old):
            try:
                gateway.set_pin(site_id, iq_id, otp=salto_otp(secret, pin, gateway.salto_now()),
                                delta="0000")
            except OtpRejected:
                continue
            except OtpBlocked:
                return self._blocked(self.budget.blocked(gateway.account.key, iq_id))
            if pin == new:
                return self._activated(iq_id, new, activated_at, (
                    "IQ is activated with the new PIN, and Salto KS confirmed that it accepts "
                    "codes signed with it. Keeping the PIN is safer: in one field report the "
                    "IQ itself kept the old PIN after a change. If opens fail with "
                    "otp_rejected, re-activate and keep the PIN."), changed=True)
            return self._activated(iq_id, old, activated_at, (
                "Salto KS accepted the PIN change but still accepts only the old PIN, so the "
                "old PIN is kept and opens use it. Leave \"new PIN\" empty next time."),
                changed=False)
        return AdminResult(False, (
            "Salto KS accepted the PIN change, but now accepts codes signed with neither the "
            "new nor the old PIN. Run GET PIN and Set PIN again (keeping the PIN), or reset "
            "the PIN in the Salto KS web app."),
            data={"iq_id": iq_id, "reason": Reason.OTP_REJECTED.value})

    @staticmethod
    def _activated(iq_id: str, pin: str, activated_at: str, message: str,
                   changed: bool | None = None) -> AdminResult:
        data: dict[str, Any] = {"iq_id": iq_id, "activated_at": activated_at}
        if changed is not None:
            data["pin_changed"] = changed
        return AdminResult(True, message, settings_update={
            "iqs": {iq_id: {"pin": pin, "activated_at": activated_at}}}, data=data)

    @staticmethod
    def _blocked(seconds: float) -> AdminResult:
        return AdminResult(False, "Salto KS has blocked one-time codes for this IQ after "
                           f"repeated failures; wait about {max(1, round(seconds / 60))} "
                           "minutes before trying again.",
                           data={"reason": Reason.OTP_BLOCKED.value,
                                 "retry_after": round(seconds)})

    def refresh_locks(self, ctx: ParkContext, gateway: SaltoGateway,
                      params: Mapping[str, Any]) -> AdminResult:
        options = gateway.locks(ctx.site_id(gateway), refresh=True).options()
        offline = sum(1 for option in options if not option["online"])
        return AdminResult(
            True, f"{len(options)} locks loaded from Salto KS ({offline} offline).",
            data={"count": len(options), "offline": offline, "options": options},
        )
