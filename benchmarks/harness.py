"""Benchmark plumbing: the sandbox and Redis in their own processes, plugin hosts, timers.

The sandbox runs in a separate process so that it does not share the benchmark's GIL: the
client side (plugin or bare requests) is what is measured, the server is only a peer.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

CLIENT_CPU, SERVER_CPU = 0, 1


def pin_to_cpu(cpu: int) -> None:
    """Client and sandbox each on a core of their own: less scheduler noise on 2 cores."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


@dataclass
class Sandbox:
    proc: subprocess.Popen[bytes]
    data: dict[str, Any]
    session: requests.Session

    @property
    def api(self) -> str:
        return str(self.data["env"]["SALTO_KS_ACCEPTANCE_API_URL"])

    def stats(self) -> dict[str, Any]:
        return dict(self.session.get(f"{self.api}/_sandbox/stats", timeout=10).json())

    def reset(self) -> None:
        self.session.post(f"{self.api}/_sandbox/reset-stats", timeout=10)

    def expire_tokens(self) -> None:
        self.session.post(f"{self.api}/_sandbox/expire-tokens", timeout=10)

    def set_latency(self, seconds: float) -> None:
        self.session.post(f"{self.api}/_sandbox/latency", json={"seconds": seconds}, timeout=10)

    def round_trips_in_a_row(self) -> int:
        return int(
            self.session.get(f"{self.api}/_sandbox/round-trips", timeout=10).json()["in_a_row"]
        )

    def peak_in_flight(self, prefix: str) -> int:
        """The most requests starting with ``prefix`` served at once (latency set)."""
        return int(
            self.session.get(
                f"{self.api}/_sandbox/peak-in-flight", params={"prefix": prefix}, timeout=10
            ).json()["peak"]
        )

    def cpu_seconds(self) -> float:
        """CPU time the sandbox process has used (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def calls(self, prefix: str = "", contains: str = "") -> int:
        return sum(
            n
            for key, n in self.stats()["calls"].items()
            if key.startswith(prefix) and contains in key
        )


@contextmanager
def sandbox_process(*args: str) -> Iterator[Sandbox]:
    folder = Path(tempfile.mkdtemp(prefix="salto-bench-"))
    path = folder / "sandbox.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ireserve_salto_plugin.support.cli",
            "sandbox",
            "--settings-file",
            str(path),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: pin_to_cpu(SERVER_CPU),
    )
    try:
        for _ in range(600):
            if path.exists():
                break
            if proc.poll() is not None:
                raise RuntimeError("the sandbox process exited")
            time.sleep(0.05)
        else:
            raise RuntimeError("the sandbox did not start")
        data = json.loads(path.read_text())
        os.environ.update(data["env"])
        yield Sandbox(proc, data, requests.Session())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_process() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="salto-redis-")
    # On the sandbox's core, as if on its own host: on the client's core, every round trip
    # would also pay for a context switch into redis-server.
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: pin_to_cpu(SERVER_CPU),
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
