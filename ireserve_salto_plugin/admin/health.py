"""What stops a door at this park, from what Salto answered just now: the account as a
site user and its activations (docs/salto-ks-api.md, "Which account"), and every mapped
lock with its IQ. ``test_connection`` renders the account's findings, ``status`` (and so
``ireserve-salto check``) all of them; each finding is one thing staff must fix.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ireserve_salto_plugin.park.answers import say
from ireserve_salto_plugin.park.settings import Settings
from ireserve_salto_plugin.salto.errors import NotFound, PermissionDenied, Refused
from ireserve_salto_plugin.salto.gateway import SaltoGateway
from ireserve_salto_plugin.salto.types import ActivatedIq, Iq, Lock, LockList, SiteUser

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that stops a door (or may), in the staff's language; ``subject``: the lock
    or IQ it is about, named when findings of one code are grouped."""

    code: str
    message: str
    subject: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def site_user(gateway: SaltoGateway, site_id: str) -> SiteUser | None:
    """The account as a site user, or ``None`` when Salto does not answer that question
    (an account type that may not read it): then nothing is judged from it."""
    try:
        return gateway.me(site_id)
    except (PermissionDenied, NotFound, Refused) as exc:
        log.info(
            "salto /sites/{site}/me not readable (%s): the account's rights are not checked",
            exc.code or exc.status,
        )
        return None


def account_data(user: SiteUser | None) -> dict[str, Any]:
    """What ``data.account`` shows (``None`` values when it could not be read)."""
    return {
        "remote_access": user.remote_access if user else None,
        "blocked": user.blocked if user else None,
        "subscription_state": user.subscription_state if user else None,
        "expires_at": user.expires_at.isoformat() if user and user.expires_at else None,
    }


def account_findings(
    settings: Settings,
    user: SiteUser | None,
    salto: list[ActivatedIq],
    iqs: Mapping[str, Iq],
    lang: str,
    now: datetime,
) -> list[Finding]:
    """The account cannot open when it has no remote-open right, is blocked, its
    subscription is suspended or its access has expired, or it is activated at an IQ for
    which no secret is stored here: then it was activated in the Salto KS app, which
    rotated the secret (and GET secret is refused for good)."""
    found = []
    name = settings.username
    if user is not None and user.suspended:
        found.append(
            Finding("subscription_suspended", say(lang, "subscription_suspended", username=name))
        )
    if user is not None and user.expires_at is not None and user.expired(now):
        found.append(
            Finding(
                "account_expired",
                say(
                    lang,
                    "account_expired",
                    username=name,
                    at=user.expires_at.isoformat(timespec="seconds"),
                ),
            )
        )
    if user is not None and user.remote_access is False:
        found.append(
            Finding("account_no_remote_access", say(lang, "account_no_remote", username=name))
        )
    if user is not None and user.blocked is True:
        found.append(Finding("account_blocked", say(lang, "account_blocked", username=name)))
    in_app = [
        state.iq_id
        for state in salto
        if state.activated and not _secret_here(settings, state.iq_id)
    ]
    if in_app:
        found.append(
            Finding(
                "account_used_in_app",
                say(
                    lang,
                    "account_in_app",
                    username=name,
                    iqs=", ".join(iqs[i].name if i in iqs else i for i in in_app),
                ),
            )
        )
    return found


DIRECT_READS = 20  # mapped locks missing from a list that is not complete, read one by one


def door_findings(
    settings: Settings, locks: LockList, lang: str, read: Callable[[str], Lock | None] | None = None
) -> list[Finding]:
    """Every mapped lock (and the default lock): on the site, its IQ activated here and not
    reset, IQ and lock online. Nothing mapped at all is a finding too: no door can open.
    When the list is not complete (Salto ignored paging), a mapped lock missing from it is
    read directly (``read``, up to :data:`DIRECT_READS`), never called missing unread."""
    mapped = _mapped(settings)
    if not mapped:
        return [Finding("nothing_mapped", say(lang, "nothing_mapped"))]
    found: list[Finding] = []
    per_iq: dict[str, int] = defaultdict(int)
    reads = DIRECT_READS if read is not None and not locks.complete else 0
    unchecked = 0
    for lock_id, objects in mapped.items():
        lock = locks.get(lock_id)
        if lock is None and not locks.complete:
            if reads <= 0 or read is None:
                unchecked += 1
                continue
            reads -= 1
            lock = read(lock_id)
        if lock is None:
            names = ", ".join(objects[:GROUP_NAMES])
            text = say(
                lang, "mapped_lock_missing", lock=lock_id, site_uid=settings.site_uid, objects=names
            )
            found.append(Finding("lock_not_found", text, lock_id))
            continue
        if lock.iq_id:
            per_iq[lock.iq_id] += 1
        if lock.iq_online is not False and not lock.online:
            text = say(lang, "mapped_lock_offline", lock=lock.name)
            found.append(Finding("lock_offline", text, lock.name))
    for iq_id, count in per_iq.items():
        found.extend(_iq_findings(settings, locks, iq_id, count, lang))
    if unchecked:
        found.append(Finding("locks_unchecked", say(lang, "locks_unchecked", count=unchecked)))
    return found


def _mapped(settings: Settings) -> dict[str, list[str]]:
    """Each mapped lock (own locks, common doors, the default lock) with what maps to it."""
    mapped: dict[str, list[str]] = defaultdict(list)
    for object_id, own in settings.object_locks.items():
        for lock_id in own:
            mapped[lock_id].append(object_id)
    for lock_id, label in settings.common_locks.items():
        mapped[lock_id].append(label or lock_id)
    if settings.default_lock_id:
        mapped[settings.default_lock_id].append("*")
    return mapped


def _iq_findings(
    settings: Settings, locks: LockList, iq_id: str, count: int, lang: str
) -> list[Finding]:
    """The IQ of ``count`` mapped locks: reset, not activated here, offline."""
    iq = locks.iqs.get(iq_id)
    name = iq.name if iq is not None else iq_id
    found = []
    if iq is not None and iq.restore_required:
        found.append(Finding("iq_reset", say(lang, "mapped_iq_reset", iq=name), name))
    elif not _activated_here(settings, iq_id) and (iq is None or iq.otp_enabled is not False):
        text = say(lang, "mapped_iq_not_activated", iq=name, count=count)
        found.append(Finding("iq_not_activated", text, name))
    if iq is not None and not iq.online:
        found.append(Finding("iq_offline", say(lang, "iq_offline", iq=name), name))
    return found


def list_findings(locks: LockList, lang: str) -> list[Finding]:
    """The lock list itself: a Salto that ignores paging shows only its first page."""
    if not locks.paging_ignored:
        return []
    return [Finding("paging_ignored", say(lang, "paging_ignored", count=len(locks.locks)))]


def iq_findings(rows: list[dict[str, Any]], lang: str) -> list[Finding]:
    """From ``status``'s IQ rows (every IQ of the site, mapped or not): reset, offline,
    offline locks, an OTP budget that refuses codes, and an activation stored here that
    Salto does not know."""
    found = []
    for row in rows:
        if row["restore_required"]:
            found.append(
                Finding("iq_reset", say(lang, "mapped_iq_reset", iq=row["name"]), row["name"])
            )
        if not row["online"]:
            found.append(
                Finding("iq_offline", say(lang, "iq_offline", iq=row["name"]), row["name"])
            )
        if row["locks_offline"]:
            found.append(
                Finding(
                    "locks_offline",
                    say(lang, "iq_locks_offline", iq=row["name"], count=row["locks_offline"]),
                    row["name"],
                )
            )
        if row["budget"]["state"] != "ok":
            found.append(
                Finding(
                    "otp_" + row["budget"]["state"],
                    say(
                        lang,
                        "iq_budget_" + row["budget"]["state"],
                        iq=row["name"],
                        until=row["budget"]["until"],
                    ),
                )
            )
        if row["activated"] and not row["salto_activated"]:
            found.append(
                Finding("not_activated_at_salto", say(lang, "iq_here_not_salto", iq=row["name"]))
            )
    return found


def lock_health(rows: list[dict[str, Any]], lang: str) -> tuple[list[Finding], list[Finding]]:
    """From ``status``'s IQ rows: problems (a lock with a critical battery) and notes (a
    low battery: replace it soon; a battery level Salto does not document, as sent), per
    IQ. A lock's left-open and intrusion alarm flags are settings, never a problem."""
    problems, notes = [], []
    for row in rows:
        if row["battery_critical"]:
            problems.append(
                Finding(
                    "battery_critical",
                    say(
                        lang,
                        "battery_critical",
                        iq=row["name"],
                        locks=", ".join(row["battery_critical"]),
                    ),
                )
            )
        if row["battery_low"]:
            notes.append(
                Finding(
                    "battery_low",
                    say(lang, "battery_low", iq=row["name"], locks=", ".join(row["battery_low"])),
                )
            )
        if row["battery_other"]:
            notes.append(
                Finding(
                    "battery_unknown",
                    say(
                        lang,
                        "battery_unknown",
                        iq=row["name"],
                        locks=", ".join(row["battery_other"]),
                    ),
                )
            )
    return problems, notes


GROUP_NAMES = 5  # names shown in a grouped finding


def grouped(findings: list[Finding], lang: str) -> list[Finding]:
    """One finding per code, in order: the first's message, and for more of the same code
    their count and the first few names (the largest settings the schema accepts made a
    31.8 MB status of 100,100 findings). Repeats are dropped."""
    by_code: dict[str, list[Finding]] = {}
    for finding in dict.fromkeys(findings):
        by_code.setdefault(finding.code, []).append(finding)
    result = []
    for code, same in by_code.items():
        first, more = same[0], same[1:]
        if not more:
            result.append(first)
            continue
        names = [finding.subject or "?" for finding in more[:GROUP_NAMES]]
        result.append(
            Finding(
                code,
                say(
                    lang,
                    "and_more",
                    first=first.message,
                    count=len(more),
                    names=", ".join(names) + (", …" if len(more) > GROUP_NAMES else ""),
                ),
                first.subject,
            )
        )
    return result


def _secret_here(settings: Settings, iq_id: str) -> bool:
    stored = settings.iqs.get(iq_id)
    return bool(stored and stored.secret)


def _activated_here(settings: Settings, iq_id: str) -> bool:
    stored = settings.iqs.get(iq_id)
    return bool(stored and stored.activated)
