"""Benchmark: the hot path side by side with LiteLLM, in one run.

Starts, on loopback: the stand-in upstream (tests/support/upstream.py, answering at once) in
its own process, a real LiteLLM proxy in front of it, the real OPA sidecar and Symphony as the
run command starts it (`symphony serve`), plus the floor: a minimal Flask app under the same
server model that makes one trivial OPA query per request. Each target is measured at
concurrency 1 (p50 latency) and 8 (requests per second) by wrk (keep-alive connections; a
C client, so the load generator takes little of the two cores), and the table is printed with
the ratios the targets are stated in: Symphony's added latency at concurrency 1 against
LiteLLM's (both over the direct upstream), and its throughput at concurrency 8 against
LiteLLM's.

Concurrency 1 is measured in rounds (three by default): each round runs every target once,
one after the other, and a target's figure is the median of its rounds. Latencies of a few
milliseconds move with whatever else the machine does for a few seconds; interleaving puts
every target under the same conditions, and the ratio of each round is printed too, so the
spread is visible rather than one lucky or unlucky window deciding the ratio.

Run: `python bench/hotpath.py [--seconds S] [--rounds N] [--no-litellm]`.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.serving import serve_argv
from app.settings import Settings
from bench.overhead import (
    MAX_TOKENS,
    PROMPT,
    UPSTREAM_MODEL,
    Target,
    _check_ok,
    bench_env,
    litellm_target,
    run,
    start_upstream,
)
from tests.support.keys import bearer
from tests.support.processes import (
    VENV_BIN,
    Service,
    free_port,
    spawn,
    start_proxy_with_sidecar,
    wait_until_up,
)

DECISION = "/v1/data/symphony/router/decision"


def start_floor(log_dir: Path, opa_url: str) -> Service:
    """bench/floor_app.py under `symphony serve`'s server model (one gevent worker)."""
    port = free_port()
    argv = serve_argv(Settings(), f"127.0.0.1:{port}", 2.0, "bench.floor_app:create()")
    service = spawn(
        "floor",
        [str(VENV_BIN / "python"), *argv],
        port,
        log_dir,
        env={"FLOOR_OPA_URL": opa_url},
    )
    wait_until_up(f"{service.url}/ping", proc=service.proc)
    return service


def recorded_input(proxy_url: str) -> dict[str, object]:
    """The exact OPA input of a decision the proxy made (from its decision records)."""
    session = requests.Session()
    session.headers.update(bearer())
    for _ in range(50):
        listed = session.get(f"{proxy_url}/decisions?limit=1&source=plan", timeout=10).json()
        if listed["decisions"]:
            record = session.get(
                f"{proxy_url}/decisions/{listed['decisions'][0]['decision_id']}", timeout=10
            ).json()
            found: dict[str, object] = record["input"]
            return found
        time.sleep(0.2)
    raise RuntimeError("no decision was recorded")


def opa_eval_ms(opa_url: str, opa_input: dict[str, object], count: int) -> float:
    """p50 of OPA's own server-side evaluation timer for the decision, in ms."""
    session = requests.Session()
    timers = []
    for _ in range(count):
        body = session.post(
            f"{opa_url}{DECISION}?metrics=true", json={"input": opa_input}, timeout=10
        ).json()
        timers.append(body["metrics"]["timer_rego_query_eval_ns"] / 1e6)
    timers.sort()
    middle: float = timers[len(timers) // 2]
    return middle


@dataclass(frozen=True)
class Figures:
    """What wrk measured for one target at one concurrency."""

    p50_ms: float
    p99_ms: float
    rate: float


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def wrk(target: Target, connections: int, seconds: float, script_dir: Path) -> Figures:
    """Run wrk (a C load generator, so the client costs little CPU) against `target`."""
    script = script_dir / f"{abs(hash((target.name, connections)))}.lua"
    headers = {"Content-Type": "application/json", **target.headers}
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(target.body))}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    out = subprocess.run(
        [*command, "-s", str(script), target.url], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{target.name}: wrk saw errors\n{out}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not (p50 and p99 and rate):
        raise RuntimeError(f"{target.name}: unexpected wrk output\n{out}")
    return Figures(_ms(p50.group(1)), _ms(p99.group(1)), float(rate.group(1)))


def warm(target: Target, script_dir: Path) -> None:
    """Check the answers (non-streaming) and warm the target up."""
    run(target, 20, 1, False)
    wrk(target, 8, 1, script_dir)


def median_figures(rounds: Sequence[Figures]) -> Figures:
    """Each figure's median over the rounds."""
    return Figures(
        statistics.median(r.p50_ms for r in rounds),
        statistics.median(r.p99_ms for r in rounds),
        statistics.median(r.rate for r in rounds),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start everything, measure every target, print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per target and measurement")
    parser.add_argument("--rounds", type=int, default=3, help="concurrency-1 rounds")
    parser.add_argument("--no-litellm", action="store_true")
    args = parser.parse_args(argv)
    rows: dict[str, tuple[Figures, Figures]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="symphony-bench-") as tmp:
        work = Path(tmp)
        services: list[Service] = []
        try:
            upstream = start_upstream(work / "logs")
            services.append(upstream)
            chat = {
                "model": UPSTREAM_MODEL,
                "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": MAX_TOKENS,
            }
            targets = [
                Target(
                    "direct upstream", f"{upstream.url}/v1/chat/completions", chat, b"", _check_ok
                )
            ]
            if not args.no_litellm:
                litellm, target = litellm_target(
                    "LiteLLM /v1/chat/completions", upstream.url, work, chat
                )
                services.append(litellm)
                targets.append(target)
            proxy, opa = start_proxy_with_sidecar(work / "logs", bench_env(upstream.url, work))
            services.extend([opa, proxy])
            floor = start_floor(work / "logs", opa.url)
            services.append(floor)
            plan = {"task": "qa", "loa": 1, "input": PROMPT}
            targets += [
                Target(
                    "Symphony /v1/chat/completions",
                    f"{proxy.url}/v1/chat/completions",
                    {**chat, "model": "auto", "metadata": {"symphony_task": "qa"}},
                    b"",
                    _check_ok,
                    bearer(),
                ),
                Target(
                    "Symphony /route/plan?explain=off",
                    f"{proxy.url}/route/plan?explain=off",
                    plan,
                    b"",
                    _check_ok,
                    bearer(),
                ),
                Target(
                    "Symphony /route/plan (notes)",
                    f"{proxy.url}/route/plan?explain=notes",
                    plan,
                    b"",
                    _check_ok,
                    bearer(),
                ),
            ]
            for target in targets:
                warm(target, work)
            opa_input = recorded_input(proxy.url)
            opa_target = Target(
                "OPA alone, router decision",
                f"{opa.url}{DECISION}",
                {"input": opa_input},
                b"",
                _check_ok,
            )
            floor_target = Target(
                "floor: Flask + 1 trivial OPA query", f"{floor.url}/floor", {}, b"", _check_ok
            )
            targets += [opa_target, floor_target]
            for target in (opa_target, floor_target):
                warm(target, work)
            notes.append(
                f"OPA's own eval timer, p50: {opa_eval_ms(opa.url, opa_input, 300):.2f} ms"
            )
            ones: dict[str, list[Figures]] = {target.name: [] for target in targets}
            for _ in range(args.rounds):
                for target in targets:
                    ones[target.name].append(wrk(target, 1, args.seconds, work))
            for target in targets:
                eight = wrk(target, 8, args.seconds, work)
                rows[target.name] = (median_figures(ones[target.name]), eight)
        finally:
            for service in reversed(services):
                service.stop()
    print("Hot path, loopback, stand-in upstream answering at once; non-streaming")
    print(f"concurrency 1: median of {args.rounds} interleaved rounds of {args.seconds:g} s")
    print(f"{'':36} {'c=1 p50 ms':>11} {'c=1 p99 ms':>11} {'c=8 req/s':>10}")
    for name, (one, eight) in rows.items():
        print(f"{name:36} {one.p50_ms:>11.2f} {one.p99_ms:>11.2f} {eight.rate:>10.0f}")
    for note in notes:
        print(note)
    direct = rows["direct upstream"][0].p50_ms
    ours = rows["Symphony /v1/chat/completions"]
    print(f"Symphony /v1 added p50 at c=1: {ours[0].p50_ms - direct:.2f} ms")
    if "LiteLLM /v1/chat/completions" in rows:
        theirs = rows["LiteLLM /v1/chat/completions"]
        added_theirs = theirs[0].p50_ms - direct
        added_ours = ours[0].p50_ms - direct
        print(f"LiteLLM /v1 added p50 at c=1:  {added_theirs:.2f} ms")
        print(
            f"ratio, added latency (Symphony / LiteLLM, target <= 0.20): "
            f"{added_ours / added_theirs:.2f}"
        )
        per_round = [
            (mine.p50_ms - base.p50_ms, other.p50_ms - base.p50_ms)
            for mine, other, base in zip(
                ones["Symphony /v1/chat/completions"],
                ones["LiteLLM /v1/chat/completions"],
                ones["direct upstream"],
                strict=True,
            )
        ]
        print(
            "  each round (Symphony / LiteLLM added ms): "
            + ", ".join(f"{a / b:.2f} ({a:.2f} / {b:.2f})" for a, b in per_round)
        )
        print(
            f"ratio, throughput at c=8 (Symphony / LiteLLM, target >= 5): "
            f"{ours[1].rate / theirs[1].rate:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
