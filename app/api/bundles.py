"""OPA's bundle service API and status API, served by every proxy from the shared store."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.context import services
from app.api.errors import ApiError
from app.core.bundles import BUNDLE_NAME, SidecarStatus
from app.core.identity import Role
from app.core.validation import FieldError

bp = Blueprint("bundles", __name__)

# Signals to OPA that this server can hold a poll until the bundle changes.
LONG_POLL_TYPE = "application/vnd.openpolicyagent.bundles"
MAX_WAIT_S = 60.0
MAX_STATUS_BYTES = 1024 * 1024
_WAIT = re.compile(r"(?:^|[;,\s])wait=(\d{1,4})(?:$|[;,\s])")


def _wait_seconds() -> float:
    match = _WAIT.search(request.headers.get("Prefer", ""))
    return min(float(match.group(1)), MAX_WAIT_S) if match else 0.0


@bp.get(f"/opa/bundles/{BUNDLE_NAME}.tar.gz")
@requires(Role.SIDECAR)
def bundle() -> ResponseReturnValue:
    """The active revision as an OPA bundle; 304 when the sidecar already has it."""
    seen = request.headers.get("If-None-Match", "").strip()
    server = services().bundles
    wait = _wait_seconds()
    current = server.wait_for_change(seen, wait) if seen and wait else server.current()
    headers = {"ETag": current.etag, "Cache-Control": "no-cache"}
    if seen == current.etag:
        return Response(status=304, headers=headers)
    response = Response(current.data, status=200, headers=headers, mimetype=LONG_POLL_TYPE)
    response.headers["X-Symphony-Revision"] = current.manifest_revision
    return response


def _status_report() -> dict[str, Any]:
    raw = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ApiError(
                400, "malformed_body", "not gzip", [FieldError("$", "not gzip")]
            ) from exc
    if len(raw) > MAX_STATUS_BYTES:
        raise ApiError(413, "body_too_large", "status report too large")
    try:
        report = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise ApiError(
            400, "malformed_json", "status report is not JSON", [FieldError("$", str(exc))]
        ) from exc
    if not isinstance(report, dict):
        raise ApiError(400, "invalid_request", "status report is not an object")
    return report


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (reports are read leniently)."""
    return value if isinstance(value, dict) else {}


@bp.post("/opa/status")
@bp.post("/opa/status/")
@bp.post("/opa/status/<partition>")
@requires(Role.SIDECAR)
def status(partition: str = "") -> ResponseReturnValue:
    """OPA's status API: keep each sidecar's bundle revision and errors in the store."""
    report = _status_report()
    labels = _object(report.get("labels"))
    name = str(labels.get("sidecar") or labels.get("id") or "unknown")[:128]
    ours = _object(_object(report.get("bundles")).get(BUNDLE_NAME))
    errors: list[dict[str, Any]] = []
    if ours.get("code") or ours.get("message"):
        errors.append(
            {
                "code": str(ours.get("code", ""))[:200],
                "message": str(ours.get("message", ""))[:2000],
            }
        )
    for error in ours.get("errors") or []:
        errors.append({"code": "", "message": json.dumps(error)[:2000]})
    services().sidecars.record(
        SidecarStatus(
            name=name,
            bundle_revision=str(ours["active_revision"])[:128]
            if ours.get("active_revision")
            else None,
            bundle_errors=tuple(errors[:20]),
            opa_version=str(labels.get("version", ""))[:64] or None,
            reported_at=datetime.now(UTC),
        )
    )
    return Response(status=204)
