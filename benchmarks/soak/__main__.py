"""``./dev soak``: the soak's command line (see :mod:`benchmarks.soak`)."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from benchmarks.soak import __doc__ as ABOUT
from benchmarks.soak.checks import check
from benchmarks.soak.plan import Shape, make_plan
from benchmarks.soak.report import table
from benchmarks.soak.run import Soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev soak", description=(ABOUT or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--parks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    parser.add_argument("--rate", type=float, default=20.0, help="guest taps per second")
    parser.add_argument("--out", help="folder for the history and the workers' logs")
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="tracemalloc in the workers: what grew after the warm-up (slower)",
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    shape = Shape(parks=args.parks)
    plan = make_plan(seed, args.minutes * 60, shape, args.rate)
    folder = Path(args.out or tempfile.mkdtemp(prefix="salto-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"soak: seed {seed}, {len(plan.commands)} commands, {len(plan.faults)} faults; "
        f"history and logs in {folder}",
        file=sys.stderr,
    )
    soak = Soak(plan, shape, folder, trace_memory=args.trace_memory)
    history = soak.run()
    verdicts = check(history, shape.parks)
    extra = {
        "rate": args.rate,
        "events": dict(Counter(e.get("kind") for e in soak.events)),
        "reactivations": soak.faults.reactivations,
    }
    print(table(plan, shape, history, verdicts, soak.faults.injected, extra))
    (folder / "history.json").write_text(
        json.dumps(
            {
                "history": asdict(history),
                "verdicts": [asdict(v) for v in verdicts],
                "faults": [asdict(f) for f in plan.faults],
            },
            default=str,
        )
    )
    return 0 if all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
