"""The composition root: the service a host gets from its process environment.

Reads the ``SALTO_KS_*`` numbers (``park.platform.tuning_from_env``) and the shared store
(``SALTO_KS_REDIS_URL``), and wires them, with the one HTTP session of the process, into one
:class:`~.service.SaltoKsService`. An
invalid variable does not raise here (hooks never raise): every hook answers
``settings_invalid`` naming it, until the host process is fixed and restarted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ireserve_salto_plugin.flow.service import SaltoKsService
from ireserve_salto_plugin.park.fields import SettingsError
from ireserve_salto_plugin.park.platform import tuning_from_env
from ireserve_salto_plugin.salto.cache import Store
from ireserve_salto_plugin.salto.session import make_session
from ireserve_salto_plugin.store.redis import RedisStore


def service_from_env(
    environ: Mapping[str, str] | None = None, *, budget_store: Store | None = None
) -> SaltoKsService:
    """The service a host gets by default, tuned by ``SALTO_KS_*`` variables.
    ``budget_store``: where the OTP budget lives when not in the service's store (the
    support CLI without Redis)."""
    env = os.environ if environ is None else environ
    session = make_session()
    try:
        tuning = tuning_from_env(env)
    except SettingsError as exc:
        return SaltoKsService(
            session=session, environ=environ, config_error=exc, budget_store=budget_store
        )
    store: Store | None = None
    url = env.get("SALTO_KS_REDIS_URL")
    if url:
        try:
            store = RedisStore.from_url(url)
        except (ValueError, ImportError) as exc:  # ImportError: redis is an extra
            error = SettingsError(
                f"SALTO_KS_REDIS_URL is not a usable Redis URL ({type(exc).__name__})"
            )
            return SaltoKsService(
                session=session,
                environ=environ,
                tuning=tuning,
                config_error=error,
                budget_store=budget_store,
            )
    return SaltoKsService(
        session=session, store=store, environ=environ, tuning=tuning, budget_store=budget_store
    )
