"""OPA bundles: building the one a sidecar pulls, reading the one a governance CI uploads."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.core.revisions import (
    GUARD_PACKAGE_PREFIX,
    RegoProblem,
    Revision,
    canonical_json,
    declared_package,
    guard_module,
)

BUNDLE_NAME = "symphony"
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_UPLOAD_FILES = 256
MAX_UNPACKED_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Bundle:
    """A built bundle: gzipped tarball bytes and their ETag."""

    revision: int
    manifest_revision: str
    data: bytes

    @property
    def etag(self) -> str:
        """Strong ETag over the bytes (the router's Rego is in them, not only the revision)."""
        return '"' + hashlib.sha256(self.data).hexdigest()[:32] + '"'


def _add(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(content))


def build_bundle(revision: Revision, router_modules: Mapping[str, str]) -> Bundle:
    """The revision as an OPA bundle, byte-identical on every proxy.

    Its one root is the whole tree (`""`): a sidecar that activated it refuses every REST
    write of data or policy ("all paths owned by bundle"), and activation wipes anything
    written before it, so policy reaches OPA only through Symphony. The decision-log mask
    (policy/rego/logmask.rego, package system.log) travels in it with the router, and the
    REST lock-down for sidecars still started with --authorization=basic (authz.rego)."""
    manifest = {
        "revision": revision.bundle_revision,
        "roots": [""],
        "metadata": {"symphony_revision": revision.number, "hash": revision.hash},
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, ".manifest", canonical_json(manifest).encode())
        _add(tar, "symphony/policy/data.json", canonical_json(revision.document).encode())
        for name in sorted(router_modules):
            # The repository path, so explanation traces name files a reader can open.
            _add(tar, f"policy/rego/{name}", router_modules[name].encode())
        for name in sorted(revision.guards):
            _add(tar, guard_module(name), revision.guards[name].encode())
    packed = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    return Bundle(revision.number, revision.bundle_revision, packed)


@dataclass
class UploadedBundle:
    """What a governance team's `opa build` tarball carries for Symphony."""

    document: dict[str, Any] | None = None
    guards: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)


class BundleRejected(Exception):
    """The uploaded tarball is not a bundle Symphony accepts; nothing changed."""

    def __init__(self, problems: list[RegoProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _document_from(path: str, payload: Any) -> dict[str, Any] | None:
    if path == "symphony/policy/data.json":
        return payload if isinstance(payload, dict) else None
    if path == "data.json" and isinstance(payload, dict):
        nested = payload.get("symphony", {})
        policy = nested.get("policy") if isinstance(nested, dict) else None
        return policy if isinstance(policy, dict) else None
    return None


def read_uploaded_bundle(data: bytes) -> UploadedBundle:
    """Guards (package symphony.guards.<name>), tests (*_test.rego) and the document
    (data at symphony.policy); anything else is refused, never half-applied."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise BundleRejected([RegoProblem("bundle", f"larger than {MAX_UPLOAD_BYTES} bytes")])
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return _read_members(tar)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleRejected([RegoProblem("bundle", f"not a gzipped tarball: {exc}")]) from exc


def _read_members(tar: tarfile.TarFile) -> UploadedBundle:
    members = tar.getmembers()
    if len(members) > MAX_UPLOAD_FILES:
        raise BundleRejected([RegoProblem("bundle", f"more than {MAX_UPLOAD_FILES} files")])
    upload = UploadedBundle()
    problems: list[RegoProblem] = []
    unpacked = 0
    for member in members:
        path = member.name.lstrip("/")
        if member.isdir():
            continue
        if not member.isfile() or ".." in path.split("/"):
            problems.append(RegoProblem(path, "only regular files inside the bundle"))
            continue
        unpacked += member.size
        if unpacked > MAX_UNPACKED_BYTES:
            raise BundleRejected([RegoProblem("bundle", "unpacks to more than 16 MiB")])
        handle = tar.extractfile(member)
        content = handle.read() if handle else b""
        problems.extend(_classify(path, content, upload))
    if problems:
        raise BundleRejected(problems)
    return upload


def _classify(path: str, content: bytes, upload: UploadedBundle) -> list[RegoProblem]:
    name = path.rsplit("/", 1)[-1]
    if name in (".manifest", ".signatures.json"):
        return []
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return [RegoProblem(path, "not UTF-8 text")]
    if name.endswith(".json"):
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            return [RegoProblem(path, f"malformed JSON: {exc}")]
        if path == "data.json" and payload == {}:
            return []  # `opa build` writes an empty root data file
        document = _document_from(path, payload)
        if document is None:
            return [RegoProblem(path, "the only data accepted is the document at symphony.policy")]
        upload.document = document
        return []
    if not name.endswith(".rego"):
        return [RegoProblem(path, "only .rego modules and the document's data.json")]
    package = declared_package(text) or ""
    if package.startswith(GUARD_PACKAGE_PREFIX):
        upload.guards[package.removeprefix(GUARD_PACKAGE_PREFIX)] = text
        return []
    if name.endswith("_test.rego"):
        upload.tests[name.removesuffix(".rego")] = text
        return []
    return [
        RegoProblem(
            path,
            f"package {package or '(none)'}: a bundle carries guards (package "
            f"{GUARD_PACKAGE_PREFIX}<name>) and their tests (*_test.rego); the router ships "
            "with Symphony",
        )
    ]


@dataclass(frozen=True)
class SidecarStatus:
    """What one sidecar last said about its bundle."""

    name: str
    bundle_revision: str | None
    bundle_errors: tuple[dict[str, Any], ...]
    opa_version: str | None
    reported_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "bundle_revision": self.bundle_revision,
            "bundle_errors": list(self.bundle_errors),
            "opa_version": self.opa_version,
            "reported_at": self.reported_at.isoformat(timespec="milliseconds"),
        }


class BundleServer:
    """Serves the active revision as a bundle; long polls wait for the next activation."""

    def __init__(
        self,
        revision_of: Callable[[int], Revision],
        active_number: Callable[[], int],
        router_modules: Mapping[str, str],
        max_waiters: int = 16,
        check_every_s: float = 0.2,
    ) -> None:
        self._revision_of = revision_of
        self._active_number = active_number
        self._router = dict(router_modules)
        self._waiters = threading.BoundedSemaphore(max_waiters)
        self._check_every_s = check_every_s
        self._lock = threading.Lock()
        self._cached: Bundle | None = None
        self._stopping = threading.Event()

    def current(self) -> Bundle:
        """The bundle of the active revision (built once per revision)."""
        number = self._active_number()
        with self._lock:
            cached = self._cached
        if cached is not None and cached.revision == number:
            return cached
        bundle = build_bundle(self._revision_of(number), self._router)
        with self._lock:
            self._cached = bundle
        return bundle

    def wait_for_change(self, etag: str, timeout_s: float) -> Bundle:
        """The active bundle once its ETag differs from `etag`, or after `timeout_s`.

        At most `max_waiters` requests wait at once; past that a poll is answered at once,
        so long polls can never take every worker thread."""
        bundle = self.current()
        if bundle.etag != etag or timeout_s <= 0:
            return bundle
        if not self._waiters.acquire(blocking=False):
            return bundle
        try:
            deadline = time.monotonic() + timeout_s
            while bundle.etag == etag and not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._stopping.wait(min(self._check_every_s, remaining))
                bundle = self.current()
            return bundle
        finally:
            self._waiters.release()

    def stop(self) -> None:
        """Release every waiting long poll (shutdown)."""
        self._stopping.set()
