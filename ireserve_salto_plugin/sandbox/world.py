"""The sandbox's Salto KS world: accounts, sites, IQs, locks, activations, mail, entries.

Behaviour follows docs/salto-ks-api.md. Where those notes mark something unknown, the choice
made here is flagged ``ASSUMPTION`` and listed in the README.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from ireserve_salto_plugin.sandbox.records import (
    AMSTERDAM,
    ENTRY_TTL,
    IQ_NAMES,
    Activation,
    IqState,
    LockState,
    Mail,
    Site,
    User,
    random_pin,
    stable_id,
)

OTP_WINDOW = 180  # seconds either side of the server clock (docs: "OTP", an assumption)
OTP_BLOCK_AFTER = 8  # failures in a row ("OTP blocks": 8 once, 3 another time)
OTP_BLOCK_SECONDS = 20 * 60  # (docs: "OTP blocks")
_NEAREST_FIRST = sorted(range(-OTP_WINDOW, OTP_WINDOW + 1), key=abs)


def make_otp(secret: str, pin: str, instant: datetime) -> str:
    # Written independently of the plugin's signer on purpose: the sandbox checks it.
    stamp = f"{instant.astimezone(UTC):%Y%m%d%H%M%S}"
    return hashlib.md5((stamp + secret + pin).encode(), usedforsecurity=False).hexdigest()[:5]


class Journaled(NamedTuple):
    """A command Salto received and what it made of it."""

    t: float  # time.monotonic() of this machine (the soak compares it across processes)
    salto_at: float  # Salto's clock, as a POSIX timestamp
    account: str
    iq_id: str
    lock_id: str  # "" for a command to the IQ (Set PIN)
    command: str  # "locking" or "set_pin"
    result: str  # "accepted", "otp_invalid", "otp_blocked" or "offline"


class World:
    """All sandbox state, behind one lock."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.now = now  # the sandbox's clock
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.sites: dict[str, Site] = {}
        self.activations: dict[tuple[str, str], Activation] = {}
        self.outbox: list[Mail] = []
        self.tokens: dict[str, tuple[str, datetime]] = {}  # access token -> (username, exp)
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> username
        self.tokens_issued: list[str] = []  # every access/refresh token ever handed out
        self.otps_seen: list[str] = []  # every OTP received (for the secrets tests)
        # the PIN an IQ gives an account (GET PIN, activation): random, as Salto's; a test
        # that searches logs for PINs sets PINs no log line can hold by chance
        self.new_pin: Callable[[], str] = random_pin
        self.otp_block_after = OTP_BLOCK_AFTER
        # False: a PIN change is answered 204 but the IQ keeps its PIN, as in the one
        # field report of a real change (docs: "Endpoints").
        self.pin_changes_apply = True
        # every coded command (open, Set PIN) that reached an IQ's check (the soak's
        # history of what Salto received)
        self.journal: list[Journaled] = []
        # called with (site id, entry) for every entry logged (the event hub's feed)
        self.on_entry: list[Callable[[str, dict[str, Any]], None]] = []

    # -- building --------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, remote_access: bool = True) -> User:
        user = User(username, password, stable_id("user", username), set(), remote_access)
        self.users[username] = user
        return user

    def add_site(
        self,
        site_uid: str,
        name: str,
        *,
        iqs: int,
        locks_per_iq: int,
        users: list[User],
        lock_names: list[str] | None = None,
    ) -> Site:
        site = Site(stable_id("site", site_uid), site_uid, name)
        names = iter(lock_names or [])
        number = 0
        for i in range(iqs):
            iq = IqState(
                stable_id("iq", site_uid, i),
                f"IQ {IQ_NAMES[i % len(IQ_NAMES)]}"
                + (f" {i // len(IQ_NAMES) + 1}" if i >= len(IQ_NAMES) else ""),
                f"00:1b:{i // 256:02x}:{i % 256:02x}:00:01",
            )
            site.iqs[iq.id] = iq
            for _ in range(locks_per_iq):
                number += 1
                lock_name = next(names, None) or f"Chalet {number}"
                lock = LockState(
                    stable_id("lock", site_uid, number),
                    lock_name,
                    iq,
                    f"00:1c:{number // 256:02x}:{number % 256:02x}:00:02",
                )
                site.locks[lock.id] = lock
        self.sites[site.id] = site
        for user in users:
            user.site_ids.add(site.id)
        return site

    def activation(self, user: User, iq_id: str) -> Activation:
        key = (user.id, iq_id)
        if key not in self.activations:
            # Uppercase hex, 16 characters, as observed (docs: "Endpoints").
            self.activations[key] = Activation(secrets.token_hex(8).upper())
        return self.activations[key]

    def preactivate(self, user: User) -> dict[str, dict[str, str]]:
        """Activate ``user`` at every IQ of its sites, as GET PIN + Set PIN would:
        returns the ``iqs`` settings (secret and PIN per IQ) for the plugin."""
        iqs: dict[str, dict[str, str]] = {}
        for site_id in user.site_ids:
            for iq_id in self.sites[site_id].iqs:
                act = self.activation(user, iq_id)
                act.secret_taken = act.activated = True
                act.pin = act.pin or self.new_pin()
                act.activation_date = self.now()
                iqs[iq_id] = {"secret": act.secret, "pin": act.pin}
        return iqs

    def activate_in_app(self, user: User, iq_id: str) -> None:
        """The account is activated at the IQ in the Salto KS app: the secret rotates to
        one only the app knows, so a stored secret is dead, and GET secret is refused from
        now on (docs: "Which account")."""
        act = self.activation(user, iq_id)
        act.secret = secrets.token_hex(8).upper()
        act.secret_taken = act.activated = True
        act.pin = act.pin or self.new_pin()
        act.activation_date = self.now()

    def reset_iq(self, iq_id: str) -> None:
        """An IQ reset: ``restore_required``, and every account's activation at it is gone
        (a new secret, handed out again by GET secret)."""
        for site in self.sites.values():
            if iq_id in site.iqs:
                site.iqs[iq_id].restore_required = True
        for key in [key for key in self.activations if key[1] == iq_id]:
            del self.activations[key]

    def find_lock(self, lock_id: str) -> LockState | None:
        for site in self.sites.values():
            if lock_id in site.locks:
                return site.locks[lock_id]
        return None

    # -- Salto's rules -----------------------------------------------------------------------

    def set_pin(self, act: Activation, delta: str, now: datetime) -> None:
        """Set PIN with a checked code: new PIN = old PIN - delta, digit by digit mod 10
        ("0000" keeps the PIN), and the account is activated at the IQ."""
        assert act.pin is not None
        if self.pin_changes_apply:
            act.pin = "".join(
                str((int(o) - int(d)) % 10) for o, d in zip(act.pin, delta, strict=True)
            )
        act.activated = True
        act.activation_date = now

    @staticmethod
    def reachable(lock: LockState) -> bool:
        """A remote open reaches a lock only when its IQ and the lock are both online."""
        return lock.iq.online and lock.online

    def record_remote_entry(
        self,
        site: Site,
        lock: LockState,
        user: User,
        state: str,
        now: datetime,
        *,
        access_by: str = "remote",
    ) -> dict[str, Any]:
        """A flat entry, as Salto's log has them (tests/samples/entries.json): the lock and
        the IQ by id and name, no nested objects. ASSUMPTION: ``access_by`` "remote" for a
        remote open (the samples hold none; docs/salto-ks-api.md, "Endpoints", row 17)."""
        local = now.astimezone(AMSTERDAM).replace(tzinfo=None)
        entry = {
            "id": str(uuid.uuid4()),
            "event_category": "lock_opened" if state == "unlocked" else "lock_" + state,
            "event_detail": None,
            "utc_date_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local_date_time": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "lock_id": lock.id,
            "lock_mac_address": lock.mac,
            "lock_customer_reference": lock.name,
            "user_id": user.id,
            "user_first_name": "Service",
            "user_last_name": "Account",
            "user_image_url": None,
            "user_alias": "",
            "iq_id": lock.iq.id,
            "iq_customer_reference": lock.iq.name,
            "iq_mac_address": lock.iq.mac,
            "iq_revision": "2.0",
            "exit_requested": False,
            "access_by": access_by,
            "access_detail": "",
            "ttl_in_seconds": ENTRY_TTL,
            "expiration_date_time": (now + timedelta(seconds=ENTRY_TTL)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
        }
        site.entries.append(entry)
        for listener in self.on_entry:
            listener(site.id, entry)
        return entry

    # -- OTP ---------------------------------------------------------------------------------

    @staticmethod
    def otp_matches(otp: str, secret: str, pin: str, now: datetime) -> bool:
        otp = otp.lower()  # Salto codes are case-insensitive (docs: "OTP")
        return any(  # nearest seconds first: a fresh code matches after a few hashes
            make_otp(secret, pin, now + timedelta(seconds=s)) == otp for s in _NEAREST_FIRST
        )

    @staticmethod
    def pin_that_cannot_pass(
        act: Activation, now: datetime, *, behind: int = 60, ahead: int = 600
    ) -> str:
        """A PIN other than ``act.pin`` none of whose codes signed from ``behind`` seconds
        before ``now`` to ``ahead`` after it equals a code of the real PIN within
        ``OTP_WINDOW`` of its instant. Five hex characters collide by chance (about 1 in
        2,900 for one code within +-180 s), so "the PIN plus one" is rejected only almost
        always: a test that means "a wrong PIN" takes this one."""
        assert act.pin is not None
        span = range(-behind - OTP_WINDOW, ahead + OTP_WINDOW + 1)
        real: dict[str, list[int]] = {}
        for s in span:
            real.setdefault(make_otp(act.secret, act.pin, now + timedelta(seconds=s)), []).append(s)
        width = len(act.pin)
        for step in range(1, 10**width):
            pin = f"{(int(act.pin) + step) % 10**width:0{width}d}"
            if not any(
                abs(s - t) <= OTP_WINDOW
                for t in range(-behind, ahead + 1)
                for s in real.get(make_otp(act.secret, pin, now + timedelta(seconds=t)), ())
            ):
                return pin
        raise LookupError("no PIN of this length stays apart from the real one")

    def check_otp(
        self, act: Activation, command: str, otp: str, pin: str, now: datetime
    ) -> str | None:
        """None if accepted, else ``"otp_blocked"`` or ``"otp_invalid"``."""
        self.otps_seen.append(otp)
        until = act.blocked_until.get(command)
        if until is not None and now < until:
            return "otp_blocked"
        if self.otp_matches(otp, act.secret, pin, now):
            act.failures[command] = 0
            return None
        act.failures[command] = act.failures.get(command, 0) + 1
        if act.failures[command] >= self.otp_block_after:
            act.failures[command] = 0
            act.blocked_until[command] = now + timedelta(seconds=OTP_BLOCK_SECONDS)
            return "otp_blocked"
        return "otp_invalid"


def seed_park(
    world: World,
    *,
    username: str,
    password: str,
    iqs: int = 3,
    locks_per_iq: int = 12,
    site_uid: str = "NL6254340082",
) -> Site:
    """A realistic holiday park: reception and facilities, then chalets, over several IQs."""
    user = world.add_user(username, password)
    named = ["Reception", "Sanitary building", "Swimming pool", "Bike shed"]
    return world.add_site(
        site_uid,
        "Vakantiepark De Zandloper",
        iqs=iqs,
        locks_per_iq=locks_per_iq,
        users=[user],
        lock_names=named,
    )
