"""The soak's table: the load it held, the faults it injected, each invariant with its
count and its violating cases, and the answer times per hook."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from benchmarks.soak.checks import SHOWN, History, Verdict
from benchmarks.soak.plan import Plan


def _quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0] * 1000:.0f} ms" if values else "-"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms"


def times_by_op(history: History) -> dict[str, list[float]]:
    took: dict[str, list[float]] = {}
    for answer in history.answers:
        command = history.sent[answer["n"]]
        took.setdefault(command["op"], []).append(answer["t1"] - command["t"])
    return took


def table(
    plan: Plan,
    shape: Any,
    history: History,
    verdicts: Iterable[Verdict],
    injected: Counter[str],
    extra: dict[str, Any],
) -> str:
    taps = [c for c in history.sent.values() if c["op"] == "tap"]
    reasons = Counter(a["reason"] for a in history.answers if history.sent[a["n"]]["op"] == "tap")
    opened = sum(1 for a in history.answers if a.get("opened"))
    lines = [
        f"Soak: seed {plan.seed}, {plan.seconds / 60:g} min, {shape.parks} parks "
        f"({shape.iqs} IQs × {shape.locks_per_iq} locks), {shape.workers} workers",
        f"  reproduce: ./dev soak --minutes {plan.seconds / 60:g} --parks {shape.parks} "
        f"--seed {plan.seed} --rate {extra['rate']:g}",
        "",
        "Load held",
        f"  taps {len(taps)} ({len(taps) / plan.seconds:.1f}/s), opened {opened} "
        f"({opened / plan.seconds:.1f}/s)",
        "  answers: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()),
        "  other commands: "
        + ", ".join(
            f"{op} {n}"
            for op, n in Counter(
                c["op"] for c in history.sent.values() if c["op"] != "tap"
            ).most_common()
        ),
        f"  event stream: {extra['events']}",
        "",
        "Faults injected",
        *(f"  {kind}: {n}" for kind, n in sorted(injected.items())),
        *(f"  {line}" for line in extra["reactivations"]),
        "",
        "Invariants",
    ]
    for v in verdicts:
        excepted = f", {v.excepted} {v.excepted_why}" if v.excepted else ""
        status = "0 violations" if v.ok else f"{len(v.cases)} VIOLATIONS"
        lines.append(f"  {v.number}. {v.name}: {v.checked} checked{excepted}: {status}")
        if v.figures:
            lines.append(f"     {v.figures}")
        lines += [f"     - {case}" for case in v.cases[:SHOWN]]
        if len(v.cases) > SHOWN:
            lines.append(f"     … and {len(v.cases) - SHOWN} more")
    lines += ["", "Answer time per hook (from the command sent to its answer)"]
    for op, values in sorted(times_by_op(history).items()):
        lines.append(f"  {op}: {len(values)}, {_quantiles(values)}")
    return "\n".join(lines)
