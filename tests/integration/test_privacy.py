"""A canary gateway key and personal data through every path: execute, stream, the OpenAI
door, an upstream 401 echoing them, fallbacks. None of it may appear in any response, run
report, store row, log line (proxy and OPA decision log), metric or websocket message."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import simple_websocket
from requests import Response

from tests.integration.conftest import traffic_policy
from tests.support.keys import ADMIN_KEY, api, bearer
from tests.support.stack import Stack, running_stack

CANARY = "sk-canary-" + secrets.token_hex(16)
EMAIL = "ada.lovelace@example.org"
CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7canary"
PEM = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----"
PROMPT = f"I am {EMAIL}, card {CARD}, SSN {SSN}, my key:\n{PEM}"
SECRETS = (CANARY, EMAIL, CARD, CARD.replace(" ", ""), SSN, PEM_BODY)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("privacy"),
        traffic_policy(),
        SYMPHONY_GATEWAY_KEY=CANARY,
        SYMPHONY_STORE_CONTENT="redacted",
    ) as running:
        running.upstream.api_key = CANARY
        yield running


class Listener:
    """Every websocket message the dashboard would receive, collected in a thread."""

    def __init__(self, stack: Stack) -> None:
        url = stack.url.replace("http://", "ws://") + "/events"
        self.ws = simple_websocket.Client.connect(url, headers=bearer())
        self.messages: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                message = self.ws.receive(timeout=30)
                if message is None:
                    return
                self.messages.append(str(message))
        except simple_websocket.ConnectionClosed:
            return

    def close(self) -> None:
        self.ws.close()
        self.thread.join(timeout=10)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_nothing_sent_or_echoed_leaves_the_proxy(stack: Stack) -> None:
    upstream = stack.upstream
    listener = Listener(stack)
    answers: list[Response] = []
    body: dict[str, Any] = {"task": "qa", "loa": 1, "input": PROMPT}
    try:
        # Served normally (the stand-in's fixed reply) and streamed.
        upstream.ok("alpha", text="noted.")
        answers.append(api().post(f"{stack.url}/route/execute", json=body, timeout=30))
        streamed = api().post(
            f"{stack.url}/route/execute", json={**body, "stream": True}, timeout=30
        )
        answers.append(streamed)
        # The preferred model answers 429 echoing key and prompt; the fallback serves.
        upstream.update("alpha", status=429, retry_after=None, echo_in_errors=True)
        upstream.ok("beta", text="fallback done.")
        fell_back = api().post(f"{stack.url}/route/execute", json=body, timeout=30)
        answers.append(fell_back)
        assert fell_back.json()["model"] == "hosted/beta"
        # A 401 echoing them: not retryable, so the client gets the (redacted) attempts.
        upstream.update("alpha", status=401, echo_in_errors=True)
        refused = api().post(f"{stack.url}/route/execute", json=body, timeout=30)
        answers.append(refused)
        assert refused.status_code == 502
        assert "rejected" in refused.json()["attempts"][0]["detail"]
        answers.append(
            api().post(f"{stack.url}/route/execute", json={**body, "stream": True}, timeout=30)
        )
        # The OpenAI front door, and a model name carrying personal data.
        upstream.restore("alpha")
        client = openai.OpenAI(
            base_url=f"{stack.url}/v1",
            api_key=ADMIN_KEY,
            max_retries=0,
            default_headers={"X-Symphony-Task": "qa"},
        )
        reply = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": PROMPT}]
        )
        assert reply.choices[0].message.content
        answers.append(
            api().post(
                f"{stack.url}/route/plan",
                json={"task": "qa", "loa": 1, "model": f"{EMAIL}"},
                timeout=30,
            )
        )
        with pytest.raises(openai.APIStatusError) as denied:
            client.chat.completions.create(
                model=EMAIL, messages=[{"role": "user", "content": PROMPT}]
            )
        assert not leaks(str(denied.value.response.text))
    finally:
        upstream.restore("alpha")
        upstream.restore("beta")
        listener.close()

    for answer in answers:
        assert answer.status_code < 500 or answer.status_code == 502
        assert not leaks(answer.text), answer.text[:500]
        assert not leaks(json.dumps(dict(answer.headers)))
    assert listener.messages, "the websocket received nothing"
    assert not leaks("\n".join(listener.messages))
    metrics = api().get(f"{stack.url}/metrics", timeout=10).text
    assert not leaks(metrics)
    audit_ids = [
        a.headers["X-Symphony-Audit-Id"] for a in answers if "X-Symphony-Audit-Id" in a.headers
    ]
    assert len(audit_ids) >= 4
    for audit_id in audit_ids:
        report = api().get(f"{stack.url}/runs/{audit_id}", timeout=10)
        assert report.status_code == 200
        assert not leaks(report.text), report.text[:500]
    # The store itself, every table, byte for byte.
    database = stack.data_dir / "symphony.db"
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = "\n".join(
            json.dumps(row, default=str)
            for table in tables
            for row in conn.execute(f'SELECT * FROM "{table}"')
        )
    assert "[REDACTED_EMAIL]" in dump  # the redacted prompt is there, as configured
    assert not leaks(dump)
    assert CANARY.encode() not in database.read_bytes()
    # Logs: the proxy's (JSON lines) and OPA's decision log.
    logs = sorted((stack.proxy.log_path.parent).glob("*.log"))
    proxy_log = stack.proxy.log()
    assert '"logger"' in proxy_log  # JSON lines from the one logging configuration
    opa_log = stack.opa.log()
    assert '"decision_id"' in opa_log
    for path in logs:
        assert not leaks(path.read_text(errors="replace")), path.name


def test_the_gateway_key_never_follows_a_redirect(tmp_path: Path) -> None:
    """An upstream answering 307 to another host: the key must not travel there."""
    from tests.support.upstream import UpstreamServer

    with UpstreamServer(models=("alpha",)) as elsewhere:
        seen: list[dict[str, str]] = []

        def redirecting(target: str) -> Any:
            import http.server

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self) -> None:
                    seen.append(dict(self.headers.items()))
                    self.send_response(307)
                    self.send_header("Location", f"{target}/v1/chat/completions")
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                def log_message(self, format: str, *args: Any) -> None:
                    pass

            return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

        server = redirecting(elsewhere.url.removesuffix("/v1"))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            from app.adapters.gateway import HttpGateway
            from app.core.ports import ChatCall, GatewayFailure

            gateway = HttpGateway(CANARY, 2.0, 5.0)
            call = ChatCall(
                base_url=f"http://127.0.0.1:{server.server_port}/v1",
                upstream_model="alpha",
                messages=({"role": "user", "content": "hi"},),
                max_tokens=16,
                temperature=None,
                stream=False,
            )
            with pytest.raises(GatewayFailure) as failure:
                gateway.complete(call)
            assert failure.value.outcome == "http_3xx"
        finally:
            server.shutdown()
            server.server_close()
        assert seen and seen[0]["Authorization"] == f"Bearer {CANARY}"
        assert elsewhere.requests == []
