"""Policy propagation across a fleet: seconds from a PUT on proxy A until proxy B's and C's
sidecars decide under the new revision.

Starts its own fleet (scripts/fleet.sh on free ports: 3 proxies, 3 sidecars, Redis,
PostgreSQL) unless --proxies names a running one, e.g. the one `just fleet-up` starts:
  .venv/bin/python bench/propagation.py --proxies http://127.0.0.1:8801,http://127.0.0.1:8802,http://127.0.0.1:8803
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.fleet import Fleet, propagation_seconds, running_fleet


def report(fleet: Fleet, changes: int) -> None:
    """Write `changes` revisions on A; print p50 and max to B and to C."""
    print(f"policy propagation, {changes} changes written on proxy A, long-polling sidecars")
    print(f"{'to':<10} {'p50 s':>8} {'max s':>8}")
    for target in (1, 2):
        figures = propagation_seconds(fleet, changes, source=0, target=target)
        name = "proxy " + "abc"[target]
        print(f"{name:<10} {statistics.median(figures):>8.3f} {max(figures):>8.3f}")


def main() -> None:
    """Measure on a running fleet or on one started for the run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--proxies", help="comma-separated base URLs of proxies A,B,C")
    args = parser.parse_args()
    if args.proxies:
        a, b, c = args.proxies.split(",")
        report(Fleet((a, b, c), ("", "", ""), Path("."), {}), args.changes)
        return
    with running_fleet(Path(tempfile.mkdtemp(prefix="symphony-propagation-"))) as fleet:
        report(fleet, args.changes)


if __name__ == "__main__":
    main()
