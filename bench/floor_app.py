"""The floor of the hot path: a Flask app that does nothing but one trivial OPA query per
request over a keep-alive http.client connection (bench/hotpath.py serves it the way
`symphony serve` serves the proxy)."""

from __future__ import annotations

import http.client
import json
import os
import threading
from urllib.parse import urlsplit

from flask import Flask, Response

QUERY = "/v1/data/symphony/router/decision/allow"


def create() -> Flask:
    """The app; OPA's address from FLOOR_OPA_URL."""
    parts = urlsplit(os.environ["FLOOR_OPA_URL"])
    idle: list[http.client.HTTPConnection] = []
    lock = threading.Lock()
    app = Flask(__name__)

    @app.get("/ping")
    def ping() -> str:
        return "ok"

    @app.post("/floor")
    def floor() -> Response:
        with lock:
            connection = idle.pop() if idle else None
        if connection is None:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        connection.request("POST", QUERY, b'{"input": {}}', {"Content-Type": "application/json"})
        answer = connection.getresponse().read()
        with lock:
            idle.append(connection)
        return Response(json.dumps({"opa": json.loads(answer)}), mimetype="application/json")

    return app
