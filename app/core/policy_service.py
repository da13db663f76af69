"""Accepting, storing and activating policy documents, all or nothing."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from app.core.policy_document import PolicyValidator
from app.core.policy_view import PolicyView
from app.core.ports import PolicyEngine, PolicyStore
from app.core.validation import FieldError


class PolicyRejected(Exception):
    """A document failed validation; nothing was changed."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} policy error(s)")
        self.errors = errors


class PolicyService:
    """Owns the active policy: validated, stored durably, then pushed to the engine."""

    def __init__(
        self, validator: PolicyValidator, store: PolicyStore, engine: PolicyEngine
    ) -> None:
        self._validator = validator
        self._store = store
        self._engine = engine
        self._lock = threading.Lock()
        self._view: PolicyView | None = None

    def validate(self, document: Any) -> list[FieldError]:
        """Every error in `document` (empty when it is valid)."""
        return self._validator.errors(document)

    def bootstrap(self, seed_file: Path) -> PolicyView:
        """Load the stored policy, seeding the store from `seed_file` on first start."""
        stored = self._store.current()
        if stored is None:
            document = json.loads(seed_file.read_text(encoding="utf-8"))
            errors = self.validate(document)
            if errors:
                raise PolicyRejected(errors)
            stored = self._store.save(document, "bootstrap", f"seed:{seed_file.name}")
        view = PolicyView.of(stored.document, stored.version)
        with self._lock:
            self._view = view
        return view

    def current(self) -> PolicyView:
        """The active policy."""
        view = self._view
        if view is None:
            raise RuntimeError("policy not bootstrapped")
        return view

    def push(self) -> None:
        """(Re)load the active document into the engine, e.g. after the engine restarted."""
        self._engine.load_policy(self.current().document)

    def replace(self, document: Any, updated_by: str, request_id: str) -> PolicyView:
        """Validate, push to the engine, then store; on any failure nothing changes."""
        errors = self.validate(document)
        if errors:
            raise PolicyRejected(errors)
        document = copy.deepcopy(document)
        with self._lock:
            previous = self._view
            self._engine.load_policy(document)
            try:
                stored = self._store.save(document, updated_by, request_id)
            except OSError:
                if previous is not None:
                    self._engine.load_policy(previous.document)
                raise
            self._view = PolicyView.of(document, stored.version)
            return self._view

    def current_summary(self) -> dict[str, Any]:
        """Metadata of the active revision (version, updated_by, request_id, updated_at)."""
        stored = self._store.current()
        return stored.summary() if stored is not None else {"version": self.current().revision}

    def history(self) -> list[dict[str, Any]]:
        """Metadata of every stored revision, newest first."""
        return [entry.summary() for entry in self._store.history()]
