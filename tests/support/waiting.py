"""Polling for what a test waits on: a report posted, a ticket filed, a log line written."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout_s: float = 10.0, what: str = "condition") -> T:
    """Poll `check` every 0.05 s until it returns something truthy, and return that; fail
    naming `what` once `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met after {timeout_s:g} s")
        time.sleep(0.05)
