"""Operator controls kept on disk so a restart does not silently lift the kill switch."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.adapters.durable_file import write_json_atomically


class FileControls:
    """The kill switch, stored in <data_dir>/controls.json."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"kill_switch": False, "updated_by": None, "updated_at": None}
        if path.is_file():
            self._state.update(json.loads(path.read_text(encoding="utf-8")))

    def kill_switch(self) -> bool:
        """Whether the kill switch is on."""
        return bool(self._state["kill_switch"])

    def set_kill_switch(self, on: bool, updated_by: str) -> dict[str, Any]:
        """Store the new state durably, then serve it."""
        with self._lock:
            state = {
                "kill_switch": on,
                "updated_by": updated_by,
                "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
            write_json_atomically(self._path, state)
            self._state = state
            return dict(state)

    def state(self) -> dict[str, Any]:
        """The current state."""
        return dict(self._state)
