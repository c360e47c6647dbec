"""``./dev docs``: hookspecs.md's reference tables written from the code, one source per fact.

The code gives every table its rows and what is mechanical about them: the hooks and their
arguments (``hookspecs``), the reason codes and their outcomes (``models``), the settings
and which are secret (the settings schema), the platform variables with defaults and ranges
(``Tuning``), the admin actions with their params and written-back settings (``ACTIONS``).
The sentences are :mod:`.texts_reasons` and :mod:`.texts_settings`. Between the markers
``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` the file is this module's; the prose
around them is by hand. ``--check`` writes nothing and exits 1 when the file differs.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from ireserve_salto_plugin import hookspecs
from ireserve_salto_plugin.admin.actions import ACTIONS
from ireserve_salto_plugin.models import DENIED_REASONS, Reason
from ireserve_salto_plugin.park.settings import SettingsSchema
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.support import texts_reasons, texts_settings

DOC = Path(__file__).resolve().parents[2] / "hookspecs.md"
WARNING_ONLY = frozenset({Reason.CLOCK_SKEW, Reason.LOCK_BATTERY_LOW})
REDIS_URL = "SALTO_KS_REDIS_URL"


class Missing(ValueError):
    """The code and the sentences disagree: an item without a sentence, or one for none."""


def _same(kind: str, in_code: list[str], described: Mapping[str, object]) -> None:
    lacking = [name for name in in_code if name not in described]
    extra = [name for name in described if name not in in_code]
    if lacking or extra:
        raise Missing(
            f"{kind}: no sentence for {lacking or '-'}; a sentence for none: {extra or '-'}"
        )


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def hooks() -> str:
    """Every hook the contract declares, its arguments and its first sentence."""
    rows = []
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if not hasattr(func, "ireserve_spec"):
            continue
        args = ", ".join(inspect.signature(func).parameters)
        summary = (inspect.getdoc(func) or "").split("\n\n", 1)[0].replace("\n", " ")
        summary = summary.replace("``", "`")
        rows.append([f"`{name}`", f"`{args}`", summary])
    return _table(["hook", "arguments", "what it is for"], rows)


def _outcome(reason: Reason) -> str:
    if reason is Reason.OPENED:
        return "opened"
    if reason is Reason.DUPLICATE:
        return "the first attempt's"
    if reason in WARNING_ONLY:
        return "warning only"
    return "denied" if reason in DENIED_REASONS else "failed"


def reasons() -> str:
    _same("reason codes", [r.value for r in Reason], texts_reasons.REASONS)
    rows = [[f"`{r.value}`", _outcome(r), texts_reasons.REASONS[r.value]] for r in Reason]
    return _table(["code", "outcome", "meaning, and what staff should do"], rows)


def settings() -> str:
    schema = SettingsSchema()
    names = list(schema.fields)
    _same("settings", names, texts_settings.SETTINGS)
    rows = []
    for name in names:
        kind, required, meaning = texts_settings.SETTINGS[name]
        if schema.fields[name].metadata.get("secret") and "secret" not in kind:
            raise Missing(f"settings: {name} is secret in the schema, not in its type text")
        rows.append([f"`{name}`", kind, required, meaning])
    return _table(["key", "type", "required", "meaning"], rows)


def platform() -> str:
    rows = [[name, meaning] for name, meaning in texts_reasons.PLATFORM.items()]
    return _table(["variable", "meaning"], rows)


def _number(value: float) -> str:
    return f"{value:g}"


def tuning() -> str:
    variables = {}
    for spec in dataclasses.fields(Tuning):
        if "env" in spec.metadata:
            name, low, high = spec.metadata["env"]
            default = _number(spec.default)  # type: ignore[arg-type]
            variables[f"SALTO_KS_{name}"] = (default, f"{low}–{high} s")
    variables[REDIS_URL] = ("unset", "URL")
    _same("platform variables", list(variables), texts_reasons.TUNING)
    rows = [
        [f"`{name}`", default, span, texts_reasons.TUNING[name]]
        for name, (default, span) in variables.items()
    ]
    return _table(["variable", "default", "range", "meaning"], rows)


def actions() -> str:
    _same("admin actions", [a.name for a in ACTIONS], texts_settings.ACTIONS)
    rows = []
    for action in ACTIONS:
        params, what, update = texts_settings.ACTIONS[action.name]
        for param in action.params:
            if f"`{param}`" not in params:
                raise Missing(f"admin actions: {action.name} asks for {param}, not in its text")
        rows.append([f"`{action.name}`", params, what, update])
    return _table(["action", "params", "what it does", "`settings_update` on success"], rows)


TABLES: dict[str, Callable[[], str]] = {
    "hooks": hooks,
    "reasons": reasons,
    "settings": settings,
    "platform": platform,
    "tuning": tuning,
    "actions": actions,
}


def render(doc: str) -> str:
    """``doc`` with every generated table written again from the code."""
    for name, table in TABLES.items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(\n<!-- end: {name} -->)", re.S)
        if not pattern.search(doc):
            raise Missing(f"hookspecs.md has no markers for the {name} table")
        doc = pattern.sub(rf"\g<1>{_escaped(table())}\g<2>", doc)
    return doc


def _escaped(text: str) -> str:
    """``text`` as a replacement of ``re.sub`` (its backslashes taken literally)."""
    return text.replace("\\", "\\\\")


def main(argv: list[str]) -> int:
    check = "--check" in argv
    old = DOC.read_text(encoding="utf-8")
    try:
        new = render(old)
    except Missing as exc:
        print(f"./dev docs: {exc}", file=sys.stderr)
        return 2
    if new == old:
        print("hookspecs.md: the generated tables match the code")
        return 0
    if check:
        diff = difflib.unified_diff(
            old.splitlines(), new.splitlines(), "hookspecs.md", "from the code", lineterm=""
        )
        print("\n".join(list(diff)[:60]))
        print("hookspecs.md differs from the code: run ./dev docs", file=sys.stderr)
        return 1
    DOC.write_text(new, encoding="utf-8")
    print("hookspecs.md: the generated tables were written from the code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
