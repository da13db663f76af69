"""The proxy's server parses requests with gunicorn's C parser, under the same limits.

`symphony serve` passes `--http-parser fast` (app/serving.py): the worker must have loaded
gunicorn_h1c, and an oversized request line, too many headers, an oversized header or a
malformed one must be refused before any application code runs, with the answer gunicorn's
pure-Python parser gives. Both servers run the proxy's worker class over a tiny WSGI app.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.serving import serve_argv
from app.settings import Settings
from tests.support.processes import ROOT, VENV_BIN, free_port, wait_until_up

TINY_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def _serve(work: Path, parser: str | None) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = serve_argv(Settings.from_env({}), f"127.0.0.1:{port}", 2, "tiny:app")
    if parser is not None:
        argv[argv.index("--http-parser") + 1] = parser
    argv[-1:-1] = ["--pythonpath", str(work)]
    with (work / f"server-{port}.log").open("wb") as sink:
        proc = subprocess.Popen(
            [str(VENV_BIN / "python"), *argv], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT
        )
    return proc, port


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, int]]]:
    """{"proxy": (port, worker pid) as symphony serve runs it, "python": the same with
    gunicorn's pure-Python parser}."""
    work = tmp_path_factory.mktemp("parser")
    (work / "tiny.py").write_text(TINY_APP)
    started: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, parser in (("proxy", None), ("python", "python")):
            started[name] = _serve(work, parser)
        found = {}
        for name, (proc, port) in started.items():
            wait_until_up(f"http://127.0.0.1:{port}/ready", proc=proc)
            workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            assert len(workers) == 1, workers
            found[name] = (port, int(workers[0]))
        yield found
    finally:
        for proc, _ in started.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _ in started.values():
            proc.wait(timeout=30)


def _exchange(port: int, head: bytes) -> bytes:
    """The whole answer to `head` (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_the_worker_parses_with_the_c_parser(servers: dict[str, tuple[int, int]]) -> None:
    for name, (port, worker) in servers.items():
        assert requests.get(f"http://127.0.0.1:{port}/hello", timeout=5).text == "ok"
        loaded = "gunicorn_h1c" in Path(f"/proc/{worker}/maps").read_text()
        assert loaded == (name == "proxy"), name


@pytest.mark.parametrize(
    "head",
    [
        # Over gunicorn's 4094-byte line limit, but within one 8 KiB read: the server reads the
        # whole request before it answers and closes (unread bytes would reset the answer).
        pytest.param(b"GET /" + b"a" * 4200 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="request-line"),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(120))
            + b"\r\n",
            id="header-count",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n", id="header-size"
        ),
        pytest.param(b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", id="header-name"),
    ],
)
def test_requests_over_the_limits_are_refused_as_before(
    servers: dict[str, tuple[int, int]], head: bytes
) -> None:
    status = {
        name: _exchange(port, head).split(b"\r\n", 1)[0] for name, (port, _) in servers.items()
    }
    assert status["proxy"] == status["python"], status
    assert re.fullmatch(rb"HTTP/1\.1 4\d\d .+", status["proxy"]), status
