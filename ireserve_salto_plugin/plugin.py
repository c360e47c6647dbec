"""The hook implementations the i-Reserve host loads (entry point ``ireserve: salto_ks``).

Each hook checks that the call is for this integration, then delegates to the service.
Nothing is built at import time: collaborators are created on first use.

Hooks beyond the design card's four (``config_schema``, ``mapping_options``,
``on_booking_status``, ``on_open_request``), ``on_admin_action`` included, are
``optionalhook``, so a host that knows only those four still loads the plugin.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from marshmallow import Schema

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.admin.actions import ACTIONS, AdminActions
from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.flow.wiring import service_from_env
from ireserve_salto_plugin.hookspecs import hookimpl
from ireserve_salto_plugin.models import (
    AccessInfo,
    AdminResult,
    Booking,
    Door,
    Explanation,
    OpenResult,
    Park,
    Readiness,
)
from ireserve_salto_plugin.park.form import json_schema
from ireserve_salto_plugin.park.settings import SettingsSchema


class SaltoKsPlugin:
    """The Salto KS integration. ``service`` may be injected (tests, benchmarks)."""

    def __init__(self, service: SaltoKsService | None = None) -> None:
        self._service = service
        self._admin: AdminActions | None = None
        self._lock = threading.Lock()

    @property
    def service(self) -> SaltoKsService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = service_from_env()
        return self._service

    @property
    def admin(self) -> AdminActions:
        if self._admin is None:
            service = self.service
            self._admin = AdminActions(
                service.parks, service.budget, service.clock, test_open=service.test_open
            )
        return self._admin

    @hookimpl
    def config_schema(self, integration: str) -> Schema | None:
        if integration != INTEGRATION:
            return None
        return SettingsSchema()

    @hookimpl(optionalhook=True)
    def config_form(self, integration: str) -> dict[str, Any] | None:
        if integration != INTEGRATION:
            return None
        return json_schema(ACTIONS)

    @hookimpl
    def mapping_options(
        self, integration: str, park: Park, refresh: bool
    ) -> list[dict[str, Any]] | None:
        if integration != INTEGRATION:
            return None
        return self.service.mapping_options(park, refresh)

    @hookimpl
    def on_booking_status(
        self, park: Park, booking: Booking, old_status: str | None, new_status: str
    ) -> AccessInfo | None:
        return self.service.access_info(park, booking, new_status)

    @hookimpl
    def on_open_request(
        self, park: Park, booking: Booking, requested_by: str, now: datetime | None
    ) -> OpenResult | None:
        return self.service.open(park, booking, requested_by, now)

    @hookimpl(optionalhook=True)
    def explain_access(
        self, park: Park, booking: Booking, now: datetime | None
    ) -> Explanation | None:
        return self.service.explain(park, booking, now)

    @hookimpl(optionalhook=True)
    def readiness(
        self, park: Park, bookings: list[Booking], now: datetime | None
    ) -> Readiness | None:
        return self.service.readiness(park, bookings, now)

    @hookimpl(optionalhook=True)
    def access_doors(self, park: Park, booking: Booking, now: datetime | None) -> list[Door] | None:
        return self.service.doors(park, booking, now)

    @hookimpl(optionalhook=True)
    def on_open_door(
        self, park: Park, booking: Booking, requested_by: str, now: datetime | None, lock_id: str
    ) -> OpenResult | None:
        return self.service.open(park, booking, requested_by, now, lock_id=lock_id)

    @hookimpl(optionalhook=True)
    def on_admin_action(
        self, integration: str, park: Park, action: str, params: dict[str, Any]
    ) -> AdminResult | None:
        if integration != INTEGRATION:
            return None
        return self.admin.run(park, action, params)


plugin = SaltoKsPlugin()
