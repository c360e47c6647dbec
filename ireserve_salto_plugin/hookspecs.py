"""The i-Reserve integration host contract, as the reference host declares it.

Every hook here is documented in ``hookspecs.md`` (a test keeps the two in step). Hooks are
called with keyword arguments only; pluggy passes no defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pluggy
from marshmallow import Schema

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

PROJECT = "ireserve"
# The contract's version (semver, hookspecs.md "Versioning"): a new optional hook, result
# field or reason code is a minor step; removing or renaming one is a major step.
CONTRACT_VERSION = "1.2.0"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def config_schema(integration: str) -> Schema | None:
    """The settings schema of ``integration``.

    :param integration: integration key, e.g. ``"salto_ks"``.
    :returns: a marshmallow ``Schema`` instance whose ``load()`` validates the stored
        settings, or ``None`` if the key is not this plugin's. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def config_form(integration: str) -> dict[str, Any] | None:
    """The settings form of ``integration`` as JSON Schema 2020-12 with rendering hints.

    :param integration: integration key.
    :returns: a JSON-compatible dict (labels and help in nl, en and de, tabs, widgets,
        read-only and secret flags, the admin buttons), or ``None``. Stops at first
        non-None result.
    """


@hookspec(firstresult=True)
def mapping_options(integration: str, park: Park, refresh: bool) -> list[dict[str, Any]] | None:
    """The lock dropdown for mapping objects to locks.

    :param integration: integration key.
    :param park: the park whose site is listed.
    :param refresh: ``True`` to fetch anew instead of serving the cache.
    :returns: a list of ``{"value", "label", "online", "iq_id"}`` dicts, or ``None``.
        Stops at first non-None result.
    """


@hookspec
def on_booking_status(
    park: Park, booking: Booking, old_status: str | None, new_status: str
) -> AccessInfo | None:
    """A booking's status changed. Every plugin is told; results are collected.

    :returns: an ``AccessInfo`` (or ``None`` when the park has not enabled the plugin).
        Must never raise because of Salto, the network or settings.
    """


@hookspec(firstresult=True)
def on_open_request(
    park: Park, booking: Booking, requested_by: str, now: datetime | None
) -> OpenResult | None:
    """Someone asked to open the booking's lock.

    :param now: the moment of the request for the window decision, or ``None`` for the
        current time. The OTP always uses the real clock.
    :returns: an ``OpenResult``. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def on_admin_action(
    integration: str, park: Park, action: str, params: dict[str, Any]
) -> AdminResult | None:
    """An admin pressed a button on the integration page.

    :returns: an ``AdminResult`` whose ``settings_update`` the host deep-merges into the
        stored settings and persists before showing ``message``. Stops at first non-None.
    """


@hookspec(firstresult=True)
def explain_access(park: Park, booking: Booking, now: datetime | None) -> Explanation | None:
    """Why this booking can or cannot open now: every condition an open needs, in the
    open's own order, each ``ok``/``fail``/``unknown``; the verdict is what
    ``on_open_request`` would answer. Sends no OTP and no open. Never raises.

    :param now: the moment to judge, or ``None`` for the current time (naive: park-local).
    :returns: an ``Explanation``, or ``None``. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def readiness(park: Park, bookings: list[Booking], now: datetime | None) -> Readiness | None:
    """The park's upcoming bookings, each judged at its arrival (or ``now`` once arrived):
    the explainer's verdict per booking and a count per verdict. One lock-list read for
    the whole sweep; no OTP, no open. Never raises.

    :returns: a ``Readiness``, or ``None``. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def access_doors(park: Park, booking: Booking, now: datetime | None) -> list[Door] | None:
    """The doors this booking may open (its object's own, then the park's common doors),
    each with the explainer's verdict for it now: one button per door in a guest app.
    Sends nothing. Never raises.

    :returns: a list of ``Door``, or ``None``. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def on_open_door(
    park: Park, booking: Booking, requested_by: str, now: datetime | None, lock_id: str
) -> OpenResult | None:
    """Open one of the booking's doors (``access_doors``), with exactly the rules of
    ``on_open_request``; a lock that is not one of them is ``denied``/``door_not_allowed``.

    :returns: an ``OpenResult``. Stops at first non-None result.
    """
