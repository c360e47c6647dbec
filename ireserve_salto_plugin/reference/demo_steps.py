"""How the demo tells its story: numbered steps, what it says, and checks that stop it."""

from __future__ import annotations

from collections.abc import Callable

PARK_ZONE = "Europe/Amsterdam"


class DemoFailed(Exception):
    pass


class Steps:
    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        self.echo(f"\n[{self.number:2d}] {title}")

    def say(self, text: str) -> None:
        self.echo(f"     {text}")

    def check(self, ok: bool, what: str) -> None:
        self.echo(f"     {'ok ' if ok else 'FAIL'} {what}")
        if not ok:
            raise DemoFailed(what)
