"""``python -m chaos``: one chaos run; prints the figures, writes them as JSON, and
exits 1 when a figure that must be zero is not (``make chaos``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from chaos.config import RESULTS_DIR, RunConfig
from chaos.run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument(
        "--messages", type=int, default=int(os.environ.get("CHAOS_MESSAGES", "2000"))
    )
    parser.add_argument("--rate", type=float, default=8.0, help="new messages per second")
    parser.add_argument("--workers", type=int, default=3, help="dispatch worker processes")
    parser.add_argument("--loaders", type=int, default=4, help="load processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "latest.json")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: every process stopped, the database and keys removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = RunConfig.from_env(
        messages=args.messages,
        rate=args.rate,
        workers=args.workers,
        loaders=args.loaders,
        seed=args.seed,
        results=args.results,
    )
    outcome = run(config)
    print(outcome.table())
    print(f"results: {config.results}")
    violations = outcome.figures.violations()
    if not outcome.extra["drained"]:
        violations.append("the queues did not drain")
    if not outcome.extra["load_complete"]:
        violations.append("the load was cut short")
    if violations:
        print("FAILED: " + ", ".join(violations))
        return 1
    print("OK: nothing lost, duplicated, stuck or answered out of contract")
    return 0


if __name__ == "__main__":
    sys.exit(main())
