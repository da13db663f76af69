"""Policy revisions: the document plus every guard module, immutable, numbered and hashed."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

GUARD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TEST_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
GUARD_PACKAGE_PREFIX = "symphony.guards."
MAX_MODULE_BYTES = 256 * 1024
MAX_GUARDS = 64
MAX_TESTS = 64
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)\s*(?:#.*)?$", re.MULTILINE)
_ETAG_REVISION = re.compile(r'^"?r(\d{1,12})-([0-9a-f]{16})"?$')


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same bytes for the same content everywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(
    document: Mapping[str, Any], guards: Mapping[str, str], tests: Mapping[str, str]
) -> str:
    """SHA-256 over the document, the guard modules and their tests."""
    body = canonical_json({"document": document, "guards": guards, "tests": tests})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def etag_for(number: int, digest: str) -> str:
    """The strong ETag of a revision: `"r<number>-<first 16 hex of its hash>"`."""
    return f'"r{number}-{digest[:16]}"'


def revision_number(tag: str | None) -> int | None:
    """The revision number in an ETag or a bundle manifest revision, None if it has none."""
    if not tag:
        return None
    match = _ETAG_REVISION.match(tag.strip())
    return int(match.group(1)) if match else None


def declared_package(source: str) -> str | None:
    """The package a Rego module declares (its first `package` line), if any."""
    match = _PACKAGE.search(source)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Draft:
    """A revision about to be stored: content plus who asked for it and why."""

    document: dict[str, Any]
    guards: Mapping[str, str]
    tests: Mapping[str, str]
    created_by: str
    request_id: str
    reason: str | None
    source: str
    parent: int | None

    @property
    def hash(self) -> str:
        """The content hash."""
        return content_hash(self.document, self.guards, self.tests)


@dataclass(frozen=True)
class Revision:
    """One stored revision; never changed after it is written."""

    number: int
    hash: str
    document: dict[str, Any]
    guards: Mapping[str, str]
    tests: Mapping[str, str]
    created_by: str
    created_at: datetime
    request_id: str
    reason: str | None
    source: str
    parent: int | None

    @property
    def etag(self) -> str:
        """Strong ETag naming this revision."""
        return etag_for(self.number, self.hash)

    @property
    def bundle_revision(self) -> str:
        """The revision string written into the OPA bundle manifest."""
        return self.etag.strip('"')

    def summary(self) -> dict[str, Any]:
        """Metadata without the content, for listings."""
        return {
            "version": self.number,
            "hash": self.hash,
            "etag": self.etag,
            "updated_by": self.created_by,
            "updated_at": self.created_at.isoformat(timespec="milliseconds"),
            "request_id": self.request_id,
            "reason": self.reason,
            "source": self.source,
            "parent": self.parent,
            "label": self.document.get("version"),
            "guard_names": sorted(self.guards),
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything: metadata, the document, every guard module and test module."""
        return {
            **self.summary(),
            "document": self.document,
            "guards": dict(self.guards),
            "tests": dict(self.tests),
        }


@dataclass(frozen=True)
class ActivePointer:
    """Which revision is active, since when and by whose hand."""

    revision: int
    activated_at: datetime
    activated_by: str


class StaleRevision(Exception):
    """The active revision moved since the writer read it (compare-and-swap lost)."""


@dataclass(frozen=True)
class RegoProblem:
    """A compile error or failing test in one module, with where it is."""

    module: str
    message: str
    row: int | None = None
    col: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form, beside FieldError's `field`/`message`."""
        where = (
            self.module
            + (f":{self.row}" if self.row else "")
            + (f":{self.col}" if self.col else "")
        )
        return {
            "field": where,
            "module": self.module,
            "row": self.row,
            "col": self.col,
            "message": self.message,
        }


@dataclass(frozen=True)
class GuardSet:
    """Guard modules and their test modules, checked for names, sizes and packages."""

    guards: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[RegoProblem]:
        """Naming and packaging errors that need no compiler."""
        found: list[RegoProblem] = []
        if len(self.guards) > MAX_GUARDS:
            found.append(RegoProblem("guards", f"at most {MAX_GUARDS} guard modules"))
        if len(self.tests) > MAX_TESTS:
            found.append(RegoProblem("tests", f"at most {MAX_TESTS} test modules"))
        for name, source in sorted(self.guards.items()):
            module = guard_module(name)
            found.extend(_size_problems(module, source))
            if not GUARD_NAME.match(name):
                found.append(RegoProblem(module, "a guard name is [a-z][a-z0-9_]*, 63 at most"))
                continue
            package = declared_package(source)
            if package != GUARD_PACKAGE_PREFIX + name:
                found.append(
                    RegoProblem(
                        module,
                        f"declares package {package or '(none)'}; guard {name!r} must be "
                        f"package {GUARD_PACKAGE_PREFIX}{name}",
                        row=1,
                    )
                )
        for name, source in sorted(self.tests.items()):
            module = test_module(name)
            found.extend(_size_problems(module, source))
            if not TEST_NAME.match(name):
                found.append(RegoProblem(module, "a test name is [a-z][a-z0-9_]*, 63 at most"))
                continue
            package = declared_package(source) or ""
            if package == "symphony" or package.startswith("symphony."):
                # The router reads every rule under data.symphony.guards; a test there that
                # queries the router is a recursion, and the symphony root is Symphony's.
                found.append(
                    RegoProblem(
                        module,
                        f"test package {package} is under symphony; put guard tests in a "
                        f"package outside it, e.g. guard_tests.{name}",
                        row=1,
                    )
                )
        return found


def guard_module(name: str) -> str:
    """The module path of a guard inside a revision and its bundle."""
    return f"guards/{name}.rego"


def test_module(name: str) -> str:
    """The module path of a guard test inside a revision."""
    return f"tests/{name}.rego"


def _size_problems(module: str, source: str) -> list[RegoProblem]:
    if not source.strip():
        return [RegoProblem(module, "the module is empty")]
    if len(source.encode("utf-8")) > MAX_MODULE_BYTES:
        return [RegoProblem(module, f"larger than {MAX_MODULE_BYTES} bytes")]
    return []


class RevisionStore(Protocol):
    """Durable, shared storage of revisions and the active pointer."""

    def active(self) -> ActivePointer | None:
        """The active pointer, or None before the first revision."""
        ...

    def get(self, number: int) -> Revision | None:
        """One revision by number."""
        ...

    def listing(self, limit: int, before: int | None) -> list[Revision]:
        """Revisions newest first, numbered below `before` when given."""
        ...

    def activate_new(self, draft: Draft, expected: int | None, now: datetime) -> Revision:
        """Store `draft` as the next revision and make it active, if the active one is still
        `expected`; raises StaleRevision otherwise. One transaction."""
        ...

    def import_revision(self, revision: Revision, activate: bool) -> None:
        """Store a revision carried over from an older store, keeping its number."""
        ...


class PolicyCompiler(Protocol):
    """Compiles a candidate revision with the router and runs its tests."""

    def problems(
        self, document: Mapping[str, Any], guards: Mapping[str, str], tests: Mapping[str, str]
    ) -> list[RegoProblem]:
        """Every compile error and failing test; empty when the revision may be activated."""
        ...
