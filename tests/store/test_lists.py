"""The door log's list in every store: pushed with the open's other writes, kept to its
cap (the oldest go), read whole or its last values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ireserve_salto_plugin.store.file import FileStore
from ireserve_salto_plugin.store.keys import DOOR_LOG, RECEIPT
from ireserve_salto_plugin.store.memory import MemoryStore


def _stores(tmp_path: Path, request: pytest.FixtureRequest) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = [
        ("memory", MemoryStore()),
        ("file", FileStore(tmp_path / "state.json")),
    ]
    if request.config.getoption("-m", default="") != "not redis":
        try:
            found.append(("redis", request.getfixturevalue("redis_store")))
        except pytest.skip.Exception:
            pass
    return found


def test_a_list_keeps_its_last_values_beside_the_other_writes(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key, receipt = DOOR_LOG("account", "park"), RECEIPT("account", "park", "a-1")
    for name, store in _stores(tmp_path, request):
        for n in range(7):
            store.write([(receipt, {"n": n}, 60.0)], [], [(key, {"n": n}, 60.0, 5)])
        assert [v["n"] for v in store.items(key)] == [2, 3, 4, 5, 6], name
        assert [v["n"] for v in store.items(key, last=2)] == [5, 6], name
        assert store.get(receipt) == {"n": 6}, name
        assert store.items(DOOR_LOG("account", "another park")) == [], name
