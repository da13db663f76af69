"""Policy versions on disk: one JSON file per revision under <data_dir>/policy/."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.adapters.durable_file import write_json_atomically


@dataclass(frozen=True)
class PolicyVersion:
    """One stored revision of the policy document."""

    version: int
    updated_by: str
    request_id: str
    updated_at: str
    document: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Metadata without the document, for history listings."""
        return {
            "version": self.version,
            "updated_by": self.updated_by,
            "request_id": self.request_id,
            "updated_at": self.updated_at,
            "label": self.document.get("version"),
        }


class FilePolicyStore:
    """Keeps every accepted policy document; the highest revision is the current one."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._cache: PolicyVersion | None = None

    def _path(self, version: int) -> Path:
        return self._folder / f"{version:06d}.json"

    def _versions(self) -> list[int]:
        if not self._folder.is_dir():
            return []
        found = []
        for path in self._folder.glob("*.json"):
            if path.stem.isdigit():
                found.append(int(path.stem))
        return sorted(found)

    def _read(self, version: int) -> PolicyVersion:
        raw = json.loads(self._path(version).read_text(encoding="utf-8"))
        return PolicyVersion(
            version=int(raw["version"]),
            updated_by=str(raw["updated_by"]),
            request_id=str(raw["request_id"]),
            updated_at=str(raw["updated_at"]),
            document=raw["document"],
        )

    def current(self) -> PolicyVersion | None:
        """The newest revision, or None when nothing was ever stored."""
        with self._lock:
            if self._cache is None:
                versions = self._versions()
                self._cache = self._read(versions[-1]) if versions else None
            return self._cache

    def history(self) -> list[PolicyVersion]:
        """Every revision, newest first."""
        with self._lock:
            return [self._read(v) for v in reversed(self._versions())]

    def get(self, version: int) -> PolicyVersion | None:
        """One revision by number."""
        with self._lock:
            return self._read(version) if self._path(version).is_file() else None

    def save(self, document: dict[str, Any], updated_by: str, request_id: str) -> PolicyVersion:
        """Store `document` as the next revision (durably, before returning)."""
        with self._lock:
            versions = self._versions()
            entry = PolicyVersion(
                version=(versions[-1] + 1) if versions else 1,
                updated_by=updated_by,
                request_id=request_id,
                updated_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                document=document,
            )
            write_json_atomically(
                self._path(entry.version),
                {**entry.summary(), "document": document},
            )
            self._cache = entry
            return entry
