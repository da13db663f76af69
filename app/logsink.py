"""A service's log file: its output appended line by line, each line a capped JSON object,
the file rotated by size and its rotated copies deleted by age.

`python -m app.logsink FILE` (or `python -I app/logsink.py FILE`, as scripts/lib/service.sh
runs it) reads standard input until end of file and appends to FILE, never truncating it:

- a line that is a JSON object is kept as it is; any other line becomes `{"ts", "msg"}`;
- a line longer than SYMPHONY_LOG_LINE_MAX characters (8192) has its longest strings cut and
  `"truncated": true` added, or, when that cannot fit, is replaced by a marker object with its
  short top-level fields, `"original_bytes"` and the beginning of the line as `"head"`;
- before FILE would pass SYMPHONY_LOG_MAX_BYTES (10 MiB) it becomes FILE.1 (FILE.1 becomes
  FILE.2, ...), keeping SYMPHONY_LOG_KEEP rotated files (5);
- rotated files older than SYMPHONY_LOG_MAX_AGE_DAYS (14) are deleted, at start, on rotation
  and hourly.

Each line is flushed as it is written (OPA's decision log is the audit trail), not fsynced.
SIGTERM and SIGINT end the program after the line in hand. Standard library only: a service
must never lose its log because the application does not import.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

DEFAULT_LINE_MAX = 8192
MIN_LINE_MAX = 256
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5
DEFAULT_MAX_AGE_DAYS = 14.0
PRUNE_EVERY_S = 3600.0
# A string is never cut below this many characters; past that a line becomes a marker.
MIN_KEPT_CHARS = 64
ELLIPSIS = "…"
# Input is read in lines of at most this many bytes (a line with no end is not held whole).
READ_BOUND_BYTES = 1 << 20
_MARKER_FIELD_MAX = 256
_ROTATED = re.compile(r"\.(\d+)$")


def rfc3339(seconds: float) -> str:
    """`seconds` since the epoch as an RFC 3339 UTC timestamp with milliseconds."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def dumps(value: Any) -> str:
    """Compact JSON on one line, non-ASCII kept as it is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def fit_object(entry: Mapping[str, Any], limit: int, prefer: Sequence[str] = ()) -> str | None:
    """`entry` as one JSON line of at most `limit` characters: unchanged when it fits, else
    with its longest strings cut (top-level `prefer` fields first) and `"truncated": true`;
    None when even that cannot fit."""
    line = dumps(entry)
    if len(line) <= limit:
        return line
    copy: dict[str, Any] = json.loads(line)
    copy["truncated"] = True
    # Each cut removes at least the excess measured in serialised characters, so few
    # rounds are needed; the bound only guards against surprises.
    for _ in range(256):
        line = dumps(copy)
        excess = len(line) - limit
        if excess <= 0:
            return line
        slot = _longest_string(copy, prefer)
        if slot is None:
            return None
        container, key = slot
        value: str = container[key]
        keep = max(MIN_KEPT_CHARS, len(value) - excess - len(ELLIPSIS))
        container[key] = value[:keep] + ELLIPSIS
    return None


def _longest_string(entry: dict[str, Any], prefer: Sequence[str]) -> tuple[Any, Any] | None:
    """Where the string to cut next is: (container, key or index)."""
    cuttable = MIN_KEPT_CHARS + len(ELLIPSIS)
    preferred = [k for k in prefer if isinstance(entry.get(k), str) and len(entry[k]) > cuttable]
    if preferred:
        return entry, max(preferred, key=lambda k: len(entry[k]))
    best: tuple[Any, Any] | None = None
    best_length = cuttable
    stack: list[Any] = [entry]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, str) and len(value) > best_length:
                best, best_length = (node, key), len(value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return best


def _marker(text: str, fields: Mapping[str, Any], original_bytes: int, limit: int, ts: str) -> str:
    """A line that says a longer one was here: its short top-level fields, its size in
    bytes and as much of its beginning as fits."""
    entry: dict[str, Any] = {
        key: value
        for key, value in fields.items()
        if value is None
        or isinstance(value, bool | int | float)
        or (isinstance(value, str) and len(value) <= _MARKER_FIELD_MAX)
    }
    entry.setdefault("ts", ts)
    entry.update(truncated=True, original_bytes=original_bytes, head=text)
    line = fit_object(entry, limit, prefer=("head",))
    if line is None:  # too many short fields for the cap: keep the essentials only
        minimal = {"ts": ts, "truncated": True, "original_bytes": original_bytes, "head": text}
        line = fit_object(minimal, limit, prefer=("head",))
    return line or dumps({"ts": ts, "truncated": True, "original_bytes": original_bytes})


def cap_line(raw: bytes, limit: int, now: float, original_bytes: int | None = None) -> bytes:
    """One line of input (without its newline) as the JSON line to append (with one).
    `original_bytes` is given when only the beginning of a longer line was read."""
    text = raw.decode("utf-8", errors="replace")
    ts = rfc3339(now)
    parsed: Any = None
    if text.startswith("{") and original_bytes is None:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        if len(text) <= limit:
            return raw + b"\n"
        line = fit_object(parsed, limit) or _marker(text, parsed, len(raw), limit, ts)
    else:
        entry: dict[str, Any] = {"ts": ts, "msg": text}
        if original_bytes is not None:
            entry.update(truncated=True, original_bytes=original_bytes)
        elif len(dumps(entry)) > limit:
            entry["original_bytes"] = len(raw)
        line = fit_object(entry, limit, prefer=("msg",)) or _marker(
            text, {}, original_bytes or len(raw), limit, ts
        )
    return line.encode() + b"\n"


@dataclass(frozen=True)
class Retention:
    """How long lines may be, when a log rotates and how long rotated files stay."""

    line_max: int = DEFAULT_LINE_MAX
    max_bytes: int = DEFAULT_MAX_BYTES
    keep: int = DEFAULT_KEEP
    max_age_s: float = DEFAULT_MAX_AGE_DAYS * 86400

    @classmethod
    def from_env(cls, env: Mapping[str, str], warn: Callable[[str], None]) -> Retention:
        """Read SYMPHONY_LOG_*; a value that is not a number is reported and defaulted."""

        def number(name: str, default: float, minimum: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0:
                warn(f"{name}={raw!r} is not a non-negative number; using {default:g}")
                return default
            return max(value, minimum)

        return cls(
            line_max=int(number("SYMPHONY_LOG_LINE_MAX", DEFAULT_LINE_MAX, MIN_LINE_MAX)),
            max_bytes=int(number("SYMPHONY_LOG_MAX_BYTES", DEFAULT_MAX_BYTES, 1)),
            keep=int(number("SYMPHONY_LOG_KEEP", DEFAULT_KEEP, 0)),
            max_age_s=number("SYMPHONY_LOG_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS, 0) * 86400,
        )


class RotatingLog:
    """An append-only file that becomes FILE.1 (FILE.1 becomes FILE.2, ...) before a line
    would take it past `max_bytes`; rotated files beyond `keep` or older than `max_age_s`
    are deleted."""

    def __init__(
        self, path: Path, retention: Retention, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self._retention = retention
        self._clock = clock
        self._file: BinaryIO | None = None
        self._size = 0
        self._pruned_at = -math.inf

    def rotated(self) -> list[Path]:
        """FILE.1, FILE.2, ... that exist, by number."""
        return [path for _, path in self._numbered()]

    def _numbered(self) -> list[tuple[int, Path]]:
        found = []
        for candidate in self.path.parent.glob(f"{self.path.name}.*"):
            match = _ROTATED.search(candidate.name)
            if match and candidate.name == f"{self.path.name}.{match.group(1)}":
                found.append((int(match.group(1)), candidate))
        return sorted(found)

    def write(self, line: bytes) -> None:
        """Append one line (ending in a newline), rotating first if it would not fit."""
        if self._file is None:
            self._open()
        if self._size > 0 and self._size + len(line) > self._retention.max_bytes:
            self.rotate()
        assert self._file is not None
        self._file.write(line)
        self._file.flush()
        self._size += len(line)
        if self._clock() - self._pruned_at >= PRUNE_EVERY_S:
            self.prune()

    def rotate(self) -> None:
        """Move FILE to FILE.1 (and each FILE.n to FILE.n+1) and start FILE anew."""
        self.close()
        keep = self._retention.keep
        if keep == 0:
            self.path.unlink(missing_ok=True)
        else:
            for number in range(keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{number}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
            if self.path.exists():
                os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._open()
        self.prune()

    def prune(self) -> None:
        """Delete rotated files past `keep` or last written more than `max_age_s` ago."""
        now = self._clock()
        self._pruned_at = now
        for number, path in self._numbered():
            try:
                too_old = now - path.stat().st_mtime > self._retention.max_age_s
            except FileNotFoundError:
                continue
            if number > self._retention.keep or too_old:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Flush and close the file (it is reopened by the next write)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")
        self._size = os.fstat(self._file.fileno()).st_size
        if self._pruned_at == -math.inf:
            self.prune()


def read_lines(
    stream: BinaryIO, bound: int = READ_BOUND_BYTES
) -> Iterator[tuple[bytes, int | None]]:
    """Lines of `stream` without their newline, each with None, or with its full size in
    bytes when only its first `bound` bytes are kept."""
    while True:
        chunk = stream.readline(bound)
        if not chunk:
            return
        if chunk.endswith(b"\n"):
            yield chunk.rstrip(b"\r\n"), None
            continue
        if len(chunk) < bound:  # the last line, without a newline
            yield chunk.rstrip(b"\r"), None
            return
        total = len(chunk)
        rest = chunk
        while rest and not rest.endswith(b"\n"):  # skip the rest of the line, counting it
            rest = stream.readline(bound)
            total += len(rest.rstrip(b"\r\n"))
        yield chunk, total


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to end the copy loop."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def main(argv: Sequence[str] | None = None) -> int:
    """Copy standard input to the log named on the command line until end of file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m app.logsink FILE", file=sys.stderr)
        return 2
    path = Path(args[0])

    def warn(message: str) -> None:
        print(f"logsink {path}: {message}", file=sys.stderr, flush=True)

    retention = Retention.from_env(os.environ, warn)
    log = RotatingLog(path, retention)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    failing = False
    try:
        for raw, original_bytes in read_lines(sys.stdin.buffer):
            if not raw.strip():
                continue
            line = cap_line(raw, retention.line_max, time.time(), original_bytes)
            try:
                log.write(line)
                failing = False
            except OSError as exc:
                # Keep reading: a service whose output pipe closes dies of SIGPIPE.
                if not failing:
                    warn(f"cannot write ({exc}); lines are lost until it can")
                failing = True
                log.close()
    except _Stop:
        pass
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
