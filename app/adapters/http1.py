"""A lean keep-alive HTTP/1.1 client connection for the hot path: decisions from the OPA
sidecar and calls to upstreams.

http.client costs ~0.1 ms of CPU per exchange on this path (its header validation per
`putheader`, and `email.parser` for every response's headers); this connection sends a
request head its caller built and checked once, in one `sendall` with the body, and reads
the status line and headers with the socket file's C `readline`. Bodies are read by
Content-Length, chunked transfer coding or (HTTP/1.0 style) until the server closes.
Errors are the standard library's: `OSError` (including `TimeoutError`) from the socket,
`http.client.HTTPException` subclasses for a malformed or cut answer.

Waiting for an answer (ANSWER_WAIT): under gevent, a request sent by the only call waiting
for an answer in the worker polls for that answer, yielding to the event loop between two
polls, for at most `SYMPHONY_ANSWER_SPIN_US` (1 ms) before parking on the socket. Parked, the
worker's CPU idles and its wake-up when the answer lands costs 0.1-0.2 ms per request on this
machine's virtual CPUs (the decision query and a fast upstream each pay it); polling, the
event loop keeps turning, so other greenlets still run. With more than one call waiting, the
worker has work and the calls park as before, so polling spends only CPU the worker would
otherwise leave idle. Plain TCP only (TLS answers park at once).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from io import BufferedReader
from typing import TypeVar

T = TypeVar("T")
MAX_LINE = 65536
MAX_HEADERS = 100
_NO_BODY_STATUSES = frozenset({204, 304})
_FORBIDDEN = frozenset("\r\n\0")


def request_head(method: str, target: str, host: str, headers: dict[str, str]) -> bytes:
    """The request line and fixed headers, checked once; `Content-Length` is added per call."""
    for text in (method, target, host, *headers, *headers.values()):
        if _FORBIDDEN & set(text):
            raise ValueError(f"control character in HTTP request head: {text!r}")
    if " " in target or " " in method:
        raise ValueError(f"space in HTTP request line: {method} {target}")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def host_header(host: str, port: int, default_port: int) -> str:
    """`Host` as a client sends it: the port only when it is not the scheme's default."""
    name = f"[{host}]" if ":" in host else host
    return name if port == default_port else f"{name}:{port}"


class Response:
    """One answer; its body must be read to the end before the connection is used again."""

    def __init__(self, reader: BufferedReader, method: str) -> None:
        self._fp = reader
        version = self._status(first=True)
        while 100 <= self.status < 200 and self.status != 101:
            version = self._status(first=False)  # an interim answer (100 Continue) came first
        connection = self.headers.get("connection", "").lower()
        self.will_close = "close" in connection or (
            version == b"HTTP/1.0" and "keep-alive" not in connection
        )
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._chunk_left = 0
        self._done = False
        self._left: int | None = None
        if method == "HEAD" or self.status in _NO_BODY_STATUSES:
            self._done = True
        elif not self._chunked:
            length = self.headers.get("content-length")
            if length is None:
                self.will_close = True  # the body ends when the server closes
            elif length.strip().isdigit():
                self._left = int(length)
                self._done = self._left == 0
            else:
                raise http.client.HTTPException(f"bad Content-Length: {length!r}")

    def _status(self, first: bool) -> bytes:
        """Read a status line and its headers; the HTTP version."""
        line = self._line()
        if not line and first:
            raise http.client.RemoteDisconnected("connection closed before an answer")
        version, _, rest = line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(repr(line))
        self.status = int(code)
        self.reason = reason.strip().decode("latin-1")
        self.headers = self._read_headers()
        return version

    def _line(self) -> bytes:
        line = self._fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def _read_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        name = ""
        for _ in range(MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n"):
                return headers
            if not line:
                raise http.client.RemoteDisconnected("connection closed in the headers")
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and name:  # obsolete line folding
                headers[name] += " " + text.strip()
                continue
            key, sep, value = text.partition(":")
            if not sep:
                raise http.client.HTTPException(f"malformed header line: {text!r}")
            name = key.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise http.client.HTTPException(f"more than {MAX_HEADERS} headers")

    def getheader(self, name: str, default: str | None = None) -> str | None:
        """A header by name (any case); repeated headers joined by commas."""
        return self.headers.get(name.lower(), default)

    @property
    def finished(self) -> bool:
        """Whether the whole body has been read."""
        return self._done

    def read(self, limit: int | None = None) -> bytes:
        """The rest of the body, or at most `limit` bytes of it."""
        if self._done:
            return b""
        if self._chunked:
            parts: list[bytes] = []
            want = limit
            while not self._done and (want is None or want > 0):
                if self._chunk_left == 0 and not self._next_chunk():
                    break
                take = self._chunk_left if want is None else min(want, self._chunk_left)
                parts.append(self._exact(take))
                self._chunk_left -= take
                if want is not None:
                    want -= take
                if self._chunk_left == 0:
                    self._end_chunk()
            return b"".join(parts)
        if self._left is None:
            data: bytes = self._fp.read() if limit is None else self._fp.read(limit)
            if limit is None or not data:
                self._done = True
            return data
        take = self._left if limit is None else min(limit, self._left)
        data = self._exact(take)
        self._left -= take
        self._done = self._left == 0
        return data

    def readline(self) -> bytes:
        """The next line of the body with its line end, however long; b"" at the end."""
        parts: list[bytes] = []
        while not self._done:
            if self._chunked:
                if self._chunk_left == 0 and not self._next_chunk():
                    break
                room = self._chunk_left
            else:
                room = MAX_LINE if self._left is None else self._left
            piece: bytes = self._fp.readline(min(room, MAX_LINE))
            if not piece:
                if self._left is None and not self._chunked:
                    self._done = True  # the server closed: the body ends here
                    break
                raise http.client.IncompleteRead(b"".join(parts), room)
            parts.append(piece)
            if self._chunked:
                self._chunk_left -= len(piece)
                if self._chunk_left == 0:
                    self._end_chunk()
            elif self._left is not None:
                self._left -= len(piece)
                self._done = self._left == 0
            if piece.endswith(b"\n"):
                break
        return b"".join(parts)

    def _exact(self, count: int) -> bytes:
        data: bytes = self._fp.read(count) if count else b""
        if len(data) < count:
            raise http.client.IncompleteRead(data, count - len(data))
        return data

    def _next_chunk(self) -> bool:
        """Read the next chunk's size; False (and the trailers read) at the last one."""
        line = self._line()
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise http.client.IncompleteRead(b"") from None
        if size == 0:
            self._read_headers()  # trailers
            self._done = True
            return False
        self._chunk_left = size
        return True

    def _end_chunk(self) -> None:
        if self._exact(2) != b"\r\n":
            raise http.client.HTTPException("chunk not followed by CRLF")


class AnswerWait:
    """How a request waits for its answer (see the module docstring)."""

    def __init__(self) -> None:
        self.spin_s = 0.0  # set by the application from SYMPHONY_ANSWER_SPIN_US
        self._waiting = 0  # calls between their send and their answer's head (gevent only)

    def cooperative(self, sock: socket.socket) -> bool:
        """Whether `sock` is a gevent socket (the worker's standard library is patched)."""
        return type(sock).__module__.startswith("gevent.")

    def answer(self, sock: socket.socket, read: Callable[[], T]) -> T:
        """`read()` (which parks on `sock` until the answer's head is in), after polling for
        the answer while no other call waits."""
        self._waiting += 1
        try:
            if self._waiting == 1 and self.spin_s > 0:
                self._poll(sock)
            return read()
        finally:
            self._waiting -= 1

    def _poll(self, sock: socket.socket) -> None:
        import gevent  # type: ignore[import-untyped]  # only under gevent (cooperative sockets)

        raw: socket.socket = getattr(sock, "_sock", sock)
        deadline = time.perf_counter() + self.spin_s
        while True:
            try:
                raw.recv(1, _PEEK)  # bytes, or b"" when the server closed: either way, read
                return
            except BlockingIOError:
                pass
            except OSError:
                return  # the read reports it
            if time.perf_counter() >= deadline:
                return
            gevent.idle()  # one turn of the event loop: other greenlets run first


_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT
ANSWER_WAIT = AnswerWait()


class Connection:
    """One keep-alive connection to `host:port`, optionally TLS, optionally through an
    HTTP proxy's CONNECT tunnel (then `host:port` is the proxy and `tunnel` the origin)."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        tunnel: tuple[str, int] | None = None,
        proxy_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._timeout = timeout
        self._tls = tls
        self._tunnel = tunnel
        self._proxy_tls = proxy_tls
        self.sock: socket.socket | None = None
        self._reader: BufferedReader | None = None

    def connect(self) -> None:
        """Open the socket (and the tunnel and TLS, when asked)."""
        sock: socket.socket = socket.create_connection((self.host, self.port), self._timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._proxy_tls is not None:
                sock = self._proxy_tls.wrap_socket(sock, server_hostname=self.host)
            server_name = self.host
            if self._tunnel is not None:
                server_name = self._tunnel[0]
                self._open_tunnel(sock, *self._tunnel)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=server_name)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._reader = sock.makefile("rb")

    @staticmethod
    def _open_tunnel(sock: socket.socket, host: str, port: int) -> None:
        authority = host_header(host, port, -1)
        sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        reader = sock.makefile("rb")
        try:
            answer = Response(reader, "CONNECT")
        finally:
            reader.close()
        if answer.status != 200:
            raise OSError(f"tunnel to {authority} refused: {answer.status} {answer.reason}")

    def settimeout(self, seconds: float) -> None:
        """The timeout of every later read and write."""
        if self.sock is not None:
            self.sock.settimeout(seconds)

    def request(self, method: str, head: bytes, body: bytes | None) -> Response:
        """Send `head` (from request_head) and the body in one write; read the answer's head."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None and self._reader is not None
        length = b"" if body is None and method in ("GET", "HEAD") else b"%d" % len(body or b"")
        framing = b"Content-Length: " + length + b"\r\n\r\n" if length else b"\r\n"
        self.sock.sendall(head + framing + (body or b""))
        reader = self._reader
        if self._tls is None and self._proxy_tls is None and ANSWER_WAIT.cooperative(self.sock):
            return ANSWER_WAIT.answer(self.sock, lambda: Response(reader, method))
        return Response(reader, method)

    def close(self) -> None:
        """Close the socket; the connection can connect again."""
        reader, self._reader = self._reader, None
        sock, self.sock = self.sock, None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close()
