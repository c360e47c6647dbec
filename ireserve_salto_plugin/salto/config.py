"""What a Salto KS client is configured with: Salto's environments and their default
hosts, the origin of a URL (the unit of trust), the OAuth client's credentials, and
:class:`Tuning`, every deadline, cap and guard number the client runs by. Reading them
from a process's environment is the caller's job
(:mod:`ireserve_salto_plugin.park.platform`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENVIRONMENTS = ("acceptance", "production")

# Salto's hosts per environment (docs/salto-ks-api.md, "Environments").
DEFAULT_HOSTS: dict[str, tuple[str, str]] = {
    #               Connect API                            identity server
    "acceptance": ("https://clp-accept-user.my-clay.com", "https://identity-acc.eu.my-clay.com"),
    "production": ("https://connect.my-clay.com", "https://identity.eu.my-clay.com"),
}


# Salto's event streaming service per environment (docs/salto-ks-api.md §6b)
DEFAULT_EVENTS_HOSTS: dict[str, str] = {
    "acceptance": "https://eventstreaming-connect-accept.saltoks.com",
    "production": "https://eventstreaming-connect-production.saltoks.com",
}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Origin = tuple[str, str, int]


def origin(url: str) -> Origin:
    """(scheme, host, port) with the default port filled in: the unit of trust of a URL.
    Raises ``ValueError`` for a URL without one."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port  # ValueError for a port out of range
    if scheme not in ("http", "https") or not host:
        raise ValueError("not an absolute http(s) URL")
    return scheme, host, port if port is not None else (443 if scheme == "https" else 80)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """The platform's OAuth client for one environment (never per park)."""

    client_id: str
    client_secret: str = field(repr=False)


MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Tuning:
    """Every number the plugin runs by. The ``env`` metadata names the variable that may
    set it, with its allowed range; the others are fixed caps."""

    open_deadline: float = field(default=15.0, metadata={"env": ("OPEN_DEADLINE", 1, 120)})
    status_deadline: float = field(default=10.0, metadata={"env": ("STATUS_DEADLINE", 1, 120)})
    options_deadline: float = field(default=60.0, metadata={"env": ("OPTIONS_DEADLINE", 1, 600)})
    admin_deadline: float = field(default=30.0, metadata={"env": ("ADMIN_DEADLINE", 1, 300)})
    dedup_seconds: float = field(default=10.0, metadata={"env": ("DEDUP_SECONDS", 0, 300)})
    failed_dedup_seconds: float = 2.0  # a failed attempt answers repeated taps this long
    dedup_margin: float = 5.0  # an in-flight claim outlives the open's deadline by this
    otp_block_seconds: float = field(
        default=25 * 60.0, metadata={"env": ("OTP_BLOCK_SECONDS", 60, 86400)}
    )
    # at most two rejected codes per IQ within this sliding window (Salto blocks after as
    # few as three for about 20 minutes): never shorter than that
    otp_window_seconds: float = field(
        default=20 * 60.0, metadata={"env": ("OTP_WINDOW_SECONDS", 1200, 86400)}
    )
    connect_timeout: float = 3.05  # seconds per connection, within the deadline
    read_timeout: float = 10.0  # seconds per read, within the deadline
    get_retries: int = 2  # retries of a read on 5xx, 429 or a reset
    page_size: int = 100  # $top asked for (Salto's default and largest are unknown)
    # the IQ list is read beside the lock list (a cold open waits for one of them); off
    # only for cassette replay, whose recorder (vcrpy) is not safe across threads
    parallel_lists: bool = True
    locks_ttl: float = 300.0  # seconds a site's lock list is served from the store
    max_body_bytes: int = 8 * MIB  # per answer, counted while it streams in
    max_items: int = 20_000  # per list (locks, IQs)
    max_pages: int = 250  # per list; more is an error, never a silently short list
