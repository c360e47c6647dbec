"""hookspecs.md is the contract: every hook, argument, reason code and setting is in it,
and every hook has a test in test_hooks.py."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pluggy
import pytest

from ireserve_salto_plugin import hookspecs
from ireserve_salto_plugin.models import Reason
from ireserve_salto_plugin.park.settings import SettingsSchema

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "hookspecs.md").read_text()
TESTS = "".join(
    (ROOT / "tests" / name).read_text() for name in ("e2e/test_hooks.py", "flow/test_doors.py")
)


def declared_hooks() -> dict[str, list[str]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return {
        name: list(inspect.signature(getattr(hookspecs, name)).parameters)
        for name in dir(pm.hook)
        if not name.startswith("_")
    }


def documented_hooks() -> dict[str, list[str]]:
    hooks_part = DOC.split("## Hooks", 1)[1].split("\n## ", 1)[0]
    return {
        name: [arg.strip() for arg in args.split(",") if arg.strip()]
        for name, args in re.findall(r"^### `(\w+)\(([^)]*)\)`", hooks_part, re.M)
    }


def test_every_hook_is_documented_with_its_exact_arguments() -> None:
    assert documented_hooks() == declared_hooks()


def test_every_hook_has_a_test() -> None:
    missing = [name for name in declared_hooks() if f"def test_hook_{name}(" not in TESTS]
    assert missing == []


def test_the_plugin_implements_exactly_the_declared_hooks() -> None:
    from ireserve_salto_plugin.plugin import plugin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    for name, args in declared_hooks().items():
        impls = getattr(pm.hook, name).get_hookimpls()
        assert len(impls) == 1 and impls[0].argnames == tuple(args), name


def test_every_reason_code_is_documented() -> None:
    table = DOC.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert documented == {reason.value for reason in Reason}


def test_every_setting_is_documented() -> None:
    table = DOC.split("## Settings", 1)[1]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert set(SettingsSchema().fields) <= documented


def test_the_entry_point_is_as_documented() -> None:
    from importlib.metadata import entry_points

    [ep] = [ep for ep in entry_points(group="ireserve") if ep.name == "salto_ks"]
    assert ep.value == "ireserve_salto_plugin.plugin:plugin"
    assert 'salto_ks = "ireserve_salto_plugin.plugin:plugin"' in DOC


def test_every_admin_action_is_documented() -> None:
    from ireserve_salto_plugin.admin.actions import ACTIONS

    table = DOC.split("| action | params |", 1)[1].split("\n\n", 1)[0]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert documented == {action.name for action in ACTIONS}


def test_every_action_the_readme_names_is_registered() -> None:
    from ireserve_salto_plugin.admin.actions import ACTIONS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r'on_admin_action\("(\w+)"', readme + DOC))
    assert named and named <= {action.name for action in ACTIONS}


def test_the_reference_tables_are_written_from_the_code() -> None:
    """hookspecs.md's generated tables equal what ``./dev docs`` writes now."""
    from ireserve_salto_plugin.support import docs

    assert docs.render(DOC) == DOC


def test_an_item_without_a_sentence_is_refused(monkeypatch: Any) -> None:
    from ireserve_salto_plugin.support import docs, texts_reasons

    monkeypatch.delitem(texts_reasons.REASONS, "iq_busy")
    with pytest.raises(docs.Missing, match="iq_busy"):
        docs.render(DOC)


def _host_rows(name: str) -> dict[str, tuple[str, str]]:
    part = DOC.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in part.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            for attribute in re.findall(r"`(\w+)`", cells[0]):
                rows[attribute] = (cells[1], cells[2])
    return rows


@pytest.mark.parametrize("name", ["park", "booking"])
def test_the_host_object_rows_say_what_the_contract_types_say(name: str) -> None:
    """Types and meanings, not only names: booking.status once held the text of the status
    admin action (what a type check and a length check would have caught)."""
    from typing import get_type_hints

    from ireserve_salto_plugin import models

    protocol = {"park": models.Park, "booking": models.Booking}[name]
    rows = _host_rows(name)
    kinds = {"str": "`str`", "datetime": "`datetime`", "Mapping": "mapping"}
    for attribute, value in vars(protocol).items():
        if isinstance(value, property) and value.fget is not None:
            hint = get_type_hints(value.fget)["return"]
            kind = getattr(hint, "__name__", None) or str(hint).split("[")[0].split(".")[-1]
            assert rows[attribute][0].startswith(kinds[kind]), (attribute, rows[attribute])
    assert all(len(meaning) < 400 for _, meaning in rows.values()), rows
    if name == "booking":
        assert "open_statuses" in rows["status"][1]


def test_the_widgets_are_documented() -> None:
    from ireserve_salto_plugin.park.fields import WIDGETS

    listed = DOC.split("`x-widget` (", 1)[1].split(")", 1)[0]
    assert set(re.findall(r"`(\w+)`", listed)) == set(WIDGETS)
