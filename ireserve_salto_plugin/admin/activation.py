"""IQ activation, the admin buttons that hand this account an IQ's codes: GET PIN (the IQ's
secret, mailed PIN), Set PIN (a new PIN, signed with a one-time code) and Forget IQ. Salto
hands a secret out once: it goes back as ``settings_update`` at once, even when a later
step fails."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ireserve_salto_plugin.admin.operations import Operations
from ireserve_salto_plugin.admin.params import pin_param, uuid_param
from ireserve_salto_plugin.admin.receipts import staff_lang
from ireserve_salto_plugin.flow.context import ParkContext
from ireserve_salto_plugin.models import AdminResult
from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.salto.errors import (
    PermissionDenied,
    Refused,
    SaltoError,
    StoreUnavailable,
)
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.otp import pin_delta, salto_otp
from ireserve_salto_plugin.store.guards import credentials_mark

log = logging.getLogger("ireserve_salto_plugin.admin.actions")


class Activation(Operations):
    """The IQ activation buttons (a base of :class:`~.actions.AdminActions`)."""

    def get_pin(
        self, ctx: ParkContext, gateway: SaltoGateway, params: Mapping[str, Any]
    ) -> AdminResult:
        iq_id = uuid_param(params, "iq_id")
        settings, lang = ctx.settings, staff_lang(ctx)
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
        stored, lang = ctx.settings.iqs.get(iq_id), staff_lang(ctx)
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
                say(staff_lang(ctx), "confirm_forget"),
                data={"iq_id": iq_id, "reason": "confirm_required"},
            )
        return AdminResult(
            True,
            say(staff_lang(ctx), "iq_forgotten"),
            settings_update={"iqs": {iq_id: None}},
            data={"iq_id": iq_id},
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
