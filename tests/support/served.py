"""Serving an app built in the test process over real HTTP, so its OPA sidecar can pull."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from tests.support.processes import Service, start_opa


@contextmanager
def serve(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="served-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        app.extensions["symphony"].bundles.stop()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def with_sidecar(app: Flask, opa_port: int, log_dir: Path) -> Iterator[Service]:
    """Serve `app` and start its own OPA sidecar on `opa_port`, pulling from it."""
    with serve(app) as url:
        service = start_opa(log_dir, url, port=opa_port)
        try:
            yield service
        finally:
            service.stop()
