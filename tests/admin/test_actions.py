"""Admin actions: their inputs are checked and named, and none raises."""

from __future__ import annotations

from typing import Any

import pytest

from ireserve_salto_plugin import INTEGRATION
from ireserve_salto_plugin.models import AdminResult
from ireserve_salto_plugin.reference import Park, ReferenceHost
from ireserve_salto_plugin.sandbox import SaltoSandbox
from tests.conftest import first_lock


def run(host: ReferenceHost, park: Park, action: Any, params: Any) -> AdminResult:
    result = host.pm.hook.on_admin_action(
        integration=INTEGRATION, park=park, action=action, params=params
    )
    assert isinstance(result, AdminResult)
    return result


def test_unknown_action_and_bad_params(host: ReferenceHost, park: Park) -> None:
    assert "known: test_connection" in run(host, park, "reboot\nnow", {}).message
    assert run(host, park, "get_pin", ["x"]).message == "params must be an object."
    assert run(host, park, "get_pin", {}).message.startswith("iq_id: must be the UUID")


@pytest.mark.parametrize("pin", ["123", "1234\n", "12a4", 1234, None])
def test_set_pin_names_a_bad_pin(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox, pin: Any
) -> None:
    result = run(host, park, "set_pin", {"iq_id": first_lock(sandbox).iq.id, "current_pin": pin})
    assert not result.ok and result.message == "current_pin: must be exactly 4 digits"


def test_set_pin_before_get_pin_says_what_to_do(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    result = run(host, park, "set_pin", {"iq_id": first_lock(sandbox).iq.id, "current_pin": "1234"})
    assert not result.ok and "run GET PIN first" in result.message


def test_get_pin_for_an_iq_of_another_site(host: ReferenceHost, park: Park) -> None:
    result = run(host, park, "get_pin", {"iq_id": "00000000-0000-4000-8000-000000000000"})
    assert not result.ok and "is not on site NL6254340082" in result.message


def test_refresh_locks_returns_the_dropdown(
    host: ReferenceHost, park: Park, sandbox: SaltoSandbox
) -> None:
    sandbox.set_lock_online(first_lock(sandbox).id, False)
    result = run(host, park, "refresh_locks", {})
    assert result.ok and result.data["count"] == 36 and result.data["offline"] == 1
    assert result.data["options"] == host.lock_options(park, INTEGRATION)
