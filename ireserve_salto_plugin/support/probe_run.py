"""The ``ireserve-salto probe`` command around :class:`~.probe.Probe`: the settings file
read, the OTP budget shared (:mod:`.state`), the checks printed as a table or JSON, and
with ``--cassette`` the exchange recorded, scrubbed and scanned."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path

from marshmallow import ValidationError

from ireserve_salto_plugin.park.fields import SettingsError, describe_errors
from ireserve_salto_plugin.park.platform import (
    Platform,
    PlatformReader,
    settings_file_environment,
)
from ireserve_salto_plugin.park.settings import Settings, SettingsSchema
from ireserve_salto_plugin.park.text import printable
from ireserve_salto_plugin.store.guards import OtpBudget
from ireserve_salto_plugin.store.redis import RedisStore
from ireserve_salto_plugin.support.files import Unusable, read_json
from ireserve_salto_plugin.support.probe import Probe
from ireserve_salto_plugin.support.probe_base import COLUMN, Check
from ireserve_salto_plugin.support.recording import (
    API,
    IDENTITY,
    Rewriter,
    hygiene_problems,
    make_vcr,
)
from ireserve_salto_plugin.support.state import NoBudget, budget_store


def table(checks: list[Check]) -> str:
    rows = [("check", "expected", "", "seen")] + [
        (c.name, c.expected, c.mark, printable(c.seen)) for c in checks
    ]
    widths = [min(COLUMN, max(len(row[i]) for row in rows)) for i in range(3)]
    lines = []
    for row in rows:  # nothing is cut: long cells wrap, what was seen is printed whole
        parts = [textwrap.wrap(row[i], widths[i]) or [""] for i in range(2)]
        for n in range(max(len(part) for part in parts)):
            cells = [
                (part[n] if n < len(part) else "").ljust(width)
                for part, width in zip(parts, widths, strict=False)
            ]
            tail = [row[2].ljust(widths[2]), row[3]] if n == 0 else []
            lines.append("  ".join([*cells, *tail]).rstrip())
    return "\n".join(lines)


def run_probe(
    settings_file: str,
    *,
    self_test: str | None = None,
    open_lock: str | None = None,
    cassette: str | None = None,
    as_json: bool = False,
    echo: Callable[[str], None] = print,
    environ: Mapping[str, str] | None = None,
) -> int:
    """The ``ireserve-salto probe`` command; returns its exit code."""
    path = Path(settings_file)
    if path.stat().st_mode & 0o077:
        echo(f"warning: {path} is readable by other users; it holds secrets (chmod 600)")
    try:
        data = read_json(path)
        raw = data.get("salto_ks", data) if isinstance(data, dict) else data
        env = settings_file_environment(data, os.environ if environ is None else environ)
        settings = SettingsSchema(partial=("open_statuses",)).load(raw)
        platform = PlatformReader(env)(settings.environment)
        if not as_json:  # the JSON answer stays one document
            echo(
                f"Salto KS {settings.environment}: identity {platform.identity_url}, "
                f"API {platform.api_url}"
            )
    except Unusable as exc:  # not JSON, or nested too deeply to read: said plainly
        echo(str(exc))
        return 2
    except (OSError, ValueError, ValidationError, SettingsError) as exc:
        message = (
            describe_errors(exc.messages)
            if isinstance(exc, ValidationError)
            else str(exc)
            if isinstance(exc, SettingsError)
            else f"unreadable ({type(exc).__name__})"
        )
        echo(f"{path}: {message}")
        return 2
    try:
        store = budget_store(env) or RedisStore.from_url(env["SALTO_KS_REDIS_URL"])
    except (NoBudget, ValueError, ImportError) as exc:
        echo(f"{path}: {exc}")
        return 2
    run = Probe(settings, platform, budget=OtpBudget(store))
    if cassette:
        checks = _recorded(run, Path(cassette), platform, settings, self_test, open_lock, echo)
    else:
        checks = run.run(self_test_iq=self_test, open_lock=open_lock)
    if as_json:
        echo(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        echo(table(checks))
    return 1 if any(check.ok is False for check in checks) else 0


def _recorded(
    run: Probe,
    target: Path,
    platform: Platform,
    settings: Settings,
    self_test: str | None,
    open_lock: str | None,
    echo: Callable[[str], None],
) -> list[Check]:
    recorder = make_vcr(
        Rewriter({platform.identity_url: IDENTITY, platform.api_url: API}), "all", target.parent
    )
    with recorder.use_cassette(target.name):
        checks = run.run(self_test_iq=self_test, open_lock=open_lock)
    known = [settings.password, platform.client.client_secret]
    known += [value for iq in settings.iqs.values() for value in (iq.secret, iq.pin) if value]
    problems = hygiene_problems(target, tuple(known))
    if problems:
        target.unlink()
        echo(f"cassette NOT written: the hygiene scan found {len(problems)} problem(s)")
    else:
        echo(f"cassette written: {target} (scrubbed; hygiene scan clean)")
    return checks
