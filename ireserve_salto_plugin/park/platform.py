"""What the host process's environment decides, never a park's settings.

- :class:`Platform`: Salto's hosts and the platform OAuth client for one environment
  (``SALTO_KS_<ENV>_API_URL``, ``_IDENTITY_URL``, ``_EVENTS_URL``, ``_CLIENT_ID``,
  ``_CLIENT_SECRET``). Park
  admins are tenants: nothing they store can choose a host or reach the client secret.
  Read whenever a park's settings are used, so a host (or a test run) may change them.
- :func:`tuning_from_env`: deadlines, guards and caps (``SALTO_KS_*`` numbers), validated
  once when the plugin starts. A bad value is a :class:`SettingsError` naming the variable.
- :func:`settings_file_environment`: what a support command's settings file may say about
  them (only the sandbox's own loopback hosts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.salto.config import (
    DEFAULT_EVENTS_HOSTS,
    DEFAULT_HOSTS,
    ENVIRONMENTS,
    ClientCredentials,
    Tuning,
    is_loopback,
    origin,
)


def base_url(value: str, variable: str) -> str:
    """A Salto base URL from the platform: https, or http on a loopback host (sandbox)."""
    try:
        scheme, host, _ = origin(value)
        parts = urlsplit(value)
    except ValueError:
        raise SettingsError(f"{variable} must be an absolute https URL") from None
    if scheme == "http" and not is_loopback(host):
        raise SettingsError(f"{variable} must use https (http only for a loopback host)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SettingsError(f"{variable} must not hold credentials, a query or a fragment")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True, eq=False)
class Platform:
    """Hashed by identity: :class:`PlatformReader` keeps one instance per set of values."""

    environment: str
    api_url: str
    identity_url: str
    client: ClientCredentials = field(repr=False)
    events_url: str = ""  # the event streaming service (the listener's only)


class PlatformReader:
    """Reads :class:`Platform` from an environment mapping on every call; validation is
    done once per distinct set of values (a few dictionary lookups on the open path)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._seen: dict[tuple[str, ...], Platform] = {}

    def __call__(self, environment: str) -> Platform:
        env = os.environ if self._environ is None else self._environ
        prefix = f"SALTO_KS_{environment.upper()}_"
        values = (
            environment,
            env.get(prefix + "API_URL") or "",
            env.get(prefix + "IDENTITY_URL") or "",
            env.get(prefix + "CLIENT_ID") or "",
            env.get(prefix + "CLIENT_SECRET") or "",
            env.get(prefix + "EVENTS_URL") or "",
        )
        platform = self._seen.get(values)
        if platform is None:
            platform = self._build(prefix, *values)
            if len(self._seen) >= 16:
                self._seen.clear()
            self._seen[values] = platform
        return platform

    @staticmethod
    def _build(
        prefix: str,
        environment: str,
        api: str,
        identity: str,
        client_id: str,
        client_secret: str,
        events: str,
    ) -> Platform:
        if environment not in DEFAULT_HOSTS:
            raise SettingsError(f"environment must be one of {', '.join(ENVIRONMENTS)}")
        missing = [
            prefix + name
            for name, value in (("CLIENT_ID", client_id), ("CLIENT_SECRET", client_secret))
            if not value
        ]
        if missing:
            raise SettingsError(
                f"Platform OAuth client for {environment} is not configured: "
                f"set {' and '.join(missing)} in the host's environment."
            )
        default_api, default_identity = DEFAULT_HOSTS[environment]
        return Platform(
            environment,
            base_url(api or default_api, prefix + "API_URL"),
            base_url(identity or default_identity, prefix + "IDENTITY_URL"),
            ClientCredentials(client_id, client_secret),
            base_url(events or DEFAULT_EVENTS_HOSTS[environment], prefix + "EVENTS_URL"),
        )


def platform_variables(
    environment: str, *, api_url: str, identity_url: str, client_id: str, client_secret: str
) -> dict[str, str]:
    """The four variables that point an environment at other hosts (the sandbox)."""
    prefix = f"SALTO_KS_{environment.upper()}_"
    return {
        prefix + "API_URL": api_url,
        prefix + "IDENTITY_URL": identity_url,
        prefix + "CLIENT_ID": client_id,
        prefix + "CLIENT_SECRET": client_secret,
    }


SANDBOX_WRITER = "ireserve-salto sandbox"  # the mark of a settings file the sandbox wrote
STATE_DIR = "SALTO_KS_STATE_DIR"  # the support CLI's own files (its OTP budget, this key)
SANDBOX_KEY = "sandbox.key"  # signs the marker: a tenant's file cannot carry a valid one


def state_dir(environ: Mapping[str, str]) -> Path:
    """Where the support CLI keeps its files: ``SALTO_KS_STATE_DIR``, else
    ``~/.ireserve-salto`` (folder 0700, files 0600)."""
    return Path(environ.get(STATE_DIR) or Path.home() / ".ireserve-salto")


def sandbox_key(environ: Mapping[str, str], *, create: bool = False) -> bytes | None:
    """This machine's sandbox key (made, 0600, when ``create`` and missing): only a
    sandbox run by this user signs with it, and only this user's CLI reads it."""
    path = state_dir(environ) / SANDBOX_KEY
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another sandbox made it meanwhile
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _signature(key: bytes, block: Mapping[str, Any]) -> str:
    text = json.dumps(dict(block), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def sandbox_marked(block: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, Any]:
    """The marker of a settings file this machine's sandbox writes: its loopback platform
    variables (``env``) and their signature with this machine's sandbox key."""
    key = sandbox_key(environ, create=True)
    assert key is not None
    return {"written_by": SANDBOX_WRITER, "env": dict(block), "signature": _signature(key, block)}


_FILE_VARIABLE = re.compile(
    r"SALTO_KS_(ACCEPTANCE|PRODUCTION)_"
    r"(API_URL|IDENTITY_URL|CLIENT_ID|CLIENT_SECRET|EVENTS_URL)"
)


def settings_file_environment(data: Any, environ: Mapping[str, str]) -> dict[str, str]:
    """The platform variables a support command runs with: the process's own. A park's
    settings file comes from a tenant, so it never chooses a host, a client or a store.
    Only a file the ``sandbox`` command wrote (and marked so) may point an environment at
    its loopback hosts, with all four variables of that environment, which then replace
    the process's: the platform's real client never goes to a host a file names."""
    env = dict(environ)
    block = data.get("env") if isinstance(data, Mapping) else None
    if block is None:
        return env
    if data.get("written_by") != SANDBOX_WRITER or not isinstance(block, Mapping):
        raise SettingsError(
            'the settings file names platform variables ("env"); a park\'s '
            "settings never choose a host, a client or a store: set "
            "SALTO_KS_* in the environment of the command instead"
        )
    key, given = sandbox_key(environ), data.get("signature")
    if (
        key is None
        or not isinstance(given, str)
        or not hmac.compare_digest(given.encode(), _signature(key, block).encode())
    ):
        raise SettingsError(
            "the settings file says a sandbox wrote it, but its signature is "
            "not this machine's sandbox's: a park's settings never choose a "
            "host; start 'ireserve-salto sandbox' here to get such a file"
        )
    chosen: dict[str, dict[str, str]] = {}
    for name, value in block.items():
        match = _FILE_VARIABLE.fullmatch(str(name))
        if match is None or not isinstance(value, str):
            raise SettingsError(
                f"the settings file may not set {str(name)[:60]!r} (only "
                "SALTO_KS_<ENV>_API_URL, _IDENTITY_URL, _CLIENT_ID, "
                "_CLIENT_SECRET and _EVENTS_URL of a loopback sandbox)"
            )
        chosen.setdefault(match[1], {})[match[2]] = value
    for environment, values in chosen.items():
        prefix = f"SALTO_KS_{environment}_"
        if len(values.keys() - {"EVENTS_URL"}) != 4:
            raise SettingsError(f"the settings file must give all four {prefix}* variables or none")
        for kind in [kind for kind in ("API_URL", "IDENTITY_URL", "EVENTS_URL") if kind in values]:
            try:
                host = origin(values[kind])[1]
            except ValueError:
                host = ""
            if not is_loopback(host):
                raise SettingsError(
                    f"{prefix}{kind} in the settings file must be a loopback sandbox host"
                )
        env.update({prefix + kind: value for kind, value in values.items()})
    return env


def tuning_from_env(environ: Mapping[str, str] | None = None) -> Tuning:
    """The :class:`Tuning` that ``SALTO_KS_*`` numbers choose; a bad value is a
    :class:`SettingsError` naming the variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in fields(Tuning):
        if "env" not in spec.metadata:
            continue
        suffix, low, high = spec.metadata["env"]
        name = f"SALTO_KS_{suffix}"
        text = env.get(name)
        if text is None or text.strip() == "":
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not low <= value <= high:
            raise SettingsError(f"{name} must be a number of seconds from {low} to {high}")
        values[spec.name] = value
    return replace(Tuning(), **values)
