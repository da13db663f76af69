"""RequestMetrics counts the HTTP series exactly as prometheus-flask-exporter's defaults do.

Two small Flask apps get the same hooks in the same places (an access-control-like
before-request hook first, which answers 401 without a key) and the same requests; one is
counted by the exporter's `export_defaults` (as the proxy used it: `group_by=path`, the same
excluded paths), the other by RequestMetrics. Their `flask_http_request_*` series must agree
in names, label sets and counts (durations differ by nature: only their counts are compared).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response, abort, jsonify, request
from prometheus_client import CollectorRegistry, Counter
from prometheus_flask_exporter import PrometheusMetrics

from app.metrics import Children, RequestMetrics, path

HTTP_SERIES = (
    "flask_http_request_duration_seconds",
    "flask_http_request_total",
    "flask_http_request_exceptions_total",
)


def _app(count: Any) -> tuple[Flask, CollectorRegistry]:
    app = Flask(__name__)
    registry = CollectorRegistry()

    @app.before_request
    def _guard() -> Any:
        if request.path.startswith("/private") and "Authorization" not in request.headers:
            return jsonify(error="unauthenticated"), 401
        return None

    @app.get("/items/<item>")
    def item(item: str) -> Any:
        return jsonify(item=item)

    @app.post("/items")
    def create() -> Any:
        return jsonify(created=True), 201

    @app.get("/private/thing")
    def private() -> Any:
        return jsonify(ok=True)

    @app.get("/broken")
    def broken() -> Any:
        raise RuntimeError("boom")

    @app.get("/gone")
    def gone() -> Any:
        abort(410)

    @app.get("/assets/<name>")
    def asset(name: str) -> Any:
        return Response(name)

    @app.get("/opa/bundle")
    def bundle() -> Any:
        return Response("tar")

    count(app, registry)
    return app, registry


def _exporter(app: Flask, registry: CollectorRegistry) -> None:
    PrometheusMetrics(
        app,
        registry=registry,
        group_by=path,
        default_labels={},
        excluded_paths=["^/metrics$", "^/assets/", "^/opa/"],
    )


def _ours(app: Flask, registry: CollectorRegistry) -> None:
    PrometheusMetrics(app, registry=registry, default_labels={}, export_defaults=False)
    RequestMetrics(registry).init_app(app)


def _traffic(app: Flask) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.get("/items/a").status_code == 200
    assert client.get("/items/b").status_code == 200
    assert client.post("/items").status_code == 201
    assert client.get("/private/thing").status_code == 401
    assert client.get("/private/thing", headers={"Authorization": "k"}).status_code == 200
    if app.testing:
        with pytest.raises(RuntimeError, match="boom"):
            client.get("/broken")
    else:
        assert client.get("/broken").status_code == 500
    assert client.get("/gone").status_code == 410
    assert client.get("/nowhere").status_code == 404
    assert client.delete("/items/a").status_code == 405
    assert client.get("/assets/app.js").status_code == 200
    assert client.get("/opa/bundle").status_code == 200
    assert client.get("/metrics").status_code == 200


def _series(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in registry.collect():
        if family.name not in HTTP_SERIES and family.name + "_total" not in HTTP_SERIES:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_sum", "_created")):
                continue  # durations and creation times differ by nature
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.mark.parametrize(
    ("held_context", "propagate"),
    [(False, False), (True, True)],
    ids=["per-request", "held-app-context-propagating"],
)
def test_request_metrics_count_what_the_exporter_counts(
    held_context: bool, propagate: bool
) -> None:
    """held-app-context-propagating: one application context (one `g`) around all the
    requests, as a test or a script may hold, and the exception of /broken propagated (no
    after-request hook runs for it): each request must still be counted on its own."""
    theirs_app, theirs = _app(_exporter)
    ours_app, ours = _app(_ours)
    for app in (theirs_app, ours_app):
        app.testing = propagate  # else /broken answers 500 rather than raising
        if held_context:
            with app.app_context():
                _traffic(app)
        else:
            _traffic(app)

    expected = _series(theirs)
    got = _series(ours)
    assert got == expected
    # The traffic reached every rule the comparison is about.
    total = {labels: value for (name, labels), value in got.items() if name.endswith("_total")}
    assert total[(("method", "GET"), ("status", "500"))] == 1
    assert total[(("method", "GET"), ("status", "401"))] == 1
    assert (
        got[
            (
                "flask_http_request_duration_seconds_count",
                (("method", "GET"), ("path", "/items/<item>"), ("status", "200")),
            )
        ]
        == 4
    )
    assert not any(
        dict(labels).get("path", "").startswith(("/assets", "/opa", "/metrics"))
        for _, labels in got
    )


def test_children_are_looked_up_once_and_bounded() -> None:
    registry = CollectorRegistry()
    counter = Counter("things", "things", ["kind"], registry=registry)
    children = Children(counter, limit=2)
    first = children("a")
    assert children("a") is first
    children("a").inc()
    children("b").inc()
    children("c").inc()  # past the limit: the memo starts over, the series stay
    children("a").inc()
    assert registry.get_sample_value("things_total", {"kind": "a"}) == 2
    assert registry.get_sample_value("things_total", {"kind": "b"}) == 1
    assert registry.get_sample_value("things_total", {"kind": "c"}) == 1


@pytest.mark.parametrize("path_", ["/metrics", "/assets/x.js", "/opa/bundles/symphony.tar.gz"])
def test_untracked_paths(path_: str) -> None:
    assert not RequestMetrics._tracked(path_)
