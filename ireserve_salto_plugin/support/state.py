"""Where the support CLI keeps the OTP budget, so that it shares it: with the host through
Redis (``SALTO_KS_REDIS_URL``), else with its own other runs through a state file in
``SALTO_KS_STATE_DIR`` (default ``~/.ireserve-salto``, owner-only). Each run starting a
fresh budget let nine wrong ``self-test`` runs get a real IQ blocked."""

from __future__ import annotations

from collections.abc import Mapping

from ireserve_salto_plugin.park.platform import STATE_DIR, state_dir
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.errors import StoreUnavailable
from ireserve_salto_plugin.store.file import FileStore


class NoBudget(Exception):
    """The budget has nowhere to live: the message says where it was tried and what to do."""


def budget_store(env: Mapping[str, str]) -> Store | None:
    """The CLI's budget store: ``None`` when the host's Redis holds it (the service's own
    store), else the state file."""
    if env.get("SALTO_KS_REDIS_URL"):
        return None
    folder = state_dir(env)
    try:
        return FileStore.at(folder)
    except (OSError, StoreUnavailable) as exc:
        raise NoBudget(
            f"the OTP budget cannot be kept in {folder} ({type(exc).__name__}): "
            f"set {STATE_DIR} to a folder of your own, or SALTO_KS_REDIS_URL to "
            "the host's Redis"
        ) from None
