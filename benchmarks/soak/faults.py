"""The soak's faults, as they start and end: on the sandbox (an endpoint failing, tokens,
IQs and locks, secrets, Salto's clock, the event stream), on Redis and on the workers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.soak.plan import ENDPOINTS, Fault
from benchmarks.soak.procs import RedisServer, WorkerProcess
from ireserve_salto_plugin.sandbox.server import Fault as SandboxFault
from ireserve_salto_plugin.sandbox.server import SaltoSandbox

REACTIVATE_EVERY = 20.0  # seconds between two tries to re-activate a rotated IQ


@dataclass
class ParkInfo:
    id: str
    user: str
    locks: list[str]  # ordered by IQ; the last is the staff's door
    iqs: list[str]


class Faults:
    def __init__(
        self,
        box: SaltoSandbox,
        redis: RedisServer,
        workers: list[WorkerProcess],
        parks: list[ParkInfo],
        command: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> None:
        self.box, self.redis, self.workers, self.parks = box, redis, workers, parks
        self.command = command  # send to a live worker and wait for its answer
        self.injected: Counter[str] = Counter()
        self.live: dict[int, list[SandboxFault]] = {}
        self.last_end = 0.0  # when the last fault was over (monotonic)
        self.reactivations: list[str] = []
        self.restarted: Callable[[int], None] = lambda worker: None  # a worker is back
        self.lock = threading.Lock()

    def _over(self) -> None:
        with self.lock:
            self.last_end = max(self.last_end, time.monotonic())

    def start(self, number: int, fault: Fault) -> None:
        self.injected[fault.label()] += 1
        target, box = fault.target, self.box
        if fault.kind == "http":
            method, path = ENDPOINTS[target["endpoint"]]
            mode, times = target["mode"], target["times"]
            modes: dict[str, dict[str, Any]] = {
                "5xx": {"status": 503, "body": {"message": "Service Unavailable"}},
                "timeout": {"delay": 12.0, "status": 504},
                "drop": {"reset": True},
                "drip": {"status": 503, "body": {"message": "slow"}, "drip": 0.3},
            }
            options = modes[mode]
            self.live[number] = [box.inject(method, path, times=times, **options)]
        elif fault.kind == "answer_lost":
            method, path = ENDPOINTS["locking"]
            self.live[number] = [box.inject(method, path, after=True, times=target["times"])]
        elif fault.kind == "token_revoked":
            box.expire_tokens()
        elif fault.kind == "iq_offline":
            box.set_iq_online(self._iq(target), False)
        elif fault.kind == "lock_offline":
            box.set_lock_online(self.parks[target["park"]].locks[target["lock"]], False)
        elif fault.kind == "secret_rotated":
            park = self.parks[target["park"]]
            with box.world.lock:
                box.world.activate_in_app(box.world.users[park.user], self._iq(target))
        elif fault.kind == "clock_jump":
            box.clock_offset = float(target["seconds"])
        elif fault.kind == "redis_kill":
            target["down"] = self.redis.kill()
        elif fault.kind == "worker_kill":
            self.workers[target["worker"]].kill()
        elif fault.kind == "stream_drop":
            box.hub.drop_all()
        if fault.duration == 0:
            self._over()

    def end(self, number: int, fault: Fault) -> None:
        target, box = fault.target, self.box
        for injected in self.live.pop(number, []):
            with box.world.lock, contextlib.suppress(ValueError):
                box.faults.remove(injected)
        if fault.kind == "iq_offline":
            box.set_iq_online(self._iq(target), True)
        elif fault.kind == "lock_offline":
            box.set_lock_online(self.parks[target["park"]].locks[target["lock"]], True)
        elif fault.kind == "clock_jump":
            box.clock_offset = 0.0
        elif fault.kind == "redis_kill":
            self.redis.restart(target["down"])
        elif fault.kind == "worker_kill":
            self.workers[target["worker"]].start()
            self.restarted(target["worker"])
        elif fault.kind == "secret_rotated":
            self._reactivate(target)
        self._over()

    def _iq(self, target: dict[str, Any]) -> str:
        return str(self.parks[target["park"]].iqs[target["iq"]])

    def _reactivate(self, target: dict[str, Any]) -> None:
        """Support resets the IQ in the app, the park's admin activates it again (forget,
        GET PIN, Set PIN); the new secret and PIN go to every worker. The plugin may refuse
        Set PIN while the IQ's rejected codes fill its 20 minutes: then tried again."""
        park, iq = self.parks[target["park"]], self._iq(target)
        with self.box.world.lock:
            self.box.world.reset_iq(iq)
        for _ in range(3):
            answer = self.command(
                {"op": "reactivate", "park": park.id, "iq": iq, "user": park.user}
            )
            if answer is not None and answer.get("reason") == "ok" and answer.get("iqs"):
                for worker in self.workers:
                    worker.send({**answer, "n": -1, "op": "settings", "park": park.id})
                self.reactivations.append(f"park {target['park']} IQ {iq[:8]}: re-activated")
                return
            reason = answer.get("reason") if answer else "no answer"
            self.reactivations.append(f"park {target['park']} IQ {iq[:8]}: {reason}")
            time.sleep(REACTIVATE_EVERY)
