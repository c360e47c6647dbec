"""Moves this Python process's wall clock by ``SALTO_KS_TEST_SHIFT_DAYS`` days, ticking.

`.ci/run` puts this folder on ``PYTHONPATH`` for a second and a third run of the suite (a
year ahead, a year back), so every Python process of the run is shifted alike: pytest, its
xdist workers, the worker processes the shared-store tests start, and the sandbox inside
them. Only wall-clock time moves (``time.time``, ``datetime.now``, ...); monotonic time,
sleeps and lock timeouts are left alone (time-machine does not touch them), and so are
the installers and ``redis-server``, which are not started under it.
"""

from __future__ import annotations

import os

_travel = None
_days = os.environ.get("SALTO_KS_TEST_SHIFT_DAYS", "").strip()
if _days:
    import datetime as _dt

    import time_machine

    _travel = time_machine.travel(
        _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=float(_days)), tick=True
    )
    _travel.start()
