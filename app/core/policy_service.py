"""The active policy revision: read through a short cache, changed only by compare-and-swap.

Every write builds a complete candidate revision (document + guards + their tests), validates
the document, checks guard names and packages, compiles everything with the router and runs
the guards' tests, and only then asks the store to activate it if the active revision is still
the one the writer started from (its ETag). Any failure leaves the active revision as it was.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.policy_document import PolicyValidator
from app.core.policy_view import PolicyView
from app.core.revisions import (
    ActivePointer,
    Draft,
    GuardSet,
    PolicyCompiler,
    RegoProblem,
    Revision,
    RevisionStore,
    StaleRevision,
    content_hash,
)
from app.core.validation import FieldError

VIEW_CACHE_SIZE = 8


class PolicyRejected(Exception):
    """The candidate revision is invalid; nothing was changed."""

    def __init__(self, errors: list[FieldError], problems: list[RegoProblem] | None = None) -> None:
        super().__init__(f"{len(errors) + len(problems or [])} policy error(s)")
        self.errors = errors
        self.problems = problems or []

    def as_dicts(self) -> list[dict[str, Any]]:
        """Document errors then Rego problems, in one list."""
        return [e.as_dict() for e in self.errors] + [p.as_dict() for p in self.problems]


class PreconditionFailed(Exception):
    """The writer's ETag does not name the active revision (someone else wrote first)."""

    def __init__(self, sent: str, current: Revision) -> None:
        super().__init__(f"you sent {sent}, the active revision is {current.etag}")
        self.sent = sent
        self.current = current


class RevisionNotFound(Exception):
    """No revision has that number."""


@dataclass(frozen=True)
class Author:
    """Who writes, under which request id, and why."""

    name: str
    request_id: str
    reason: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The active pointer and the view of the revision it names, read together."""

    pointer: ActivePointer
    view: PolicyView


class PolicyService:
    """Owns reading and changing the active revision of the shared store."""

    def __init__(
        self,
        validator: PolicyValidator,
        store: RevisionStore,
        compiler: PolicyCompiler,
        refresh_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._validator = validator
        self._store = store
        self._compiler = compiler
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._read_at = float("-inf")
        self._views: OrderedDict[int, PolicyView] = OrderedDict()

    # ---- reading ---------------------------------------------------------------------

    def validate(self, document: Any) -> list[FieldError]:
        """Every error in `document` (empty when it is valid)."""
        return self._validator.errors(document)

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """The active pointer and view, re-read from the store at most every refresh_s."""
        now = self._clock()
        with self._lock:
            cached = self._snapshot
            if cached is not None and not fresh and now - self._read_at < self._refresh_s:
                return cached
        pointer = self._store.active()
        if pointer is None:
            raise RuntimeError("no active policy revision: bootstrap() first")
        view = self.view_of(pointer.revision)
        snapshot = Snapshot(pointer, view)
        with self._lock:
            self._snapshot, self._read_at = snapshot, now
        return snapshot

    def current(self) -> PolicyView:
        """The active policy (at most refresh_s old)."""
        return self.snapshot().view

    def view_of(self, number: int) -> PolicyView:
        """The view of any stored revision (a small LRU: revisions never change)."""
        with self._lock:
            view = self._views.get(number)
            if view is not None:
                self._views.move_to_end(number)
                return view
        revision = self._store.get(number)
        if revision is None:
            raise RevisionNotFound(f"no revision {number}")
        view = PolicyView.of(revision.document, revision.number, revision.etag)
        with self._lock:
            self._views[number] = view
            while len(self._views) > VIEW_CACHE_SIZE:
                self._views.popitem(last=False)
        return view

    def active_revision(self) -> Revision:
        """The active revision, read from the store now."""
        pointer = self._store.active()
        revision = self._store.get(pointer.revision) if pointer else None
        if revision is None:
            raise RuntimeError("no active policy revision")
        return revision

    def revision(self, number: int) -> Revision:
        """A stored revision by number."""
        revision = self._store.get(number)
        if revision is None:
            raise RevisionNotFound(f"no revision {number}")
        return revision

    def revisions(self, limit: int = 100, before: int | None = None) -> list[Revision]:
        """Stored revisions, newest first."""
        return self._store.listing(limit, before)

    # ---- starting ----------------------------------------------------------------------

    def bootstrap(self, seed_file: Path, legacy_folder: Path | None = None) -> PolicyView:
        """On an empty store: carry over the old per-file versions, else seed from the file."""
        if self._store.active() is None:
            imported = self._import_legacy(legacy_folder) if legacy_folder else 0
            if not imported:
                document = json.loads(seed_file.read_text(encoding="utf-8"))
                errors = self.validate(document)
                if errors:
                    raise PolicyRejected(errors)
                draft = Draft(
                    document, {}, {}, "bootstrap", f"seed:{seed_file.name}", None, "seed", None
                )
                # StaleRevision: another proxy of the fleet seeded the store first.
                with contextlib.suppress(StaleRevision):
                    self._store.activate_new(draft, None, datetime.now(UTC))
        return self.snapshot(fresh=True).view

    def _import_legacy(self, folder: Path) -> int:
        files = sorted(p for p in folder.glob("*.json") if p.stem.isdigit()) if folder else []
        for index, path in enumerate(files):
            raw = json.loads(path.read_text(encoding="utf-8"))
            document = raw["document"]
            self._store.import_revision(
                Revision(
                    number=int(raw["version"]),
                    hash=content_hash(document, {}, {}),
                    document=document,
                    guards={},
                    tests={},
                    created_by=str(raw.get("updated_by", "unknown")),
                    created_at=datetime.fromisoformat(str(raw["updated_at"])),
                    request_id=str(raw.get("request_id", "")),
                    reason=f"migrated from {path.name}",
                    source="migrated",
                    parent=None,
                ),
                activate=index == len(files) - 1,
            )
        return len(files)

    # ---- writing -----------------------------------------------------------------------

    def replace_document(self, document: Any, if_match: str, author: Author) -> Revision:
        """A new revision with `document` and the active guards."""
        return self._write(if_match, author, "document", lambda active: (document, None, None))

    def put_guard(
        self, name: str, source: str, tests: Mapping[str, str] | None, if_match: str, author: Author
    ) -> Revision:
        """A new revision with guard `name` added or replaced (and its tests, if given)."""

        def change(active: Revision) -> tuple[Any, dict[str, str], dict[str, str]]:
            guards = {**active.guards, name: source}
            merged = dict(active.tests)
            merged.update(tests or {})
            return active.document, guards, merged

        return self._write(if_match, author, "guard", change)

    def delete_guard(self, name: str, if_match: str, author: Author) -> Revision:
        """A new revision without guard `name` (its tests named `<name>_test*` go too)."""

        def change(active: Revision) -> tuple[Any, dict[str, str], dict[str, str]]:
            if name not in active.guards:
                raise RevisionNotFound(f"no guard {name!r} in the active revision")
            guards = {k: v for k, v in active.guards.items() if k != name}
            tests = {k: v for k, v in active.tests.items() if not k.startswith(f"{name}_test")}
            return active.document, guards, tests

        return self._write(if_match, author, "guard", change)

    def replace_bundle(
        self,
        document: dict[str, Any] | None,
        guards: Mapping[str, str],
        tests: Mapping[str, str],
        if_match: str,
        author: Author,
    ) -> Revision:
        """A new revision from an uploaded bundle: its guards and tests replace the active
        ones; its document too, when it carries one."""
        return self._write(
            if_match,
            author,
            "bundle",
            lambda active: (
                document if document is not None else active.document,
                dict(guards),
                dict(tests),
            ),
        )

    def rollback(self, number: int, if_match: str, author: Author) -> Revision:
        """A new revision whose content equals revision `number`."""
        target = self.revision(number)
        return self._write(
            if_match,
            author,
            "rollback",
            lambda active: (target.document, dict(target.guards), dict(target.tests)),
        )

    def candidate(
        self, document: Any | None = None, guards: Mapping[str, str] | None = None
    ) -> Revision:
        """The active revision with `document` and/or `guards` replaced, validated and
        compiled like a write but never stored (number 0): what `simulate` evaluates."""
        active = self.active_revision()
        chosen = active.document if document is None else document
        guard_set = GuardSet(
            dict(active.guards if guards is None else guards),
            {} if guards is not None else dict(active.tests),
        )
        chosen = self._checked(chosen, guard_set)
        return Revision(
            number=0,
            hash=content_hash(chosen, guard_set.guards, guard_set.tests),
            document=chosen,
            guards=guard_set.guards,
            tests=guard_set.tests,
            created_by="simulation",
            created_at=datetime.now(UTC),
            request_id="",
            reason=None,
            source="candidate",
            parent=active.number,
        )

    def _checked(self, document: Any, guard_set: GuardSet) -> Any:
        """A copy of `document` once it validates and compiles with `guard_set` and their
        tests pass; PolicyRejected naming every problem otherwise."""
        errors = self.validate(document)
        problems = guard_set.problems()
        if errors or problems:
            raise PolicyRejected(errors, problems)
        document = copy.deepcopy(document)
        # One compile at a time per proxy: each runs the opa binary.
        with self._write_lock:
            problems = self._compiler.problems(document, guard_set.guards, guard_set.tests)
        if problems:
            raise PolicyRejected([], problems)
        return document

    def _write(
        self,
        if_match: str,
        author: Author,
        source: str,
        change: Callable[[Revision], tuple[Any, dict[str, str] | None, dict[str, str] | None]],
    ) -> Revision:
        active = self.active_revision()
        if if_match.strip() not in (active.etag, "W/" + active.etag):
            raise PreconditionFailed(if_match, active)
        document, guards, tests = change(active)
        guard_set = GuardSet(
            dict(active.guards if guards is None else guards),
            dict(active.tests if tests is None else tests),
        )
        document = self._checked(document, guard_set)
        draft = Draft(
            document=document,
            guards=guard_set.guards,
            tests=guard_set.tests,
            created_by=author.name,
            request_id=author.request_id,
            reason=author.reason,
            source=source,
            parent=active.number,
        )
        try:
            revision = self._store.activate_new(draft, active.number, datetime.now(UTC))
        except StaleRevision as exc:
            raise PreconditionFailed(if_match, self.active_revision()) from exc
        self.snapshot(fresh=True)
        return revision
