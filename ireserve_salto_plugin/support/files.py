"""The support desk's workbench behind ``ireserve-salto check|iqs|locks|activate|self-test|
why|entries|readiness``: one park's settings file (JSON as the host stores it, secrets
included, or a file written by ``ireserve-salto sandbox``) and the platform variables,
run through the plugin exactly as a host runs it (a reference host, the same hooks).

Exit codes for scripts: :data:`OK` (0) all well, :data:`PROBLEM` (1) the action failed or
found something to fix, :data:`UNUSABLE` (2) the file, the settings or the platform
variables cannot be used.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.flow.context import park_zone
from ireserve_salto_plugin.flow.wiring import service_from_env
from ireserve_salto_plugin.models import AdminResult
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.i18n import host_language
from ireserve_salto_plugin.park.platform import settings_file_environment
from ireserve_salto_plugin.park.text import local_time
from ireserve_salto_plugin.plugin import SaltoKsPlugin
from ireserve_salto_plugin.reference.host import Booking, Park, ReferenceHost, deep_merge
from ireserve_salto_plugin.salto.errors import SaltoError
from ireserve_salto_plugin.salto.types import canonical_uuid
from ireserve_salto_plugin.support.state import NoBudget, budget_store
from ireserve_salto_plugin.support.tables import _on, entry_rows

OK, PROBLEM, UNUSABLE = 0, 1, 2


class WriteRefused(OSError):
    """The target of a private write is not safe to write (a link, another user's file)."""


def write_private(path: Path, data: Any) -> None:
    """``data`` as JSON at ``path`` (it holds secrets): mode 0600, atomically and durably.

    The temporary file is created exclusively (``O_EXCL|O_NOFOLLOW``, a random name in
    the target's folder, so nobody can pre-create or link it), written, fsynced, renamed
    over the target, and the folder is fsynced. A target that is a symbolic link, not a
    regular file, or owned by another user is refused (:class:`WriteRefused`)."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    if found is not None:
        if stat.S_ISLNK(found.st_mode):
            raise WriteRefused(f"{path} is a symbolic link; nothing was written")
        if not stat.S_ISREG(found.st_mode):
            raise WriteRefused(f"{path} is not a regular file; nothing was written")
        if found.st_uid != os.geteuid():
            raise WriteRefused(f"{path} belongs to another user; nothing was written")
    folder = path.parent
    partial = folder / f".{path.name}.{secrets.token_hex(8)}.partial"
    fd = os.open(
        partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(partial)
        raise
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def rescue_private(data: Any, label: str) -> Path:
    """Somewhere private to keep what must not be lost when the settings file cannot be
    written (a secret Salto hands out once): ``~/.ireserve-salto/``, mode 0700."""
    folder = Path.home() / ".ireserve-salto"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / f"rescued-{label}-{secrets.token_hex(4)}.json"
    write_private(path, data)
    return path


class Unusable(Exception):
    """The settings file or the platform variables cannot be used (exit code 2)."""


class Desk:
    def __init__(
        self,
        settings_file: str,
        environ: Mapping[str, str] | None = None,
        warn: Callable[[str], None] = print,
    ) -> None:
        self.path = Path(settings_file)
        self.warn = warn
        try:
            if self.path.stat().st_mode & 0o077:
                warn(
                    f"warning: {self.path} is readable by other users; it holds secrets (chmod 600)"
                )
        except OSError as exc:
            raise Unusable(f"{self.path}: unreadable ({type(exc).__name__})") from None
        self.data = read_json(self.path)
        if not isinstance(self.data, dict):
            raise Unusable(f"{self.path}: not a JSON object")
        self.wrapped = isinstance(self.data.get(INTEGRATION), dict)
        raw = self.data[INTEGRATION] if self.wrapped else self.data
        try:
            env = settings_file_environment(self.data, os.environ if environ is None else environ)
        except SettingsError as exc:
            raise Unusable(f"{self.path}: {exc}") from None
        try:
            self.service = service_from_env(env, budget_store=budget_store(env))
        except NoBudget as exc:
            raise Unusable(str(exc)) from None
        self.host = ReferenceHost(load_entrypoints=False)
        self.host.pm.register(SaltoKsPlugin(self.service), INTEGRATION)
        self.park = self.host.add_park(
            Park(
                str(self.data.get("park_id", "support")),
                str(self.data.get("timezone", "Europe/Amsterdam")),
                {INTEGRATION: raw},
                locale=self.data.get("locale"),
            )
        )
        try:
            ctx = self.service.context(self.park, partial=True)
        except SettingsError as exc:
            raise Unusable(f"{self.path}: {exc}") from None
        warn(
            f"Salto KS {ctx.settings.environment}: identity {ctx.account.identity_url}, "
            f"API {ctx.account.api_url}"
        )  # where the password and client secret go

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.park.integrations[INTEGRATION]
        return settings

    def admin(self, action: str, **params: Any) -> AdminResult:
        return self.host.admin(self.park, INTEGRATION, action, **params)

    def save(self, update: Mapping[str, Any]) -> Path | None:
        """Merge a ``settings_update`` into the file (atomically, mode 0600). When the file
        cannot be written, the merged settings are rescued to a private file whose path
        is returned (a secret Salto hands out once is never lost); ``None`` when saved."""
        merged = deep_merge(self.settings, update)
        self.park.integrations[INTEGRATION] = merged
        data = {**self.data, INTEGRATION: merged} if self.wrapped else merged
        try:
            write_private(self.path, data)
        except OSError as exc:
            self.warn(f"{self.path} could not be written ({exc}); the settings are kept elsewhere")
            return rescue_private(data, "settings")
        self.data = data
        return None

    def locks(
        self, on_page: Callable[[int, int | None], None] | None = None
    ) -> list[dict[str, Any]]:
        """The site's locks read fresh from Salto, with their IQs' names and state."""
        ctx = self.service.context(self.park, partial=True)
        gateway = ctx.gateway(self.service.tuning.options_deadline)
        gateway.on_page = on_page
        locks = gateway.locks(ctx.site_id(gateway), refresh=True, thorough=True)
        return [
            {
                "id": lock.id,
                "name": lock.name,
                "online": lock.reachable,
                "iq_id": lock.iq_id,
                "iq": iq.name if (iq := locks.iqs.get(lock.iq_id or "")) else None,
                "battery": lock.battery_level,
                # settings of the lock (Salto's SDK: "...AlarmEnabled"), not alarms going off
                "left-open alarm": _on(lock.left_open_alarm),
                "intrusion alarm": _on(lock.intrusion_alarm),
            }
            for lock in locks.locks
        ]

    def local(self, stamp: Any) -> str:
        """An ISO 8601 time from the store, in the park's zone with seconds."""
        try:
            moment = datetime.fromisoformat(str(stamp))
        except ValueError:
            return str(stamp)
        zone = park_zone(self.park)
        return local_time(
            moment if moment.tzinfo else moment.replace(tzinfo=UTC), zone, seconds=True
        )

    @property
    def lang(self) -> str:
        """The desk's language: ``--lang``, else the park's ``locale`` (English without)."""
        return host_language(self.park)

    @functools.cached_property
    def _names(self) -> dict[str, str]:
        try:
            return {lock["id"]: lock["name"] for lock in self.locks()}
        except SaltoError:
            return {}

    def lock_names(self) -> dict[str, str]:
        """Lock id → name from the site's list, read once per command (empty when Salto
        cannot be asked)."""
        return self._names

    def lock_id(self, given: str) -> str:
        """A lock's UUID, or its name as Salto lists it (``Chalet 12``); anything else is
        refused (a name that silently matched nothing returned an empty log)."""
        try:
            return canonical_uuid(given)
        except ValueError:
            pass
        named = [lock["id"] for lock in self.locks() if lock["name"].casefold() == given.casefold()]
        if len(named) != 1:
            raise Unusable(
                f"no single lock with id or name {given!r} on the site: see 'ireserve-salto locks'"
            )
        return str(named[0])

    def entry_rows(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Salto's log entries for people, in the park's zone (:func:`entry_rows`)."""
        return entry_rows(entries, park_zone(self.park))

    def booking(self, raw: Any) -> Booking:
        """A booking from JSON: ``id``, ``object_id``, ``status``, ``arrival``,
        ``departure`` (ISO 8601) and optionally ``locale``."""
        if not isinstance(raw, dict):
            raise Unusable("a booking must be a JSON object")
        try:
            return Booking(
                str(raw["id"]),
                str(raw["object_id"]),
                str(raw["status"]),
                _moment("arrival", str(raw["arrival"])),
                _moment("departure", str(raw["departure"])),
                locale=raw.get("locale"),
            )
        except KeyError as exc:
            raise Unusable(f"a booking needs {exc.args[0]!r}") from None

    def booking_from(
        self,
        file: str | None,
        object_id: str | None,
        arrival: str | None,
        departure: str | None,
        status: str | None,
    ) -> Booking:
        """The booking of a file, or one described by options (no JSON to write)."""
        if file is not None:
            found = next(iter(self.bookings(file)), None)
            if found is None:
                raise Unusable(f"{file}: no booking in it")
            return found
        if not object_id or not arrival or not departure:
            raise Unusable("give a booking file, or --object, --arrival and --departure")
        statuses = self.settings.get("open_statuses") or ["confirmed"]
        return self.booking(
            {
                "id": "cli",
                "object_id": object_id,
                "arrival": arrival,
                "departure": departure,
                "status": status or str(statuses[0]),
            }
        )

    def instant(self, text: str | None) -> datetime | None:
        """``--at``: a time to judge at (naive: park-local), or ``None`` for now."""
        if text is None:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise Unusable("--at must be an ISO 8601 time") from None

    def iq_id(self, given: str) -> str:
        """An IQ's UUID, or its name as Salto lists it (``IQ Reception``)."""
        listed = self.admin("list_iqs")
        iqs = listed.data.get("iqs", []) if listed.ok else []
        if any(iq["id"] == given.lower() for iq in iqs):
            return given.lower()
        named = [iq["id"] for iq in iqs if iq["name"].casefold() == given.casefold()]
        if len(named) == 1:
            return str(named[0])
        if not listed.ok:
            return given  # the action will say what is wrong
        raise Unusable(f"no IQ with id or name {given!r} on the site: see 'ireserve-salto iqs'")

    def bookings(self, file: str) -> list[Booking]:
        raw = read_json(Path(file))
        items = raw if isinstance(raw, list) else [raw]
        return [self.booking(item) for item in items]


def _moment(name: str, text: str) -> datetime:
    """An ISO 8601 time of a booking; a date alone is refused: it reads as 00:00, and a
    departure at 00:00 locks the guest out from the night before."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Unusable(f"{name} must be an ISO 8601 time, e.g. 2026-12-09T10:00") from None
    if ":" not in text:
        raise Unusable(
            f"{name} {text!r} has no time: give the park's check-in or check-out time too, "
            f"e.g. {moment:%Y-%m-%d}T10:00 (a date alone is 00:00)"
        )
    return moment


def read_json(path: Path) -> Any:
    """A JSON file, or :class:`Unusable` in plain words: where a syntax error is, and no
    traceback for a file nested too deep or not readable."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise Unusable(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise Unusable(f"{path}: JSON nested too deeply to read") from None
    except (OSError, ValueError) as exc:
        raise Unusable(f"{path}: unreadable ({type(exc).__name__})") from None
