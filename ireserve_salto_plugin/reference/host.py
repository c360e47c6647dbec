"""A reference i-Reserve host: a pluggy ``PluginManager("ireserve")`` with the contract's
hookspecs, plugins loaded from the ``ireserve`` entry-point group, and an in-memory store of
parks and bookings. It plays the host's side of the contract: it deep-merges
``settings_update``, writes ``booking_updates`` and applies ``new_status``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pluggy

from ireserve_salto_plugin import hookspecs
from ireserve_salto_plugin.form import merge_settings
from ireserve_salto_plugin.models import AccessInfo, AdminResult, Door, OpenResult


@dataclass
class Park:
    id: str
    timezone: str
    integrations: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None  # the staff's language (nl, en, de); None: English


@dataclass
class Booking:
    id: str
    object_id: str
    status: str
    arrival: datetime
    departure: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    locale: str | None = None  # the guest's language (nl, en, de); None: English
    park_id: str | None = None  # the booking's park, when the host has several


def deep_merge(target: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``target``: nested dicts merge, other values replace."""
    merged = copy.deepcopy(target)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ReferenceHost:
    def __init__(self, *, load_entrypoints: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        if load_entrypoints:
            self.pm.load_setuptools_entrypoints(hookspecs.PROJECT)
        self.parks: dict[str, Park] = {}
        self.bookings: dict[str, Booking] = {}
        # the host's objects (accommodations): id → name; ``host:objects`` of the form
        self.objects: dict[str, str] = {}

    # -- the host's data ---------------------------------------------------------------------

    def add_park(self, park: Park) -> Park:
        self.parks[park.id] = park
        return park

    def add_booking(self, booking: Booking) -> Booking:
        self.bookings[booking.id] = booking
        return booking

    def park_of(self, booking: Booking) -> Park:
        """The booking's park: the one it names, else this host's first."""
        if booking.park_id is not None:
            return self.parks[booking.park_id]
        return next(iter(self.parks.values()))

    # -- the host's side of each hook --------------------------------------------------------

    def save_settings(self, park: Park, integration: str, raw: dict[str, Any]) -> Any:
        """Validate with the plugin's schema (raises ``ValidationError``) and store."""
        schema = self.pm.hook.config_schema(integration=integration)
        if schema is None:
            raise LookupError(f"no plugin provides integration {integration!r}")
        schema.load(raw)
        park.integrations[integration] = raw
        return schema

    def save_form(self, park: Park, integration: str, submitted: dict[str, Any]) -> Any:
        """Store what an admin saved in the settings form: secrets left empty and the
        read-only fields keep their stored values (``merge_settings``), never a dump."""
        merged = merge_settings(park.integrations.get(integration), submitted)
        return self.save_settings(park, integration, merged)

    def lock_options(
        self, park: Park, integration: str, refresh: bool = False
    ) -> list[dict[str, Any]]:
        result = self.pm.hook.mapping_options(integration=integration, park=park, refresh=refresh)
        return list(result or [])

    def admin(self, park: Park, integration: str, action: str, **params: Any) -> AdminResult:
        result: AdminResult | None = self.pm.hook.on_admin_action(
            integration=integration, park=park, action=action, params=params
        )
        if result is None:
            raise LookupError(f"no plugin handled {action!r} for {integration!r}")
        if result.settings_update:
            park.integrations[integration] = deep_merge(
                park.integrations.get(integration, {}), result.settings_update
            )
        return result

    def change_status(self, booking: Booking, new_status: str) -> list[AccessInfo]:
        old, booking.status = booking.status, new_status
        booking.history.append(new_status)
        infos: list[AccessInfo] = self.pm.hook.on_booking_status(
            park=self.park_of(booking), booking=booking, old_status=old, new_status=new_status
        )
        return [info for info in infos if info is not None]

    def doors(self, booking: Booking, now: datetime | None = None) -> list[Door]:
        found: list[Door] | None = self.pm.hook.access_doors(
            park=self.park_of(booking), booking=booking, now=now
        )
        return found or []

    def open(
        self,
        booking: Booking,
        requested_by: str,
        now: datetime | None = None,
        lock_id: str | None = None,
    ) -> OpenResult | None:
        """``on_open_request``, or ``on_open_door`` when a door (``lock_id``) is named."""
        if lock_id is None:
            result: OpenResult | None = self.pm.hook.on_open_request(
                park=self.park_of(booking), booking=booking, requested_by=requested_by, now=now
            )
        else:
            result = self.pm.hook.on_open_door(
                park=self.park_of(booking),
                booking=booking,
                requested_by=requested_by,
                now=now,
                lock_id=lock_id,
            )
        if result is not None and result.opened:
            booking.fields.update(result.booking_updates)
            if result.new_status:
                self.change_status(booking, result.new_status)
        return result
