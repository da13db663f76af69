"""Run reports on disk: one JSON file per run under <data_dir>/runs/<UTC day>/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.adapters.durable_file import write_json_atomically

AUDIT_ID = re.compile(r"^run_(\d{8})T\d{6}Z_[0-9a-f]{12}$")


class FileRunReports:
    """Each report is fsynced (file and folder) before append() returns."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, audit_id: str) -> Path | None:
        match = AUDIT_ID.match(audit_id)
        if not match:
            return None
        return self._folder / match.group(1) / f"{audit_id}.json"

    def append(self, report: dict[str, Any]) -> None:
        """Store a report durably."""
        path = self._path(str(report["audit_id"]))
        if path is None:
            raise ValueError(f"malformed audit id {report['audit_id']!r}")
        write_json_atomically(path, report)

    def get(self, audit_id: str) -> dict[str, Any] | None:
        """A stored report, or None."""
        path = self._path(audit_id)
        if path is None or not path.is_file():
            return None
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    @staticmethod
    def well_formed(audit_id: str) -> bool:
        """Whether `audit_id` has the shape Symphony issues."""
        return AUDIT_ID.match(audit_id) is not None
