"""The integration's work behind the hooks: settings, the open flow, access info, locks.

Pure decisions live in :mod:`.decision`, HTTP in :mod:`.gateway`; this module wires them
together for one park at a time and turns every failure into a documented result.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from cachetools import LRUCache
from marshmallow import ValidationError

from . import INTEGRATION
from .decision import BookingError, Decision, Window, decide, open_window, resolve_lock, to_utc
from .errors import NotFound, OtpBlocked, OtpRejected, SaltoError, StoreUnavailable, Timeout
from .gateway import CLOCK_WARN_SECONDS, Account, Lock, LockList, SaltoGateway, make_session
from .guards import Dedup, OtpBudget, credentials_fingerprint
from .models import (
    DENIED_REASONS,
    STAFF_MESSAGES,
    AccessInfo,
    Booking,
    OpenResult,
    Outcome,
    Park,
    Reason,
)
from .otp import salto_otp
from .runtime import Platform, PlatformReader, Tuning
from .settings import IqCredentials, Settings, SettingsError, SettingsSchema, describe_errors
from .store import MemoryStore, Store

log = logging.getLogger("ireserve_salto_plugin")

LOG_VALUE_CHARS = 80  # a value from the host is cut to this in a log line


def host_text(value: Any, limit: int = LOG_VALUE_CHARS) -> str:
    """A value from the host (park id, booking id, requester) as bounded, printable text:
    control characters are escaped (no forged log lines), and a ``str()`` that raises is
    not our caller's problem."""
    try:
        text = value if isinstance(value, str) else str(value)
        if not isinstance(text, str):
            raise TypeError
    except Exception:
        return "<unprintable>"
    text = text[: limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256
                       else f"\\u{ord(c):04x}" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def park_zone(park: Park) -> ZoneInfo:
    name = getattr(park, "timezone", None)
    if not isinstance(name, str):
        raise SettingsError("park.timezone must be an IANA zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"park.timezone {name[:60]!r} is not a known IANA zone") from None


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _local(instant: datetime, zone: ZoneInfo) -> str:
    try:
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    except OverflowError:  # the edge of datetime's range, in a far-off zone
        return _iso(instant)


@dataclass(frozen=True, slots=True)
class _Parsed:
    raw: Any
    settings: Settings | None
    error: SettingsError | None


class SaltoKsService:
    """Everything the hooks need, for any number of parks. Thread-safe."""

    def __init__(
        self,
        *,
        store: Store | None = None,
        session: requests.Session | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        environ: Mapping[str, str] | None = None,
        gateway_options: Mapping[str, Any] | None = None,
        tuning: Tuning | None = None,
        sleep: Callable[[float], None] = time.sleep,
        config_error: SettingsError | None = None,
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.session = session if session is not None else make_session()
        self._now = now
        self.platform = PlatformReader(environ)
        self.tuning = tuning = tuning or Tuning()
        # A platform variable of the host process that is invalid: every hook says so.
        self.config_error = config_error
        self._gateway_options = {"tuning": tuning, **(gateway_options or {})}
        self.budget = OtpBudget(self.store, block_seconds=tuning.otp_block_seconds,
                                suspend_seconds=tuning.otp_suspend_seconds)
        self.dedup = Dedup(self.store, window=tuning.dedup_seconds, sleep=sleep,
                           claim_seconds=tuning.open_deadline + tuning.dedup_margin)
        self._parsed: LRUCache[tuple[int, bool], _Parsed] = LRUCache(maxsize=4096)
        self._parsed_lock = threading.Lock()
        # Parsed settings objects live in _parsed; their Account (and its key hash) here.
        self._accounts: LRUCache[tuple[int, Platform], Account] = LRUCache(4096)
        self._options: LRUCache[int, tuple[LockList, list[dict[str, Any]]]] = LRUCache(16)
        self._schema = SettingsSchema()
        self._partial_schema = SettingsSchema(partial=("open_statuses",))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SaltoKsService:
        """The service a host gets by default, tuned by ``SALTO_KS_*`` variables. An
        invalid variable does not raise here (hooks never raise): every hook answers
        ``settings_invalid`` naming it, until the host process is fixed and restarted."""
        env = os.environ if environ is None else environ
        try:
            tuning = Tuning.from_env(env)
        except SettingsError as exc:
            return cls(environ=environ, config_error=exc)
        store: Store | None = None
        url = env.get("SALTO_KS_REDIS_URL")
        if url:
            from .redis_store import RedisStore

            try:
                store = RedisStore.from_url(url)
            except (ValueError, ImportError) as exc:
                error = SettingsError("SALTO_KS_REDIS_URL is not a usable Redis URL "
                                      f"({type(exc).__name__})")
                return cls(environ=environ, tuning=tuning, config_error=error)
        return cls(store=store, environ=environ, tuning=tuning)

    # -- settings --------------------------------------------------------------------------

    @staticmethod
    def raw_settings(park: Park) -> Any | None:
        integrations = getattr(park, "integrations", None)
        if not isinstance(integrations, Mapping):
            return None
        return integrations.get(INTEGRATION)

    def settings(self, raw: Any, *, partial: bool = False) -> Settings:
        """Parsed settings; validated again only when the stored dict changed."""
        key = (id(raw), partial)
        with self._parsed_lock:
            hit = self._parsed.get(key)
        if hit is None or hit.raw != raw:
            try:
                schema = self._partial_schema if partial else self._schema
                hit = _Parsed(copy.deepcopy(raw), schema.load(raw), None)
            except ValidationError as exc:
                hit = _Parsed(copy.deepcopy(raw), None,
                              SettingsError(describe_errors(exc.messages), exc.messages_dict))
            except (TypeError, ValueError, RecursionError) as exc:
                hit = _Parsed(None, None,
                              SettingsError(f"unreadable settings ({type(exc).__name__})"))
            with self._parsed_lock:
                self._parsed[key] = hit
        if hit.error is not None:
            raise hit.error
        assert hit.settings is not None
        return hit.settings

    def gateway(self, settings: Settings, deadline: float | None = None) -> SaltoGateway:
        """The gateway for a park's account, on the hosts and client of the platform
        (read from the host's environment now, never from the park's settings)."""
        if self.config_error is not None:
            raise self.config_error
        platform = self.platform(settings.environment)
        key = (id(settings), platform)
        with self._parsed_lock:
            account = self._accounts.get(key)
        # ids are reused after garbage collection: check it really is this park's account
        if account is None or (account.username, account.password) != (
                settings.username, settings.password):
            account = Account(
                identity_url=platform.identity_url,
                api_url=platform.api_url,
                client=platform.client,
                username=settings.username,
                password=settings.password,
            )
            with self._parsed_lock:
                self._accounts[key] = account
        return SaltoGateway(account, session=self.session, store=self.store,
                            deadline=deadline, **self._gateway_options)

    def utcnow(self) -> datetime:
        return self._now()

    def deadline(self, seconds: float) -> float:
        """A ``time.monotonic()`` instant ``seconds`` from now: a hook's deadline."""
        return time.monotonic() + seconds

    @staticmethod
    def site_id(gateway: SaltoGateway, settings: Settings) -> str:
        return settings.site_id or gateway.resolve_site(settings.site_uid).id

    # -- on_booking_status -----------------------------------------------------------------

    def access_info(self, park: Park, booking: Booking, new_status: str) -> AccessInfo | None:
        try:
            return self._access_info(park, booking, new_status)
        except Exception:  # the host's status change must never break because of us
            log.exception("salto on_booking_status failed unexpectedly")
            return AccessInfo(INTEGRATION, False, None, None, None, None,
                              [Reason.INTERNAL_ERROR])

    def _access_info(self, park: Park, booking: Booking, new_status: str
                     ) -> AccessInfo | None:
        raw = self.raw_settings(park)
        if raw is None:
            return None
        warnings: list[str] = []
        lock_id = lock_name = None
        window: Window | None = None
        allowed = False
        try:
            if self.config_error is not None:
                raise self.config_error
            settings = self.settings(raw)
            zone = park_zone(park)
            if not settings.enabled:
                warnings.append(Reason.INTEGRATION_INACTIVE)
            allowed = settings.enabled and new_status in settings.opening_statuses
            try:
                window = open_window(getattr(booking, "arrival", None),
                                     getattr(booking, "departure", None),
                                     settings.minutes_before, zone)
            except BookingError:
                warnings.append(Reason.BOOKING_INVALID)
            object_id = getattr(booking, "object_id", None)
            lock_id = resolve_lock(object_id, settings.mapping, settings.default_lock_id) if (
                isinstance(object_id, str)) else settings.default_lock_id
            if lock_id is None:
                warnings.append(Reason.NO_LOCK_MAPPED)
            elif allowed:
                lock_name = self._check_lock(settings, lock_id, warnings)
        except SettingsError:
            warnings.append(Reason.SETTINGS_INVALID)
        return AccessInfo(
            integration=INTEGRATION,
            allowed=bool(allowed) and not warnings,
            lock_id=lock_id,
            lock_name=lock_name,
            opens_at=window.opens_at if window else None,
            closes_at=window.closes_at if window else None,
            warnings=warnings,
        )

    def _check_lock(self, settings: Settings, lock_id: str, warnings: list[str]) -> str | None:
        """Look the lock up (cached) and add warnings for what would stop an open."""
        try:
            gateway = self.gateway(settings, self.deadline(self.tuning.status_deadline))
            lock = gateway.locks(self.site_id(gateway, settings)).by_id.get(lock_id)
        except SaltoError as exc:
            warnings.append(exc.reason)
            return None
        if lock is None:
            warnings.append(Reason.LOCK_NOT_FOUND)
            return None
        iq = settings.iqs.get(lock.iq_id or "")
        if iq is None or not iq.activated:
            warnings.append(Reason.IQ_NOT_ACTIVATED)
        elif lock.iq_id is not None:
            try:
                refusal = self.budget.refusal(gateway.account.key, lock.iq_id,
                                              credentials_fingerprint(iq))
            except StoreUnavailable:
                warnings.append(Reason.STORE_UNAVAILABLE)
                refusal = None
            if refusal is not None:
                warnings.append(Reason.OTP_BLOCKED if refusal.blocked else
                                Reason.OTP_SUSPENDED)
        if abs(gateway.clock_offset()) > CLOCK_WARN_SECONDS:
            warnings.append(Reason.CLOCK_SKEW)
        offline = _offline(lock)
        if offline is not None:
            warnings.append(offline)
        return lock.name

    # -- on_open_request -------------------------------------------------------------------

    def open(
        self, park: Park, booking: Booking, requested_by: Any, now: datetime | None
    ) -> OpenResult | None:
        raw = self.raw_settings(park)
        if raw is None:
            return None
        attempt = _Attempt(uuid.uuid4().hex, getattr(park, "id", None),
                           getattr(booking, "id", None), requested_by)
        try:
            return self._open(raw, park, booking, now, attempt)
        except Exception:
            log.exception("salto open attempt=%s failed unexpectedly", attempt.attempt_id)
            if attempt.result is not None and attempt.result.opened:
                return attempt.result  # the lock opened: say so, whatever failed after
            return attempt.done(Reason.INTERNAL_ERROR)

    def _open(
        self, raw: Any, park: Park, booking: Booking, now: datetime | None, attempt: _Attempt
    ) -> OpenResult:
        try:
            if self.config_error is not None:
                raise self.config_error
            settings = self.settings(raw)
            zone = park_zone(park)
        except SettingsError as exc:
            return attempt.done(Reason.SETTINGS_INVALID, detail=str(exc))
        if not settings.enabled:
            return attempt.done(Reason.INTEGRATION_INACTIVE)
        try:
            decision = self._decide(settings, booking, zone, now)
        except BookingError as exc:
            return attempt.done(Reason.BOOKING_INVALID, detail=str(exc))
        attempt.lock_id = decision.lock_id
        if not decision.allowed:
            return attempt.done(
                decision.reason,
                status=host_text(getattr(booking, "status", None)),
                opens_at=_local(decision.window.opens_at, zone),
                closes_at=_local(decision.window.closes_at, zone),
            )
        assert decision.lock_id is not None
        try:
            return self._guarded_open(settings, booking, decision.lock_id, attempt)
        except StoreUnavailable as exc:
            log.warning("salto open attempt=%s: %s", attempt.attempt_id, exc)
            return attempt.done(Reason.STORE_UNAVAILABLE)

    def _decide(
        self, settings: Settings, booking: Booking, zone: ZoneInfo, now: datetime | None
    ) -> Decision:
        window = open_window(getattr(booking, "arrival", None),
                             getattr(booking, "departure", None), settings.minutes_before, zone)
        status = getattr(booking, "status", None)
        object_id = getattr(booking, "object_id", None)
        if not isinstance(status, str) or not isinstance(object_id, str):
            raise BookingError("booking.status and booking.object_id must be strings")
        instant = self._now() if now is None else to_utc(now, zone, "now")
        return decide(
            status=status,
            open_statuses=settings.opening_statuses,
            window=window,
            now=instant,
            lock_id=resolve_lock(object_id, settings.mapping, settings.default_lock_id),
        )

    def _guarded_open(
        self, settings: Settings, booking: Booking, lock_id: str, attempt: _Attempt
    ) -> OpenResult:
        """One open per (park, booking, lock, requester) within the dedup window, across
        workers. Store failures after the command never turn an open into a failure."""
        deadline = self.deadline(self.tuning.open_deadline)
        if self.dedup.window <= 0:
            return self._send_open(settings, booking, lock_id, attempt, deadline)
        key = Dedup.key(attempt.park_key, attempt.booking_key, lock_id, attempt.by_key)
        if not self.dedup.claim(key):
            first = self.dedup.wait(key, deadline)
            if first is None:
                return attempt.done(Reason.DUPLICATE, outcome=Outcome.FAILED,
                                    retry_after=self.dedup.window,
                                    first="another request for this booking is still "
                                    "running; try again in a moment")
            return attempt.done(
                Reason.DUPLICATE, outcome=Outcome(first["outcome"]),
                opened_at=datetime.fromisoformat(first["opened_at"])
                if first["opened_at"] else None,
                retry_after=first["retry_after"],
                first=f"attempt {first['attempt_id']}: {first['message']}")
        try:
            result = self._send_open(settings, booking, lock_id, attempt, deadline)
        except BaseException:
            _best_effort(self.dedup.release, key)
            raise
        # Taps waiting now get this result; after a failure a deliberate retry may go
        # through again soon, after an open only once the window has passed.
        _best_effort(self.dedup.publish, key, {
            "outcome": result.outcome.value, "reason": result.reason.value,
            "message": result.message, "attempt_id": result.attempt_id,
            "opened_at": result.opened_at.isoformat() if result.opened_at else None,
            "retry_after": result.retry_after,
        }, ttl=None if result.opened else self.tuning.failed_dedup_seconds)
        return result

    def _send_open(
        self, settings: Settings, booking: Booking, lock_id: str, attempt: _Attempt,
        deadline: float,
    ) -> OpenResult:
        gateway: SaltoGateway | None = None
        site_id = None
        try:
            gateway = self.gateway(settings, deadline)
            site_id = self.site_id(gateway, settings)
            lock = self._find_lock(gateway, site_id, lock_id)
            if lock is None:
                return attempt.done(Reason.LOCK_NOT_FOUND)
            attempt.lock_name = lock.name
            iq = settings.iqs.get(lock.iq_id or "")
            if lock.iq_id is None or iq is None or not iq.activated:
                return attempt.done(Reason.IQ_NOT_ACTIVATED)
            offline = self._offline_reason(gateway, site_id, lock)
            if offline is not None:
                return attempt.done(offline)
            return self._signed_open(gateway, site_id, lock, iq, settings, booking, attempt)
        except SettingsError as exc:
            return attempt.done(Reason.SETTINGS_INVALID, detail=str(exc))
        except SaltoError as exc:
            reason = exc.reason
            if isinstance(exc, Timeout):
                return attempt.done(Reason.TIMEOUT, detail=(
                    "the lock may or may not have opened." if attempt.command_sent and exc.sent
                    else "no open command was sent, so the lock did not open."))
            if gateway is not None and site_id is not None and reason in (
                Reason.SALTO_REJECTED, Reason.SALTO_UNAVAILABLE, Reason.PERMISSION_DENIED
            ):
                reason = self._diagnose(gateway, site_id, lock_id) or reason
            if reason is Reason.SALTO_REJECTED and isinstance(exc, NotFound) and (
                exc.path and "/locks/" in exc.path
            ):
                reason = Reason.LOCK_NOT_FOUND
            return attempt.done(reason, detail=str(exc), retry_after=exc.retry_after)

    def _signed_open(
        self, gateway: SaltoGateway, site_id: str, lock: Lock, iq: IqCredentials,
        settings: Settings, booking: Booking, attempt: _Attempt,
    ) -> OpenResult:
        """The PATCH itself, inside the IQ's OTP budget."""
        assert iq.secret is not None and iq.pin is not None and lock.iq_id is not None
        secret, pin, account = iq.secret, iq.pin, gateway.account.key
        fingerprint = credentials_fingerprint(iq)
        budget = self.budget.state(account, lock.iq_id, fingerprint)
        refusal = budget.refusal
        if refusal is not None:
            reason = Reason.OTP_BLOCKED if refusal.blocked else Reason.OTP_SUSPENDED
            return attempt.done(reason, retry_after=round(refusal.retry_after),
                                minutes=max(1, round(refusal.retry_after / 60)))
        attempt.command_sent = True
        try:
            gateway.open_lock(site_id, lock.id,
                              sign=lambda: salto_otp(secret, pin, gateway.salto_now()))
        except OtpBlocked:
            seconds = self.budget.blocked(account, lock.iq_id)
            return attempt.done(Reason.OTP_BLOCKED, retry_after=seconds,
                                minutes=round(seconds / 60))
        except OtpRejected:
            suspended = self.budget.rejected(account, lock.iq_id, fingerprint)
            return attempt.done(Reason.OTP_REJECTED, detail=(
                " OTP use for this IQ is now suspended until an admin re-activates it "
                "(GET PIN and Set PIN)." if suspended else ""))
        if budget.rejections:
            _best_effort(self.budget.accepted, account, lock.iq_id, fingerprint)
        opened_at = self._now().replace(microsecond=0)
        updates: dict[str, Any] = {}
        if settings.open_field:
            updates[settings.open_field] = _iso(opened_at)
        new_status = settings.checkin_status
        if new_status == booking.status:
            new_status = None
        return attempt.done(Reason.OPENED, opened_at=opened_at, booking_updates=updates,
                            new_status=new_status)

    @staticmethod
    def _find_lock(gateway: SaltoGateway, site_id: str, lock_id: str) -> Lock | None:
        lock = gateway.locks(site_id).by_id.get(lock_id)
        if lock is None:  # mapped after the list was cached? look once more
            lock = gateway.locks(site_id, refresh=True).by_id.get(lock_id)
        return lock

    @staticmethod
    def _offline_reason(gateway: SaltoGateway, site_id: str, lock: Lock) -> Reason | None:
        """Offline per the cached list is confirmed with a fresh read before failing."""
        if lock.online and lock.iq_online is not False:
            return None
        return _offline(gateway.lock(site_id, lock.id))

    @staticmethod
    def _diagnose(gateway: SaltoGateway, site_id: str, lock_id: str) -> Reason | None:
        """After an unexplained refusal of the open, ask Salto whether lock or IQ is offline
        (the API does not document the locking call's error for that case)."""
        try:
            return _offline(gateway.lock(site_id, lock_id))
        except SaltoError:
            return None

    # -- mapping_options -------------------------------------------------------------------

    def mapping_options(self, park: Park, refresh: bool) -> list[dict[str, Any]] | None:
        raw = self.raw_settings(park)
        if raw is None:
            return None
        try:
            settings = self.settings(raw, partial=True)
            gateway = self.gateway(settings, self.deadline(self.tuning.options_deadline))
            locks = gateway.locks(self.site_id(gateway, settings), refresh=refresh is True)
        except (SettingsError, SaltoError) as exc:
            log.warning("salto lock list unavailable for park %s: %s",
                        host_text(getattr(park, "id", "?")), exc)
            return []
        return [option.copy() for option in self._options_of(locks)]

    def _options_of(self, locks: LockList) -> list[dict[str, Any]]:
        """The dropdown of a lock list, built once per fetched list (copied per caller)."""
        with self._parsed_lock:
            hit = self._options.get(id(locks))
        if hit is None or hit[0] is not locks:
            hit = (locks, [lock_option(lock) for lock in locks.locks])
            with self._parsed_lock:
                self._options[id(locks)] = hit
        return hit[1]


def _best_effort(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Bookkeeping after the command: a store failure is logged, never raised, so a lock
    that opened is reported as opened."""
    try:
        action(*args, **kwargs)
    except StoreUnavailable as exc:
        log.warning("salto bookkeeping skipped (%s): %s", action.__name__, exc)


def _offline(lock: Lock) -> Reason | None:
    if lock.iq_online is False:
        return Reason.IQ_OFFLINE
    return None if lock.online else Reason.LOCK_OFFLINE


def lock_option(lock: Lock) -> dict[str, Any]:
    state = "" if lock.online and lock.iq_online is not False else " (offline)"
    return {
        "value": lock.id,
        "label": f"{lock.name}{state}",
        "online": lock.online and lock.iq_online is not False,
        "iq_id": lock.iq_id,
    }


class _Attempt:
    """One open attempt: builds the result and logs it once, without secrets."""

    __slots__ = ("attempt_id", "booking_id", "booking_key", "by_key", "command_sent",
                 "lock_id", "lock_name", "park_id", "park_key", "requested_by", "result",
                 "started")

    def __init__(self, attempt_id: str, park_id: Any, booking_id: Any, requested_by: Any):
        self.attempt_id = attempt_id
        # Host values, read once as bounded printable text (logs) and as longer text for
        # the duplicate guard's key; nothing later can raise on them.
        self.park_id = host_text(park_id)
        self.booking_id = host_text(booking_id)
        self.requested_by = host_text(requested_by)
        self.park_key = host_text(park_id, 1000)
        self.booking_key = host_text(booking_id, 1000)
        self.by_key = host_text(requested_by, 1000)
        self.lock_id: str | None = None
        self.lock_name: str | None = None
        self.command_sent = False
        self.result: OpenResult | None = None
        self.started = time.perf_counter()

    def done(
        self,
        reason: Reason,
        *,
        opened_at: datetime | None = None,
        booking_updates: dict[str, Any] | None = None,
        new_status: str | None = None,
        retry_after: float | None = None,
        outcome: Outcome | None = None,
        **fill: Any,
    ) -> OpenResult:
        if outcome is None:
            outcome = (Outcome.OPENED if reason is Reason.OPENED else
                       Outcome.DENIED if reason in DENIED_REASONS else Outcome.FAILED)
        fill.setdefault("detail", "")
        fill["lock"] = self.lock_name or self.lock_id or "?"
        fill["attempt"] = self.attempt_id
        message = STAFF_MESSAGES[reason].format_map(_Default(fill))
        log.info(
            "salto open attempt=%s park=%s booking=%s by=%s lock=%s outcome=%s reason=%s "
            "ms=%.1f", self.attempt_id, self.park_id, self.booking_id,
            self.requested_by, self.lock_id, outcome.value, reason.value,
            (time.perf_counter() - self.started) * 1000,
        )
        self.result = OpenResult(
            outcome=outcome,
            reason=reason,
            message=message,
            attempt_id=self.attempt_id,
            lock_id=self.lock_id,
            opened_at=opened_at,
            booking_updates=booking_updates or {},
            new_status=new_status,
            retry_after=retry_after,
        )
        return self.result


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"
