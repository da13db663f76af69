"""Waiting for an answer under gevent (app/adapters/http1.py, ANSWER_WAIT): the only call
waiting polls for its answer while the event loop keeps turning, for at most the spin time;
a second call waiting at the same time parks at once. Run in a child interpreter with the
standard library patched by gevent, as the proxy's worker runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    from gevent import monkey

    monkey.patch_all()

    import json
    import socket
    import sys
    import time

    import gevent

    from app.adapters.http1 import AnswerWait


    class Counting(AnswerWait):
        polls = 0

        def _poll(self, sock):
            Counting.polls += 1
            super()._poll(sock)


    def wait_once(spin_s, answer_after_s, waiters=1):
        wait = Counting()
        wait.spin_s = spin_s
        Counting.polls = 0
        pairs = [socket.socketpair() for _ in range(waiters)]
        assert all(wait.cooperative(mine) for mine, _ in pairs)
        ticks = []

        def ticker():  # another greenlet with work to do meanwhile
            while True:
                ticks.append(1)
                gevent.sleep(0.001)

        def answer(theirs):
            gevent.sleep(answer_after_s)
            theirs.sendall(b"answer")

        others = [gevent.spawn(ticker)] + [gevent.spawn(answer, theirs) for _, theirs in pairs]
        started, cpu = time.perf_counter(), time.thread_time()
        got = gevent.joinall(
            [gevent.spawn(wait.answer, mine, lambda m=mine: m.recv(6)) for mine, _ in pairs]
        )
        result = {
            "answers": [g.value.decode() for g in got],
            "elapsed_s": time.perf_counter() - started,
            "cpu_s": time.thread_time() - cpu,
            "ticks": len(ticks),
            "polls": Counting.polls,
            "waiting_after": wait._waiting,
        }
        gevent.killall(others)
        return result


    print(json.dumps({
        "spins": wait_once(spin_s=0.5, answer_after_s=0.05),
        "parks": wait_once(spin_s=0.0, answer_after_s=0.05),
        "spins_then_parks": wait_once(spin_s=0.02, answer_after_s=0.1),
        "two_waiting": wait_once(spin_s=0.5, answer_after_s=0.05, waiters=2),
    }))
    """
)


def run_child() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_only_waiting_call_polls_for_its_answer_and_other_greenlets_run_meanwhile() -> None:
    results = run_child()
    spins, parks = results["spins"], results["parks"]
    for case in results.values():
        assert all(answer == "answer" for answer in case["answers"])
        assert case["waiting_after"] == 0
    # Polling: the worker stays busy for the whole wait, and the ticker still ran.
    assert spins["polls"] == 1
    assert spins["cpu_s"] > 0.5 * spins["elapsed_s"]
    assert spins["ticks"] >= 10
    # Spin time 0: parked on the socket, the CPU idles while the answer is awaited.
    assert parks["polls"] == 0
    assert parks["cpu_s"] < 0.3 * parks["elapsed_s"]
    # A spin time shorter than the wait: polls that long, then parks until the answer.
    later = results["spins_then_parks"]
    assert later["polls"] == 1
    assert later["cpu_s"] < 0.6 * later["elapsed_s"]
    # Two calls waiting at once: only the first polls; the second parks at once.
    assert results["two_waiting"]["polls"] == 1
    assert len(results["two_waiting"]["answers"]) == 2
