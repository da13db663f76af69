"""Checking a candidate revision with the real `opa` binary: `opa check --strict`, `opa test`."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.core.revisions import RegoProblem, guard_module, test_module

CHECK_TIMEOUT_S = 60.0


class OpaCompiler:
    """Compiles the router, the guards and their tests together, as OPA will."""

    def __init__(self, opa_binary: str, router_modules: Mapping[str, str]) -> None:
        self._opa = opa_binary
        self._router = dict(router_modules)

    def problems(
        self, document: Mapping[str, Any], guards: Mapping[str, str], tests: Mapping[str, str]
    ) -> list[RegoProblem]:
        """Compile errors first; the tests run only when everything compiles."""
        with tempfile.TemporaryDirectory(prefix="symphony-check-") as tmp:
            root = Path(tmp)
            labels: dict[str, str] = {}

            def put(relative: str, source: str, label: str) -> None:
                path = root / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(source, encoding="utf-8")
                labels[str(path)] = label

            for name, source in self._router.items():
                put(f"router/{name}", source, f"router/{name}")
            for name, source in guards.items():
                put(guard_module(name), source, guard_module(name))
            for name, source in tests.items():
                put(test_module(name), source, test_module(name))
            data = root / "data" / "symphony" / "policy" / "data.json"
            data.parent.mkdir(parents=True)
            data.write_text(json.dumps(document), encoding="utf-8")
            dirs = [str(root / d) for d in ("router", "guards", "tests") if (root / d).is_dir()]
            found = self._check(dirs, labels)
            if found or not tests:
                return found
            return self._test([*dirs, str(root / "data")], labels)

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self._opa, *argv], capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False
        )

    def _check(self, dirs: list[str], labels: dict[str, str]) -> list[RegoProblem]:
        result = self._run(["check", "--strict", "--format", "json", *dirs])
        if result.returncode == 0:
            return []
        try:
            errors = json.loads(result.stdout or result.stderr).get("errors", [])
        except (json.JSONDecodeError, AttributeError):
            return [RegoProblem("bundle", (result.stderr or result.stdout).strip()[:2000])]
        return [_problem(error, labels) for error in errors]

    def _test(self, paths: list[str], labels: dict[str, str]) -> list[RegoProblem]:
        # `opa test` maps data files to paths relative to the directory they are loaded from.
        result = self._run(["test", "--format", "json", *paths])
        try:
            outcomes = json.loads(result.stdout)
        except json.JSONDecodeError:
            if result.returncode == 0:
                return []
            return [RegoProblem("tests", (result.stderr or result.stdout).strip()[:2000])]
        found = []
        for outcome in outcomes if isinstance(outcomes, list) else []:
            if not (outcome.get("fail") or outcome.get("error")):
                continue
            location = outcome.get("location") or {}
            name = f"{outcome.get('package', '')}.{outcome.get('name', '')}".removeprefix("data.")
            error = outcome.get("error")
            message = (
                f"test {name} failed"
                if not error
                else f"test {name} errored: {error.get('message', error)}"
            )
            found.append(
                RegoProblem(
                    labels.get(str(location.get("file", "")), "tests"),
                    message,
                    location.get("row"),
                    location.get("col"),
                )
            )
        if not found and result.returncode != 0:
            found.append(RegoProblem("tests", (result.stderr or "opa test failed").strip()[:2000]))
        return found


def _problem(error: dict[str, Any], labels: dict[str, str]) -> RegoProblem:
    location = error.get("location") or {}
    file = str(location.get("file", ""))
    label = labels.get(file) or next(
        (label for path, label in labels.items() if file.endswith(path)), file or "bundle"
    )
    code = error.get("code")
    message = str(error.get("message", "error"))
    return RegoProblem(
        label,
        f"{code}: {message}" if code else message,
        location.get("row"),
        location.get("col"),
    )


def read_router_modules(folder: Path) -> dict[str, str]:
    """The router's Rego files (policy/rego/*.rego), by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.rego"))}
