"""The soak: the whole system under load and faults for minutes, checked on its history.

    ./dev soak [--minutes N] [--parks P] [--seed S] [--rate TAPS_PER_S] [--out DIR]

Real parts: the embedded sandbox (20 to 50 ms per request) in the soak's own process
(``run.py``), a real
``redis-server``, 4 host workers loading the plugin by its entry point
(``worker.py``), the event listener in a process of its own. Each park has its own
Salto account and site: 36 locks on 3 IQs, all activated. The load and the faults come
from the seed (``plan.py``); the invariants are checked on the full history at the end
(``checks.py``). Prints a table (``report.py``); exits 1 on any violation. The history
and every worker's log stay in ``--out`` (a temporary folder by default).
"""
