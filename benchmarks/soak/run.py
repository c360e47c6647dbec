"""The soak's run: the sandbox, Redis, the workers and the listener started, the plan's
commands and faults played on time, recovery probed, the history collected."""

from __future__ import annotations

import json
import random
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.soak.checks import History
from benchmarks.soak.faults import Faults, ParkInfo
from benchmarks.soak.plan import STAFF, Command, Plan, Shape
from benchmarks.soak.procs import RedisServer, WorkerProcess, environment, sampler
from ireserve_salto_plugin.salto.config import Tuning
from ireserve_salto_plugin.sandbox.server import SaltoSandbox

LATENCY, SPREAD = 0.020, 0.030  # each request to the sandbox takes 20 to 50 ms more
PROBE_EVERY = 5.0  # seconds between recovery probes of a park that has not opened yet
DRAIN = 30.0  # seconds to wait for the last answers
WARM_UP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("tap", {"booking": 0, "by": "guest"}),
    ("status", {"booking": 1, "change": 0}),
    ("options", {"refresh": False}),
    ("sweep", {}),
    ("readiness", {}),
)


def park_index(park_id: str) -> int:
    """``park-07`` → 7 (the parks' ids are made in :func:`build`)."""
    return int(park_id.split("-")[1])


def build(box: SaltoSandbox, count: int) -> tuple[list[ParkInfo], list[dict[str, Any]]]:
    """``count`` parks, each its own account and site (the first is the seeded one)."""
    assert box.site is not None
    sites = [(box.world.users[box.username], box.site)]
    for n in range(1, count):
        user = box.world.add_user(f"soak{n}@sandbox.example", secrets.token_urlsafe(12))
        site = box.world.add_site(
            f"NL{8000000000 + n}", f"Soak park {n}", iqs=3, locks_per_iq=12, users=[user]
        )
        sites.append((user, site))
    infos, specs = [], []
    for n, (user, site) in enumerate(sites):
        user.site_admin = True
        iqs = list(site.iqs)
        locks = [lock.id for iq in iqs for lock in site.locks.values() if lock.iq.id == iq]
        park_id = f"park-{n:02d}"
        settings = {
            "environment": "acceptance",
            "username": user.username,
            "password": user.password,
            "site_uid": site.site_uid,
            "site_id": site.id,
            "open_statuses": ["confirmed"],
            "iqs": box.world.preactivate(user),
            "mapping": {f"obj-{k}": lock for k, lock in enumerate(locks[:-1])},
        }
        bookings = [(f"{park_id}-b{k}", f"obj-{k}") for k in range(len(locks) - 1)]
        infos.append(ParkInfo(park_id, user.username, locks, iqs))
        specs.append({"id": park_id, "settings": settings, "bookings": bookings})
    return infos, specs


class Soak:
    def __init__(
        self, plan: Plan, shape: Shape, folder: Path, *, trace_memory: bool = False
    ) -> None:
        self.trace_memory = trace_memory
        self.plan, self.shape, self.folder = plan, shape, folder
        self.box = SaltoSandbox(clock_offset=0.0)
        self.box.jitter = random.Random(plan.seed)
        self.parks, specs = build(self.box, shape.parks)
        self.box.start()
        self.box.latency, self.box.latency_spread = LATENCY, SPREAD
        self.redis = RedisServer(folder)
        self.redis.start()
        env = environment(self.box.platform_env(), self.redis.url)
        if trace_memory:
            env["SOAK_TRACE_MEMORY"] = "1"
        spec = folder / "parks.json"
        spec.write_text(
            json.dumps({"parks": specs, "outbox": self.box.api_url + "/_sandbox/outbox"})
        )
        listener_spec = folder / "listener.json"
        listener_spec.write_text(json.dumps({"parks": specs, "role": "listener", "outbox": ""}))
        self.lock = threading.Lock()
        self.answers: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.sent: dict[int, dict[str, Any]] = {}
        self.waiting: dict[int, threading.Event] = {}
        self.got: dict[int, dict[str, Any]] = {}
        self.n = 0
        self.workers = [
            WorkerProcess(i, spec, env, folder, self.on_answer) for i in range(shape.workers)
        ]
        self.listener = WorkerProcess(0, listener_spec, env, folder, self.on_event, "listener")
        try:
            for worker in self.workers:
                worker.start()
        except BaseException:
            self.close()
            raise
        self.faults = Faults(self.box, self.redis, self.workers, self.parks, self.command)
        self.faults.restarted = self.warm_up
        self.rng = random.Random(plan.seed + 1)

    def on_answer(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.answers.append(record)
            event = self.waiting.pop(record.get("n", -1), None)
            if event is not None:
                self.got[record["n"]] = record
        if event is not None:
            event.set()

    def on_event(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(record)

    def send(self, op: str, park: int, args: dict[str, Any], worker: int) -> int:
        """To ``worker``, or the next one alive; the command as the host would call."""
        info = self.parks[park]
        body: dict[str, Any] = {"op": op, "park": info.id}
        if "booking" in args:
            body["booking"] = f"{info.id}-b{args['booking']}"
        if op == "tap":
            body["by"] = args["by"]
        elif op == "status":
            body["change"] = args["change"]
        elif op == "options":
            body["refresh"] = args["refresh"]
        elif op == "staff":
            body.update(lock=info.locks[-1], by=STAFF)
        elif op == "set_pin":
            body["iq"] = info.iqs[args["iq"]]
        return self._dispatch(body, worker)

    def _dispatch(
        self, body: dict[str, Any], worker: int, wait: threading.Event | None = None
    ) -> int:
        with self.lock:
            self.n += 1
            n = self.n
            if wait is not None:
                self.waiting[n] = wait
        for step in range(len(self.workers)):
            chosen = self.workers[(worker + step) % len(self.workers)]
            with self.lock:
                self.sent[n] = {**body, "t": time.monotonic(), "worker": chosen.index}
            if chosen.send({**body, "n": n}):
                return n
        with self.lock:
            self.sent[n]["worker"] = -1  # no worker alive: counted as lost with them
        return n

    def command(self, body: dict[str, Any], worker: int | None = None) -> dict[str, Any] | None:
        """Send to ``worker`` (else any) if alive, and wait for the answer (faults, door
        logs, memory)."""
        event = threading.Event()
        chosen = self.rng.randrange(len(self.workers)) if worker is None else worker
        n = self._dispatch(body, chosen, event)
        event.wait(120)
        with self.lock:
            self.waiting.pop(n, None)
            return self.got.pop(n, None)

    def run(self) -> History:
        self.start = start = time.monotonic()
        wall = datetime.now(UTC)
        timeline: list[tuple[float, int, Any]] = [(c.t, 1, c) for c in self.plan.commands]
        clip = self.plan.seconds * 0.85
        for number, fault in enumerate(self.plan.faults):
            timeline.append((fault.t, 0, (number, fault, True)))
            if fault.duration:
                timeline.append((min(fault.end, clip), 0, (number, fault, False)))
        timeline.sort(key=lambda e: (e[0], e[1]))
        stop = threading.Event()
        threading.Thread(target=sampler, args=(self.workers, stop), daemon=True).start()
        try:
            self.listener.start()
            for worker in self.workers:
                self.warm_up(worker.index)
            over = self._play(start, timeline)
            self._probe(over)
            stop.set()  # memory is measured under the load, not while the logs are read
            self._drain()
            doorlogs = self._doorlogs(wall)
            if self.trace_memory:
                self._memory(mark=False)
        finally:
            stop.set()
            self.close()
        return self._history(over, doorlogs)

    def warm_up(self, worker: int) -> None:
        """The worker answers every kind of command once (the first of each kind loads
        what it needs), so that memory is measured after warm-up, not while importing;
        again after a restart."""
        for op, args in WARM_UP:
            self.send(op, 0, args, worker)

    def _play(self, start: float, timeline: list[tuple[float, int, Any]]) -> float:
        """Every command and fault on time; returns when the last fault was over."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = []
            marked = not self.trace_memory
            for t, _, item in timeline:
                time.sleep(max(0.0, start + t - time.monotonic()))
                if not marked and t >= self.plan.warm:
                    marked = True
                    pool.submit(self._memory, mark=True)
                if isinstance(item, Command):
                    self.send(item.op, item.park, item.args, item.worker)
                else:
                    number, fault, begins = item
                    action = self.faults.start if begins else self.faults.end
                    futures.append(pool.submit(action, number, fault))
            time.sleep(max(0.0, start + self.plan.seconds - time.monotonic()))
        for future in futures:
            if future.exception() is not None:  # the harness's own failure: said, not hidden
                print(f"soak: a fault was not played: {future.exception()!r}", file=sys.stderr)
                self.faults.reactivations.append(f"not played: {future.exception()!r}")
        return max(self.faults.last_end, start + self.plan.warm)

    def _memory(self, *, mark: bool) -> None:
        """``--trace-memory``: a snapshot in each worker after the warm-up, and at the end
        what grew since (written to memory.txt)."""
        lines = []
        for worker in self.workers:
            body = {"op": "memory", "park": self.parks[0].id, "mark": mark}
            answer = self.command(body, worker.index) or {}
            lines += [f"{worker.name}:", *(f"  {g}" for g in answer.get("grown", []))]
        if not mark:
            (self.folder / "memory.txt").write_text("\n".join(lines) + "\n")
            print("\n".join(lines), file=sys.stderr)

    def close(self) -> None:
        for worker in [*self.workers, self.listener]:
            worker.stop()
        self.redis.stop()
        self.box.stop()

    def _opened_since(self, since: float) -> set[int]:
        with self.lock:
            parks = {
                self.sent[a["n"]]["park"]
                for a in self.answers
                if a.get("opened") and a["t1"] >= since and a["n"] in self.sent
            }
        return {park_index(p) for p in parks}

    def _probe(self, over: float) -> None:
        """After the last fault: a guest of each park that has not opened since taps, every
        few seconds, until every park opened or the recovery time is up."""
        while time.monotonic() < over + 60:
            missing = set(range(self.shape.parks)) - self._opened_since(over)
            if not missing:
                return
            for park in sorted(missing):
                booking = self.rng.randrange(self.shape.bookings)
                self.send("tap", park, {"booking": booking, "by": "guest"}, park)
            time.sleep(PROBE_EVERY)

    def _drain(self) -> None:
        until = time.monotonic() + DRAIN
        while time.monotonic() < until:
            with self.lock:
                answered = {a["n"] for a in self.answers}
                open_ = [n for n, c in self.sent.items() if n not in answered and c["worker"] >= 0]
            if not open_:
                return
            time.sleep(0.5)

    def _doorlogs(self, wall: datetime) -> dict[int, list[dict[str, Any]]]:
        since = (wall - timedelta(minutes=2)).isoformat()
        logs = {}
        for n, park in enumerate(self.parks):
            answer = self.command({"op": "doorlog", "park": park.id, "since": since})
            logs[n] = list((answer or {}).get("rows", []))
        return logs

    def _history(self, over: float, doorlogs: dict[int, list[dict[str, Any]]]) -> History:
        tuning = Tuning()
        sent = {n: {**c, "park": park_index(c["park"])} for n, c in self.sent.items()}
        runs = self.workers
        return History(
            sent=sent,
            answers=[a for a in self.answers if a.get("n", -1) in sent],
            kills=[k for w in runs for k in w.kills],
            outages=list(self.redis.outages),
            journal=[tuple(j) for j in self.box.world.journal],
            parks_of={p.user: n for n, p in enumerate(self.parks)},
            doorlogs=doorlogs,
            logs={p.name: p.read_text() for p in self.folder.glob("*.log")},
            samples={k: v for w in runs for k, v in w.samples.items()},
            started={k: v for w in runs for k, v in w.started.items()},
            deadlines={"tap": tuning.open_deadline},
            dedup=tuning.dedup_seconds,
            warm=self.plan.warm,
            max_threads=96,
            faults_over=over,
            start=self.start,
            end=time.monotonic(),
        )
