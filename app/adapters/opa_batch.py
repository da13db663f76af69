"""Router decisions under any revision, for replay and what-if: the real `opa eval` over a
revision's bundle, many inputs per process."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.adapters.opa import condense_trace
from app.core.bundles import BUNDLE_NAME, build_bundle
from app.core.ports import EvaluationFailed
from app.core.revisions import Revision

DECISION = "data.symphony.router.decision"
# The inputs arrive as one JSON array on stdin (no file to clean up, no data root beside the
# bundle's); each replaces `input` in turn, as each request does on the sidecar.
BATCH_QUERY = f"[d | some x in input; d := {DECISION} with input as x]"
EXPLAIN_MODES = ("off", "notes", "full")
KEEP_BUNDLES = 8
# A second process starts OPA again (~0.3 s: load and compile the bundle); only a batch this
# large per process gains from another core.
MIN_PER_PROCESS = 1000
MAX_PROCESSES = 4
# As deploy/opa runs OPA: a lazier garbage collector, a quarter faster on big batches.
OPA_ENV = {"GOGC": "400"}
# Past OPA's own --timeout, how long to wait for it to report before it is killed.
KILL_GRACE_S = 5.0
MAX_MESSAGE_CHARS = 4000
# A cache entry: `<bundle revision>-<router digest>`; nothing else in cache_dir is touched.
_ENTRY = re.compile(r"^r\d+-[0-9a-f]{16}-[0-9a-f]{16}$")


def _describe(error: Mapping[str, Any]) -> str:
    location = error.get("location") or {}
    where = ":".join(str(location[k]) for k in ("file", "row") if location.get(k))
    code = error.get("code")
    message = str(error.get("message", "error"))
    return ": ".join(part for part in (where, str(code) if code else "", message) if part)


def _chunks(items: Sequence[Mapping[str, Any]], count: int) -> list[Sequence[Mapping[str, Any]]]:
    size = -(-len(items) // count)
    return [items[start : start + size] for start in range(0, len(items), size)]


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class RevisionEvaluator:
    """Evaluates `data.symphony.router.decision` with `opa eval` over a revision's bundle.

    The bundle file is named `symphony` and OPA runs in its folder: OPA names a bundle given
    on the command line by its path, so the manifest lands at
    `data.system.bundles.symphony.manifest` where the sidecar has it, and every decision
    carries the revision exactly as the sidecar's does."""

    def __init__(
        self,
        opa_binary: str,
        router_modules: Mapping[str, str],
        timeout_s: float = 120.0,
        cache_dir: Path | None = None,
        processes: int | None = None,
    ) -> None:
        # OPA runs in the bundle's folder: a relative path to it must not depend on that.
        self._opa = os.path.abspath(opa_binary) if os.sep in opa_binary else opa_binary
        self._router = dict(router_modules)
        self._router_digest = hashlib.sha256(
            json.dumps(self._router, sort_keys=True).encode()
        ).hexdigest()
        self._timeout = timeout_s
        self._cache = cache_dir
        self._own_cache: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._processes = max(1, processes or min(os.cpu_count() or 1, MAX_PROCESSES))
        self._lock = threading.Lock()
        self._in_use: Counter[str] = Counter()

    def decisions(
        self, revision: Revision, inputs: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """The decision object for each input, in order, under `revision`."""
        if not inputs:
            return []
        count = max(1, min(self._processes, len(inputs) // MIN_PER_PROCESS))
        with self._bundle(revision) as folder:
            if count == 1:
                return self._batch(folder, inputs)
            with ThreadPoolExecutor(count, thread_name_prefix="opa-batch") as pool:
                parts = list(
                    pool.map(lambda part: self._batch(folder, part), _chunks(inputs, count))
                )
        return [decision for part in parts for decision in part]

    def explain(
        self, revision: Revision, opa_input: Mapping[str, Any], mode: str
    ) -> tuple[dict[str, Any], list[str]]:
        """One decision with OPA's trace (mode `notes` or `full`; `off`: none), condensed as
        the sidecar's explanation is."""
        if mode not in EXPLAIN_MODES:
            raise ValueError(f"explain mode must be one of {', '.join(EXPLAIN_MODES)}")
        argv = ["--format", "pretty", "--explain", mode, DECISION]
        with self._bundle(revision) as folder:
            output = self._eval(folder, argv, json.dumps(dict(opa_input)).encode())
        # Pretty output is the trace (every line starts with its location) then the value.
        lines = output.decode("utf-8").splitlines()
        start = next((i for i, line in enumerate(lines) if line == "{"), None)
        if start is None:
            raise EvaluationFailed(f"OPA returned no decision: {output[-MAX_MESSAGE_CHARS:]!r}")
        decision: dict[str, Any] = json.loads("\n".join(lines[start:]))
        return decision, list(condense_trace(lines[:start], mode == "full"))

    def close(self) -> None:
        """Remove the bundle cache this evaluator made itself (a given cache_dir stays)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._own_cache, self._finalizer = None, None

    def __enter__(self) -> RevisionEvaluator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- running opa ------------------------------------------------------------------

    def _batch(self, folder: Path, inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        payload = json.dumps([dict(item) for item in inputs]).encode()
        body = json.loads(self._eval(folder, ["--format", "json", BATCH_QUERY], payload))
        try:
            decisions: list[dict[str, Any]] = body["result"][0]["expressions"][0]["value"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EvaluationFailed("OPA returned no decisions") from exc
        if len(decisions) != len(inputs):
            raise EvaluationFailed(f"OPA returned {len(decisions)} decisions for {len(inputs)}")
        return decisions

    def _eval(self, folder: Path, argv: list[str], stdin: bytes) -> bytes:
        command = [
            self._opa,
            "eval",
            "--bundle",
            BUNDLE_NAME,
            "--stdin-input",
            "--timeout",
            f"{self._timeout:g}s",
            *argv,
        ]
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                cwd=folder,
                env={**os.environ, **OPA_ENV},
                timeout=self._timeout + KILL_GRACE_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EvaluationFailed(f"opa eval took longer than {self._timeout:g} s") from exc
        except OSError as exc:
            raise EvaluationFailed(f"cannot run {self._opa}: {exc}") from exc
        if done.returncode == 0:
            return done.stdout
        raise self._failure(done)

    @staticmethod
    def _failure(done: subprocess.CompletedProcess[bytes]) -> EvaluationFailed:
        text = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
        try:
            errors = json.loads(text).get("errors") or []
        except (ValueError, AttributeError):
            errors = []
        if not errors:
            return EvaluationFailed(
                text[-MAX_MESSAGE_CHARS:] or f"opa eval exited with {done.returncode}"
            )
        if any(error.get("code") == "eval_cancel_error" for error in errors):
            return EvaluationFailed("opa eval timed out: " + _describe(errors[0]), errors)
        message = "; ".join(_describe(error) for error in errors)
        return EvaluationFailed(message[:MAX_MESSAGE_CHARS], errors)

    # ---- the bundle cache -------------------------------------------------------------

    def _cache_root(self) -> Path:
        if self._cache is not None:
            self._cache.mkdir(parents=True, exist_ok=True)
            return self._cache
        if self._own_cache is None:
            self._own_cache = Path(tempfile.mkdtemp(prefix="symphony-bundles-"))
            self._finalizer = weakref.finalize(self, _remove, self._own_cache)
        return self._own_cache

    @contextmanager
    def _bundle(self, revision: Revision) -> Iterator[Path]:
        """The folder holding the revision's bundle as `symphony`, kept while OPA reads it."""
        key = f"{revision.bundle_revision}-{self._router_digest[:16]}"
        with self._lock:
            folder = self._cache_root() / key
            path = folder / BUNDLE_NAME
            if not path.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f".{BUNDLE_NAME}-{os.getpid()}-{threading.get_ident()}"
                partial.write_bytes(build_bundle(revision, self._router).data)
                os.replace(partial, path)
            os.utime(folder)
            self._in_use[key] += 1
            self._evict(folder.parent)
        try:
            yield folder
        finally:
            with self._lock:
                self._in_use[key] -= 1
                if not self._in_use[key]:
                    del self._in_use[key]

    def _evict(self, root: Path) -> None:
        """Keep the KEEP_BUNDLES most recently used bundles (never one OPA is reading)."""
        used: list[tuple[int, Path]] = []
        for entry in root.iterdir():
            if not _ENTRY.match(entry.name):
                continue
            try:
                used.append((entry.stat().st_mtime_ns, entry))
            except FileNotFoundError:  # evicted meanwhile by another process
                continue
        used.sort(reverse=True)
        for _, stale in used[KEEP_BUNDLES:]:
            if stale.name not in self._in_use:
                _remove(stale)
