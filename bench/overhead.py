"""Benchmark: what Symphony adds on top of the upstream call, at concurrency 8.

Starts the stand-in upstream (tests/support/upstream.py, answering without delay) in its own
process, the real OPA sidecar and the proxy under gunicorn, all on loopback, with a policy whose
one model is the stand-in. Then the same chat request goes (a) straight to the upstream and
(b) through `POST /route/execute`, (c) through Symphony's OpenAI door `/v1/chat/completions`
and (d) through a real LiteLLM proxy in front of the same upstream, side by side: non-streaming
(p50/p99 latency) and streaming (time to the first content chunk). Every thread keeps its own
keep-alive session.

Run: `python bench/overhead.py [--requests N] [--stream-requests N] [--concurrency C]
[--no-litellm]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.keys import bearer
from tests.support.litellm import start_litellm
from tests.support.processes import (
    VENV_BIN,
    Service,
    free_port,
    spawn,
    start_proxy_with_sidecar,
    wait_until_up,
)

UPSTREAM_MODEL = "bench-model"
PROMPT = "Summarise the benefits of policy-as-code routing for LLM traffic in one line."
REPLY = "Policy as code makes every routing decision explicit, testable and explained."
MAX_TOKENS = 64
LITELLM_KEY = "sk-bench-litellm"


def litellm_config(upstream_url: str) -> dict[str, Any]:
    """LiteLLM forwarding model `bench` to the stand-in, as a gateway with no extras."""
    return {
        "model_list": [
            {
                "model_name": "bench",
                "litellm_params": {
                    "model": f"openai/{UPSTREAM_MODEL}",
                    "api_base": f"{upstream_url}/v1",
                    "api_key": "sk-bench",
                    "max_retries": 0,
                    "timeout": 10,
                },
            }
        ],
        "litellm_settings": {"num_retries": 0, "drop_params": True, "telemetry": False},
        "general_settings": {"master_key": LITELLM_KEY},
    }


def litellm_target(
    name: str, upstream_url: str, workdir: Path, chat: dict[str, Any]
) -> tuple[Service, Target]:
    """A real LiteLLM proxy in front of the upstream (logs and config in `workdir`), and the
    target that sends it `chat` for its `bench` model."""
    litellm = start_litellm(
        litellm_config(upstream_url), LITELLM_KEY, workdir / "litellm", workdir / "logs"
    )
    target = Target(
        name,
        f"{litellm.url}/v1/chat/completions",
        {**chat, "model": "bench"},
        b"",
        _check_ok,
        {"Authorization": f"Bearer {LITELLM_KEY}"},
    )
    return litellm, target


def bench_policy() -> dict[str, Any]:
    """One hosted model served by the stand-in, caps far above what the run can reach."""
    return {
        "version": "bench",
        "timezone": "UTC",
        "cooldown": {"failures": 100, "seconds": 1},
        "models": [
            {
                "name": "hosted/stand-in",
                "provider": "stand-in",
                "class": "hosted",
                "upstream_model": UPSTREAM_MODEL,
                "context_tokens": 128000,
                "rpm_cap": 10_000_000,
                "tpm_cap": 1_000_000_000,
                "price": {"input_per_1k": 0.001, "output_per_1k": 0.002},
            }
        ],
        "rules": [
            {"id": "bench", "match": {"task": "qa"}, "route": {"prefer": ["hosted/stand-in"]}}
        ],
    }


def bench_env(upstream_url: str, workdir: Path) -> dict[str, str]:
    """A proxy routing to the stand-in upstream with bench_policy() (written to workdir)."""
    policy = workdir / "policy.json"
    policy.write_text(json.dumps(bench_policy()))
    return {
        "SYMPHONY_GATEWAY_URL": f"{upstream_url}/v1",
        "SYMPHONY_GATEWAY_KEY": "sk-bench",
        "SYMPHONY_POLICY_FILE": str(policy),
        "SYMPHONY_DATA_DIR": str(workdir / "data"),
        "SYMPHONY_LOCAL_MODEL_URL": "",
    }


@dataclass(frozen=True)
class Target:
    """One way of sending the request: where, what, and how to spot the first content."""

    name: str
    url: str
    body: dict[str, Any]
    first_content: bytes  # marker of the first content chunk in a streamed body
    check: Callable[[requests.Response], float | None]  # raises; or the upstream time (s)
    headers: dict[str, str] = field(default_factory=dict)


def percentile_ms(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of seconds, in milliseconds."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index] * 1000


@dataclass(frozen=True)
class Sample:
    """Latencies (s) of one run and its wall time."""

    latencies: list[float]
    wall_s: float
    outside_upstream: list[float]  # latency minus the upstream time Symphony reported, if any

    def percentile(self, q: float) -> float:
        """The q-th percentile of the latencies, in milliseconds."""
        return percentile_ms(self.latencies, q)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return len(self.latencies) / self.wall_s


def _check_ok(response: requests.Response) -> float | None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.url} answered {response.status_code}: {response.text[:300]}")
    return None


def _check_symphony(response: requests.Response) -> float | None:
    """Validate the answer; for JSON answers, the upstream time Symphony measured (s)."""
    if response.status_code != 200:
        raise RuntimeError(f"symphony answered {response.status_code}: {response.text[:300]}")
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return None
    body = response.json()
    if body.get("output", {}).get("text") != REPLY:
        raise RuntimeError(f"unexpected symphony answer: {json.dumps(body)[:300]}")
    return sum(float(a["latency_ms"]) for a in body["attempts"]) / 1000


def one_call(session: requests.Session, target: Target, stream: bool) -> tuple[float, float | None]:
    """Seconds to the full answer (or, streaming, to the first content chunk), and the part
    of it spent outside the upstream call when the target reports that."""
    body = {**target.body, "stream": stream}
    if stream:
        started = time.perf_counter()
        with session.post(
            target.url, json=body, headers=target.headers, stream=True, timeout=30
        ) as response:
            target.check(response)
            seen = b""
            first: float | None = None
            for piece in response.iter_content(chunk_size=None):
                if first is None:
                    seen += piece
                    if target.first_content in seen:
                        first = time.perf_counter() - started
            if first is None:
                raise RuntimeError(f"{target.name}: no content chunk in {seen[:300]!r}")
            return first, None
    started = time.perf_counter()
    response = session.post(target.url, json=body, headers=target.headers, timeout=30)
    elapsed = time.perf_counter() - started
    upstream_s = target.check(response)
    return elapsed, None if upstream_s is None else elapsed - upstream_s


def run(target: Target, total: int, concurrency: int, stream: bool) -> Sample:
    """Send `total` requests from `concurrency` threads."""
    latencies: list[float] = []
    outside: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    counts = [
        total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)
    ]
    start = threading.Barrier(concurrency + 1)

    def worker(count: int) -> None:
        mine: list[tuple[float, float | None]] = []
        with requests.Session() as session:
            start.wait()
            try:
                for _ in range(count):
                    mine.append(one_call(session, target, stream))
            except BaseException as exc:  # reported by the main thread
                with lock:
                    errors.append(exc)
        with lock:
            latencies.extend(total for total, _ in mine)
            outside.extend(part for _, part in mine if part is not None)

    threads = [threading.Thread(target=worker, args=(n,)) for n in counts]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{target.name}: {len(errors)} thread(s) failed: {errors[0]}")
    return Sample(latencies, wall, outside)


def start_upstream(log_dir: Path) -> Service:
    """The stand-in upstream as its own process, answering REPLY without delay."""
    port = free_port()
    service = spawn(
        "upstream",
        [str(VENV_BIN / "python"), "-m", "tests.support.upstream", "--port", str(port)],
        port,
        log_dir,
    )
    try:
        wait_until_up(f"{service.url}/v1/models", proc=service.proc)
        control = {"model": "*", "text": REPLY, "delay_s": 0, "chunks": 4}
        requests.post(f"{service.url}/_control", json=control, timeout=5).raise_for_status()
    except (RuntimeError, requests.RequestException) as exc:
        service.stop()
        raise RuntimeError(f"stand-in upstream did not start: {exc}\n{service.log()}") from exc
    return service


def table(
    rows: Sequence[tuple[str, Sample]], overheads: Sequence[tuple[str, Sample, Sample]]
) -> str:
    """The results as a fixed-width table."""
    lines = [
        f"{'':34} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'req/s':>8}",
    ]
    for name, sample in rows:
        mean = statistics.fmean(sample.latencies) * 1000
        lines.append(
            f"{name:34} {len(sample.latencies):>6} {sample.percentile(50):>9.2f} "
            f"{sample.percentile(99):>9.2f} {mean:>9.2f} {sample.rate:>8.0f}"
        )
    lines.append("")
    for name, direct, routed in overheads:
        p50 = routed.percentile(50) - direct.percentile(50)
        p99 = routed.percentile(99) - direct.percentile(99)
        lines.append(f"{name:34} {'':>6} {p50:>+9.2f} {p99:>+9.2f}")
    for name, sample in rows:
        if sample.outside_upstream:
            # Symphony's own account: its time minus the upstream call it timed (attempts).
            part = sample.outside_upstream
            label = name.split()[0] + " outside its upstream call"
            lines.append(
                f"{label:34} {len(part):>6} {percentile_ms(part, 50):>9.2f} "
                f"{percentile_ms(part, 99):>9.2f} {statistics.fmean(part) * 1000:>9.2f}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the services, run the three comparisons, print the table."""
    parser = argparse.ArgumentParser(description="Symphony overhead over a direct upstream call.")
    parser.add_argument("--requests", type=int, default=2000, help="non-streaming, per target")
    parser.add_argument("--stream-requests", type=int, default=1000, help="streaming, per target")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--direct-only", action="store_true", help="skip OPA and the proxy")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM proxy")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="symphony-bench-") as tmp:
        workdir = Path(tmp)
        services: list[Service] = []
        try:
            upstream = start_upstream(workdir / "logs")
            services.append(upstream)
            direct = Target(
                "direct",
                f"{upstream.url}/v1/chat/completions",
                {
                    "model": UPSTREAM_MODEL,
                    "messages": [{"role": "user", "content": PROMPT}],
                    "max_tokens": MAX_TOKENS,
                },
                b'"delta": {"content": ',
                _check_ok,
            )
            targets = [direct]
            if not args.no_litellm:
                litellm, target = litellm_target("litellm", upstream.url, workdir, direct.body)
                services.append(litellm)
                targets.append(replace(target, first_content=b'"content":"'))
            if not args.direct_only:
                proxy, opa = start_proxy_with_sidecar(
                    workdir / "logs",
                    {**bench_env(upstream.url, workdir), "SYMPHONY_BACKGROUND_JOBS": "false"},
                )
                services.extend([opa, proxy])
                targets.append(
                    Target(
                        "symphony",
                        f"{proxy.url}/route/execute",
                        {"task": "qa", "loa": 1, "input": PROMPT, "max_output_tokens": MAX_TOKENS},
                        b"event: chunk",
                        _check_symphony,
                        bearer(),
                    )
                )
                targets.append(
                    Target(
                        "symphony /v1",
                        f"{proxy.url}/v1/chat/completions",
                        {**direct.body, "model": "auto", "metadata": {"symphony_task": "qa"}},
                        b'"content":',
                        _check_ok,
                        bearer(),
                    )
                )
            for target in targets:
                for stream in (False, True):
                    run(target, args.warmup, args.concurrency, stream)
            results: dict[tuple[str, bool], Sample] = {}
            for stream, count in ((False, args.requests), (True, args.stream_requests)):
                for target in targets:
                    results[(target.name, stream)] = run(target, count, args.concurrency, stream)
        except BaseException:
            for service in services:
                if service.proc.poll() is not None or service.name == "proxy":
                    sys.stderr.write(f"--- {service.name} log ---\n{service.log()[-3000:]}\n")
            raise
        finally:
            for service in reversed(services):
                service.stop()

    rows: list[tuple[str, Sample]] = []
    overheads: list[tuple[str, Sample, Sample]] = []
    for stream, what in ((False, "non-stream latency"), (True, "stream first chunk")):
        for target in targets:
            rows.append((f"{target.name:<13}{what}", results[(target.name, stream)]))
        for target in targets[1:]:
            overheads.append(
                (
                    f"{target.name:<13}overhead {'first chunk' if stream else 'non-stream'}",
                    results[("direct", stream)],
                    results[(target.name, stream)],
                )
            )
    print(
        f"Symphony overhead, concurrency {args.concurrency}, loopback, "
        f"{args.requests} non-streaming and {args.stream_requests} streaming requests per target"
    )
    print(table(rows, overheads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
