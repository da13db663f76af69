"""The one JSON error shape every 4xx/5xx uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from app.core.counters import CounterStoreUnavailable
from app.core.execution import RunStoreUnavailable
from app.core.ports import EvaluationFailed
from app.core.validation import FieldError


class ApiError(Exception):
    """An error answered as JSON: `{"error": code, "message": ..., "errors": [...]}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: Sequence[FieldError] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = list(errors)
        self.extra = extra or {}
        self.headers = headers or {}


def json_error(
    status: int,
    code: str,
    message: str,
    errors: Sequence[FieldError] = (),
    extra: dict[str, Any] | None = None,
) -> tuple[Response, int]:
    """Build the JSON error response (OpenAI's error object under /v1/)."""
    if has_request_context() and request.path.startswith(OPENAI_PREFIX):
        return jsonify(openai_error_body(status, code, message, errors, extra)), status
    body: dict[str, Any] = {"error": code, "message": message}
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    if extra:
        body.update(extra)
    return jsonify(body), status


OPENAI_PREFIX = "/v1/"
OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def openai_error_body(
    status: int,
    code: str,
    message: str,
    errors: Sequence[FieldError] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}` as OpenAI's clients expect it;
    Symphony's reason code is the `code`, its details sit beside."""
    kind = OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    details = dict(extra or {})
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "param": details.pop("param", errors[0].field if errors else None),
        "code": code,
    }
    if errors:
        error["errors"] = [e.as_dict() for e in errors]
    error.update(details)
    return {"error": error}


def engine_unavailable(exc: Exception) -> ApiError:
    """503: no decision, so nothing is routed (fail closed)."""
    from app.core.router import RevisionMismatch

    if isinstance(exc, RevisionMismatch):
        return ApiError(
            503,
            "policy_revision_mismatch",
            "the policy sidecar has not activated the active policy revision yet; "
            "nothing is routed on an older one",
            extra={
                "denial": "policy_revision_mismatch",
                "decision_id": exc.decision_id,
                "evaluated_revision": exc.evaluated,
                "active_revision": exc.active,
            },
        )
    return ApiError(
        503,
        "policy_engine_unavailable",
        "the policy engine did not answer; nothing is routed without a decision",
        extra={"detail": str(exc), "denial": "policy_engine_unavailable"},
    )


def invalid_body(errors: Sequence[FieldError]) -> ApiError:
    """A 400 naming every bad field."""
    first = errors[0]
    return ApiError(400, "invalid_request", f"{first.field}: {first.message}", errors)


def fail_closed(code: str, message: str, exc: Exception) -> tuple[Response, int]:
    """503 naming the store that cannot be used (`code` is also the denial)."""
    return json_error(503, code, message, extra={"denial": code, "detail": str(exc)})


def register_error_handlers(app: Flask) -> None:
    """JSON bodies for our errors and for every HTTP error Werkzeug raises."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        response, status = json_error(exc.status, exc.code, exc.message, exc.errors, exc.extra)
        response.headers.update(exc.headers)
        return response, status

    # Fail closed: without live counts no cap or budget can be checked, and nothing runs
    # whose run report has nowhere to go (see SqlRunReports).
    @app.errorhandler(CounterStoreUnavailable)
    def _counters_down(exc: CounterStoreUnavailable) -> tuple[Response, int]:
        return fail_closed(
            "counter_store_unavailable",
            "the counter store did not answer; nothing is routed without live counts",
            exc,
        )

    @app.errorhandler(RunStoreUnavailable)
    def _runs_not_stored(exc: RunStoreUnavailable) -> tuple[Response, int]:
        return fail_closed(
            "run_store_unavailable",
            "the store is not taking run reports; nothing is routed until it catches up",
            exc,
        )

    @app.errorhandler(EvaluationFailed)
    def _evaluation_failed(exc: EvaluationFailed) -> tuple[Response, int]:
        # The opa binary could not evaluate another revision (replay, simulate): no answer.
        return json_error(503, "evaluation_failed", f"the policy could not be evaluated: {exc}")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        # A bug, not bad input: log it with its traceback and answer JSON, never HTML.
        app.logger.exception("unhandled error: %s", type(exc).__name__)
        return json_error(500, "internal_error", "unexpected error; see the proxy log")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
            429: "client_rate_limited",
        }.get(status, "http_error")
        message = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body larger than {limit} bytes"
        return json_error(status, code, message)
