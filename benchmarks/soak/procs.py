"""The soak's processes: a ``redis-server`` that can be killed and started again on its
port (append-only file on, as a production store: a SIGKILL loses nothing it answered),
and the host workers (``worker.py``), each read by a thread of its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("the soak needs redis-server (./dev soak installs it)")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.outages: list[tuple[float, float]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(400):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.025)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> float:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return time.monotonic()

    def restart(self, down: float) -> None:
        self.start()
        self.outages.append((down, time.monotonic()))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _rss_threads(pid: int) -> tuple[float, int] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


class WorkerProcess:
    """One incarnation after another of worker ``index``: killed, it is started again."""

    def __init__(
        self,
        index: int,
        spec: Path,
        env: dict[str, str],
        folder: Path,
        on_line: Callable[[dict[str, Any]], None],
        label: str = "worker",
    ) -> None:
        self.index, self.spec, self.env, self.folder = index, spec, env, folder
        self.label = label
        self.on_line = on_line
        self.runs = 0
        self.proc: subprocess.Popen[str] | None = None
        self.name = ""
        self.write_lock = threading.Lock()
        self.started: dict[str, float] = {}
        self.samples: dict[str, list[tuple[float, float, int]]] = {}
        self.kills: list[tuple[int, float]] = []

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.runs += 1
        self.name = f"{self.label}{self.index}#{self.runs}"
        log: IO[str] = (self.folder / f"{self.name}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak.worker", str(self.spec), self.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=self.env,
            cwd=Path(__file__).resolve().parents[2],  # the checkout: benchmarks/ importable
        )
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline() or "{}")
        if "ready" not in ready:
            raise RuntimeError(f"{self.name} did not start: see {log.name}")
        self.proc = proc
        self.started[self.name] = time.monotonic()
        self.samples[self.name] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.on_line(json.loads(line))

    def send(self, command: dict[str, Any]) -> bool:
        with self.write_lock:
            if not self.alive:
                return False
            assert self.proc is not None and self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps(command) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                return False
        return True

    def kill(self) -> None:
        with self.write_lock:
            if self.proc is not None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                self.kills.append((self.index, time.monotonic()))

    def sample(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            got = _rss_threads(proc.pid)
            if got is not None:
                self.samples[self.name].append((time.monotonic(), *got))

    def stop(self) -> None:
        if self.alive:
            self.send({"op": "quit"})
            assert self.proc is not None
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()


def sampler(workers: list[WorkerProcess], stop: threading.Event, every: float = 2.0) -> None:
    while not stop.wait(every):
        for worker in workers:
            worker.sample()


def environment(platform: dict[str, str], redis_url: str) -> dict[str, str]:
    return {**os.environ, **platform, "SALTO_KS_REDIS_URL": redis_url}
