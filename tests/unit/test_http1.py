"""The lean HTTP/1.1 client connection against a scripted server speaking raw bytes: every
framing the hot path can meet (length, chunked, close-delimited, interim answers), keep-alive
reuse, a CONNECT tunnel, and the standard library's errors for broken answers."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.adapters import http1


@dataclass
class Scripted:
    """A scripted server: reads each request (head and Content-Length body) and writes the
    next answer; None as an answer closes the connection instead, and so does the last one."""

    answers: list[bytes | None]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed by the test's end
                return
            self.connections += 1
            with conn:
                buffer = b""
                while self.answers:
                    while b"\r\n\r\n" not in buffer:
                        data = conn.recv(65536)
                        if not data:
                            break
                        buffer += data
                    if b"\r\n\r\n" not in buffer:
                        break
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                    buffer = buffer[length:]
                    answer = self.answers.pop(0)
                    if answer is None:
                        break
                    conn.sendall(answer)
        self._listener.close()

    def close(self) -> None:
        """Stop accepting (the thread ends once its answers are used up)."""
        self.answers.clear()
        self._listener.close()


@pytest.fixture
def server() -> Iterator[list[Scripted]]:
    made: list[Scripted] = []
    yield made
    for one in made:
        one.close()


def scripted(made: list[Scripted], *answers: bytes | None) -> Scripted:
    one = Scripted(list(answers))
    made.append(one)
    return one


HEAD = http1.request_head("POST", "/v1/x", "example.test", {"Content-Type": "application/json"})


def test_request_is_one_head_and_body_and_the_connection_is_kept(
    server: list[Scripted],
) -> None:
    one = scripted(
        server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nhi",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    )
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    first = connection.request("POST", HEAD, b'{"a":1}')
    assert (first.status, first.reason, first.read(), first.finished) == (200, "OK", b"hi", True)
    assert first.getheader("X-A") == "1, 2" and not first.will_close
    second = connection.request("POST", HEAD, b"")
    assert (second.status, second.read()) == (404, b"")
    connection.close()
    assert one.connections == 1
    assert one.requests[0] == (
        b"POST /v1/x HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\n"
        b'Content-Length: 7\r\n\r\n{"a":1}'
    )
    assert one.requests[1].endswith(b"Content-Length: 0\r\n\r\n")


def test_chunked_body_by_read_and_by_lines_across_chunks(server: list[Scripted]) -> None:
    body = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"7;ext=1\r\ndata: a\r\n3\r\n\nda\r\n8\r\nta: bb\n\n\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    one = scripted(server, body, body)
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    whole = connection.request("POST", HEAD, b"")
    assert whole.read() == b"data: a\ndata: bb\n\n" and whole.finished
    lines = connection.request("POST", HEAD, b"")
    got = []
    while line := lines.readline():
        got.append(line)
    assert got == [b"data: a\n", b"data: bb\n", b"\n"] and lines.finished
    connection.close()
    assert one.connections == 1


def test_read_with_a_limit_then_the_rest(server: list[Scripted]) -> None:
    one = scripted(
        server,
        b"HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n",
    )
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    answer = connection.request("POST", HEAD, b"")
    assert answer.read(4) == b"0123" and not answer.finished
    assert answer.read() == b"456789" and answer.finished
    chunked = connection.request("POST", HEAD, b"")
    assert chunked.read(5) == b"abcde" and chunked.read() == b"f" and chunked.finished
    connection.close()


def test_close_delimited_and_http_1_0_answers_close_the_connection(
    server: list[Scripted],
) -> None:
    one = scripted(server, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nline 1\nline 2")
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    answer = connection.request("GET", http1.request_head("GET", "/", "h", {}), None)
    assert answer.will_close
    assert answer.readline() == b"line 1\n"
    assert answer.read() == b"line 2" and answer.finished
    connection.close()
    assert one.requests[0] == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize("framing", ["length", "close", "chunked"])
def test_lines_longer_than_a_header_line_come_whole(server: list[Scripted], framing: str) -> None:
    long_line = b"data: " + b"x" * 140_000 + b"\n"
    body = long_line + b"end\n"
    head = {
        "length": b"Content-Length: %d\r\n" % len(body),
        "close": b"Connection: close\r\n",
        "chunked": b"Transfer-Encoding: chunked\r\n",
    }[framing]
    if framing == "chunked":
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    one = scripted(server, b"HTTP/1.1 200 OK\r\n" + head + b"\r\n" + body)
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    answer = connection.request("POST", HEAD, b"")
    assert answer.readline() == long_line
    assert answer.readline() == b"end\n"
    assert answer.readline() == b"" and answer.finished
    connection.close()


def test_connection_close_header_and_interim_answer(server: list[Scripted]) -> None:
    one = scripted(
        server,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    )
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    answer = connection.request("POST", HEAD, b"x")
    assert (answer.status, answer.will_close, answer.finished, answer.read()) == (
        204,
        True,
        True,
        b"",
    )
    connection.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (None, http.client.RemoteDisconnected),
        (b"SMTP ready\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 2OO OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", http.client.LineTooLong),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", http.client.HTTPException),
    ],
)
def test_broken_answers_raise_the_standard_errors(
    server: list[Scripted], answer: bytes | None, error: type[Exception]
) -> None:
    one = scripted(server, answer)
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    with pytest.raises(error):
        connection.request("POST", HEAD, b"")
    connection.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n9\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
    ],
)
def test_a_cut_body_is_an_incomplete_read(server: list[Scripted], answer: bytes) -> None:
    one = scripted(server, answer)
    connection = http1.Connection("127.0.0.1", one.port, 5.0)
    response = connection.request("POST", HEAD, b"")
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_a_silent_server_times_out(server: list[Scripted]) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        connection = http1.Connection("127.0.0.1", listener.getsockname()[1], 0.2)
        with pytest.raises(TimeoutError):
            connection.request("POST", HEAD, b"")
        connection.close()
    finally:
        listener.close()


def test_connect_tunnel_carries_the_request_to_the_origin(server: list[Scripted]) -> None:
    proxy = scripted(
        server,
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes",
    )
    connection = http1.Connection("127.0.0.1", proxy.port, 5.0, tunnel=("upstream.test", 8443))
    head = http1.request_head("POST", "/v1/chat", "upstream.test:8443", {})
    assert connection.request("POST", head, b"{}").read() == b"yes"
    connection.close()
    assert proxy.requests[0] == (
        b"CONNECT upstream.test:8443 HTTP/1.1\r\nHost: upstream.test:8443\r\n\r\n"
    )
    assert proxy.requests[1].startswith(b"POST /v1/chat HTTP/1.1\r\nHost: upstream.test:8443\r\n")


def test_a_refused_tunnel_is_an_os_error(server: list[Scripted]) -> None:
    proxy = scripted(server, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", None)
    connection = http1.Connection("127.0.0.1", proxy.port, 5.0, tunnel=("upstream.test", 443))
    with pytest.raises(OSError, match="407"):
        connection.connect()
    connection.close()


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("POST", "/x\r\nInjected: 1", {}),
        ("POST", "/x y", {}),
        ("POST", "/x", {"X-Key": "value\r\nInjected: 1"}),
        ("GET /", "/x", {}),
    ],
)
def test_request_heads_refuse_control_characters_and_spaces(
    method: str, target: str, headers: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        http1.request_head(method, target, "h", headers)


def test_host_header_names_the_port_only_when_not_the_default() -> None:
    assert http1.host_header("a.test", 80, 80) == "a.test"
    assert http1.host_header("a.test", 8080, 80) == "a.test:8080"
    assert http1.host_header("::1", 8181, 80) == "[::1]:8181"


def test_tls_checks_the_certificate_and_the_host_name(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            try:
                with server_side.wrap_socket(conn, server_side=True) as tls:
                    request = b""
                    while not request.endswith(b"\r\n\r\n"):
                        request += tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
            except (ssl.SSLError, OSError):
                continue  # the client refused the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    trusted = ssl.create_default_context(cafile=str(cert))
    head = http1.request_head("GET", "/", "localhost", {})
    connection = http1.Connection("localhost", port, 5.0, tls=trusted)
    assert connection.request("GET", head, None).read() == b"secret"
    connection.close()
    # The system's roots do not know the certificate: the handshake fails, nothing is read.
    stranger = http1.Connection("localhost", port, 5.0, tls=ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.connect()
    stranger.close()
    thread.join(timeout=5)
    listener.close()
