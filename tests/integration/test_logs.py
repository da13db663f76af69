"""Logs as the scripts run them: a real OPA started by deploy/opa/start.sh, its decision log
masked, appended across restarts and rotated by the sink; the proxy's JSON lines from
app.logs, through gunicorn too."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from app.adapters.opa_check import read_router_modules
from app.core.bundles import build_bundle
from app.core.revisions import Revision
from tests.support.processes import ROOT, VENV_BIN, free_port, wait_until_up
from tests.support.waiting import eventually

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SIDECAR_KEY = "sym_test-sidecar-key-0123456789abcdefghijklmnopq"
PERSONAL_INPUT = {
    "request": {
        "task": "qa",
        "loa": 1,
        "risk": "low",
        "requires_tools": [],
        "est_tokens": 10,
        "max_output_tokens": 16,
        "model": "bob@example.com 4111 1111 1111 1111",
    },
    "client": {"name": "alice@example.org", "roles": ["router"], "team": "platform"},
    "models": {},
    "now_ns": 1_764_000_000_000_000_000,
    "kill_switch": False,
}


def example_bundle() -> bytes:
    """The bundle a proxy serves for the example policy (router, decision-log mask, document)."""
    revision = Revision(
        number=1,
        hash="0" * 64,
        document=json.loads((ROOT / "policy" / "examples" / "default.json").read_text()),
        guards={},
        tests={},
        created_by="test",
        created_at=datetime.now(UTC),
        request_id="test",
        reason=None,
        source="test",
        parent=None,
    )
    return build_bundle(revision, read_router_modules(ROOT / "policy" / "rego")).data


class BundleService:
    """A stand-in for the proxy's bundle endpoint: records each Authorization header and
    serves the example policy's bundle (the decision-log mask travels in it)."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        seen = self.authorizations
        bundle = example_bundle()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(self.headers.get("Authorization"))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                found = self.command == "GET" and self.path.endswith("/symphony.tar.gz")
                self.send_response(200 if found else 204)
                self.send_header("Content-Length", str(len(bundle) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(bundle)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def bundle_service() -> Iterator[BundleService]:
    service = BundleService()
    yield service
    service.close()


class Sidecar:
    """deploy/opa/start.sh for one OPA on a free port, with its run directory in tmp."""

    def __init__(self, work: Path, bundle_url: str, **env: str) -> None:
        self.addr = f"127.0.0.1:{free_port()}"
        self.run_dir = work / "run"
        self.name = "opa-logs"
        self.log = self.run_dir / f"{self.name}.log"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SYMPHONY_") and k != "service_run_dir"
        }
        self.env = {
            **inherited,
            "SYMPHONY_RUN_DIR": str(self.run_dir),
            "SYMPHONY_OPA_ADDR": self.addr,
            "SYMPHONY_OPA_NAME": self.name,
            "SYMPHONY_BUNDLE_URL": bundle_url,
            "SYMPHONY_DATA_DIR": str(work / "data"),
            "SYMPHONY_PYTHON": sys.executable,
            **env,
        }

    def script(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "deploy/opa/start.sh", action],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self) -> None:
        for action in ("start", "ready"):
            done = self.script(action)
            assert done.returncode == 0, done.stdout + done.stderr

    def stop(self) -> None:
        self.script("stop")

    def query(self, path: str, opa_input: dict[str, Any]) -> str:
        """POST a query; the decision id OPA logged it under."""
        response = requests.post(
            f"http://{self.addr}/v1/data/{path}", json={"input": opa_input}, timeout=10
        )
        response.raise_for_status()
        decision_id: str = response.json()["decision_id"]
        return decision_id

    def entries(self) -> list[dict[str, Any]]:
        """Every line of the log and its rotations, oldest first, each parsed."""
        rotated = sorted(self.run_dir.glob(f"{self.name}.log.*"), key=lambda p: -int(p.suffix[1:]))
        lines = [line for f in [*rotated, self.log] for line in f.read_text().splitlines()]
        return [json.loads(line) for line in lines]

    def decision(self, decision_id: str) -> dict[str, Any]:
        """The decision-log entry with that id, once it is in the log."""
        deadline = time.monotonic() + 10
        while True:
            found = [e for e in self.entries() if e.get("decision_id") == decision_id]
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"{decision_id} not logged"
            time.sleep(0.05)


@pytest.fixture
def sidecar(tmp_path: Path, bundle_service: BundleService) -> Iterator[Sidecar]:
    sidecar = Sidecar(tmp_path, bundle_service.url, SYMPHONY_SIDECAR_KEY=SIDECAR_KEY)
    yield sidecar
    sidecar.stop()


def sinks_writing(log: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"logsink.py {log}"], capture_output=True, text=True)
    return found.stdout.split()


def test_the_decision_log_is_masked_kept_across_a_restart_and_polls_are_dropped(
    sidecar: Sidecar,
) -> None:
    sidecar.start()
    poll = sidecar.query("symphony/router/model_windows", {"now_ns": 1})
    first = sidecar.query("symphony/router/decision", PERSONAL_INPUT)
    entry = sidecar.decision(first)

    assert entry["path"] == "symphony/router/decision"
    assert entry["input"]["request"]["model"] == "[REDACTED_EMAIL] [REDACTED_NUMBER]"
    assert entry["input"]["client"] == {
        "name": "[REDACTED_EMAIL]",
        "roles": ["router"],
        "team": "platform",
    }
    # The decision's reason names the model the client asked for: masked there too.
    assert sorted(entry["masked"]) == [
        "/input/client/name",
        "/input/request/model",
        "/result/reasons/0/detail",
        "/result/reasons/0/model",
    ]
    assert entry["result"]["reasons"][0]["model"] == "[REDACTED_EMAIL] [REDACTED_NUMBER]"
    text = sidecar.log.read_text()
    assert "example.com" not in text and "4111 1111" not in text
    assert poll not in text

    sidecar.stop()
    assert sinks_writing(sidecar.log) == []
    before_restart = sidecar.log.read_bytes()
    sidecar.start()
    second = sidecar.query("symphony/router/decision", PERSONAL_INPUT)
    sidecar.decision(second)
    sidecar.stop()

    # Appended, not truncated: the first run's lines stay as they were, the second's follow.
    assert sidecar.log.read_bytes().startswith(before_restart)
    ids = [e.get("decision_id") for e in sidecar.entries()]
    assert ids.index(first) < ids.index(second)
    assert sinks_writing(sidecar.log) == []


def test_the_opa_log_rotates_at_the_configured_size(
    tmp_path: Path, bundle_service: BundleService
) -> None:
    sidecar = Sidecar(
        tmp_path,
        bundle_service.url,
        SYMPHONY_SIDECAR_KEY=SIDECAR_KEY,
        SYMPHONY_LOG_MAX_BYTES="4096",
        SYMPHONY_LOG_KEEP="2",
    )
    try:
        sidecar.start()
        ids = [sidecar.query("symphony/router/decision", PERSONAL_INPUT) for _ in range(12)]
        sidecar.decision(ids[-1])
    finally:
        sidecar.stop()
    rotated = sorted(p.name for p in sidecar.run_dir.glob("opa-logs.log.*"))
    assert rotated == ["opa-logs.log.1", "opa-logs.log.2"]
    for path in [sidecar.log, *sidecar.run_dir.glob("opa-logs.log.*")]:
        assert 0 < path.stat().st_size <= 4096
    kept = [e["decision_id"] for e in sidecar.entries() if e.get("decision_id") in ids]
    # The newest decisions, in order, none missing inside what the two rotations keep.
    assert len(kept) >= 4
    assert kept == ids[len(ids) - len(kept) :]


def test_the_sidecar_key_from_the_data_dir_authenticates_its_pulls(
    tmp_path: Path, bundle_service: BundleService
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sidecar.key").write_text(SIDECAR_KEY + "\n")
    sidecar = Sidecar(tmp_path, bundle_service.url)
    try:
        sidecar.start()
        eventually(lambda: len(bundle_service.authorizations) > 0)
    finally:
        sidecar.stop()
    assert set(bundle_service.authorizations) == {f"Bearer {SIDECAR_KEY}"}


def test_the_sidecar_does_not_start_without_a_key(
    tmp_path: Path, bundle_service: BundleService
) -> None:
    sidecar = Sidecar(tmp_path, bundle_service.url)
    done = sidecar.script("start")
    assert done.returncode == 1
    assert "no sidecar key" in done.stderr and "sidecar.key" in done.stderr
    assert not sidecar.log.exists()


CONFIGURED = """
import logging, sys
from flask.logging import default_handler
from app.logs import configure_logging

logging.basicConfig()
logging.getLogger("werkzeug").addHandler(logging.StreamHandler(sys.stderr))
logging.getLogger("app").addHandler(default_handler)
for _ in range(2):
    configure_logging(level="DEBUG", line_max=300, redact=lambda t: t.replace("s3cret", "[R]"))
log = logging.getLogger("symphony.test")
log.info("password s3cret for %s", "bob", extra={"audit_id": "run_1", "attempts": [1, 2]})
log.debug("long %s", "y" * 1000)
try:
    raise ValueError("s3cret in a traceback")
except ValueError:
    log.exception("failed")
logging.getLogger("werkzeug").info("werkzeug line")
logging.getLogger("gunicorn.error").warning("gunicorn line")
logging.getLogger("app").info("flask app line")
"""


def test_configure_logging_writes_one_capped_redacted_json_line_per_record() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CONFIGURED], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert all(len(line) <= 300 for line in lines)
    entries = [json.loads(line) for line in lines]
    assert all(TS.match(e.pop("ts")) for e in entries)
    info, debug, failure, werkzeug, gunicorn, flask_app = entries
    assert info == {
        "level": "INFO",
        "logger": "symphony.test",
        "msg": "password [R] for bob",
        "audit_id": "run_1",
        "attempts": [1, 2],
    }
    assert debug["truncated"] is True and debug["msg"].startswith("long yyy")
    assert debug["level"] == "DEBUG"
    assert failure["msg"] == "failed" and failure["level"] == "ERROR"
    assert (
        failure["exc"].startswith("Traceback")
        and "ValueError: [R] in a traceback" in failure["exc"]
    )
    assert (werkzeug["logger"], werkzeug["msg"]) == ("werkzeug", "werkzeug line")
    assert (gunicorn["logger"], gunicorn["level"]) == ("gunicorn.error", "WARNING")
    assert (flask_app["logger"], flask_app["msg"]) == ("app", "flask app line")


TINY_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def test_gunicorn_error_and_access_logs_are_json_lines(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(TINY_APP)
    port = free_port()
    output = tmp_path / "gunicorn.log"
    with output.open("wb") as sink:
        server = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--logger-class",
                "app.logs.GunicornLogger",
                "--access-logfile",
                "-",
                "--pythonpath",
                str(tmp_path),
                "tiny:app",
            ],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ready", proc=server)
        response = requests.get(f"http://127.0.0.1:{port}/hello?token=sk-not-for-logs", timeout=5)
        assert response.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    entries = [json.loads(line) for line in output.read_text().splitlines()]
    errors = [e["msg"] for e in entries if e["logger"] == "gunicorn.error"]
    assert any(msg.startswith("Starting gunicorn") for msg in errors)
    assert any(msg.startswith("Booting worker") for msg in errors)
    hello = [e for e in entries if e["logger"] == "gunicorn.access" and e["path"] == "/hello"]
    assert len(hello) == 1
    assert hello[0]["method"] == "GET" and hello[0]["status"] == 200
    assert hello[0]["msg"] == "GET /hello 200" and hello[0]["bytes"] == 2
    assert "sk-not-for-logs" not in output.read_text()
