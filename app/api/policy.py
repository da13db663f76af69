"""The policy supply chain over HTTP: revisions (document + guards), writes guarded by ETags,
guards, bundle uploads, rollback; and the kill switch."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import principal, requires
from app.api.body import json_body, json_object
from app.api.context import audit, request_id, services
from app.api.errors import ApiError
from app.api.params import INT_MAX, integer_parameter, reject_unknown_fields
from app.core.audit import state_hash
from app.core.bundles import BundleRejected, read_uploaded_bundle
from app.core.identity import Role
from app.core.policy_service import (
    Author,
    PolicyRejected,
    PreconditionFailed,
    RevisionNotFound,
)
from app.core.revisions import GUARD_NAME, Revision
from app.core.validation import FieldError

bp = Blueprint("policy", __name__)

MAX_REASON = 500
MAX_LISTING = 500


def _with_etag(body: dict[str, Any], revision: Revision, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = revision.etag
    return response


def if_match() -> str:
    """The writer's If-Match, required on every write (428 without it)."""
    tag = request.headers.get("If-Match", "").strip()
    if not tag:
        raise ApiError(
            428,
            "precondition_required",
            "send If-Match with the ETag from GET /policy",
            [FieldError("If-Match", "required on every policy write")],
        )
    return tag[:200]


def _author() -> Author:
    reason = request.headers.get("X-Symphony-Reason", "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise ApiError(
            400,
            "invalid_request",
            f"X-Symphony-Reason: at most {MAX_REASON} characters",
            [FieldError("X-Symphony-Reason", f"longer than {MAX_REASON} characters")],
        )
    return Author(principal().name, request_id(), reason)


def _written(revision: Revision) -> Response:
    """200 with the new revision, once the local sidecar runs it (or the wait ran out)."""
    svc = services()
    deadline = time.monotonic() + svc.settings.propagation_wait_s
    evaluated = svc.engine.bundle_revision()
    while evaluated != revision.bundle_revision and time.monotonic() < deadline:
        time.sleep(0.05)
        evaluated = svc.engine.bundle_revision()
    body = {
        **revision.as_dict(),
        "sidecar": {
            "bundle_revision": evaluated,
            "in_step": evaluated == revision.bundle_revision,
        },
    }
    svc.bus.publish({"type": "policy", "revision": revision.number, "etag": revision.etag})
    return _with_etag(body, revision)


def write_revision(change: Any, kind: str, subject: str | None = None) -> Response:
    """Run a write, audit it, and map its failures to 404/412/422."""
    before = services().policies.active_revision()
    try:
        revision: Revision = change()
    except PreconditionFailed as exc:
        current = exc.current
        raise ApiError(
            412,
            "precondition_failed",
            f"the policy changed since you loaded it (you sent {exc.sent}, "
            f"the active revision is {current.etag})",
            extra={
                "current": {
                    "version": current.number,
                    "etag": current.etag,
                    "updated_by": current.created_by,
                    "updated_at": current.created_at.isoformat(timespec="milliseconds"),
                }
            },
        ) from exc
    except PolicyRejected as exc:
        raise ApiError(
            422,
            "policy_invalid",
            f"{len(exc.errors) + len(exc.problems)} error(s) in the policy; nothing changed",
            extra={"errors": exc.as_dicts()},
        ) from exc
    except RevisionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    audit(
        kind,
        subject or f"revision {revision.number}",
        before.hash,
        revision.hash,
        {"revision": revision.number, "parent": before.number, "reason": revision.reason},
    )
    return _written(revision)


@bp.get("/policy")
@requires(Role.GOVERNOR)
def get_policy() -> ResponseReturnValue:
    """The active revision, all of it, with its ETag."""
    revision = services().policies.active_revision()
    return _with_etag(revision.as_dict(), revision)


@bp.post("/policy/validate")
@requires(Role.GOVERNOR)
def validate_policy() -> ResponseReturnValue:
    """Every error in a candidate document, as (JSON path, message); nothing is stored."""
    errors = services().policies.validate(json_body())
    return jsonify({"valid": not errors, "errors": [e.as_dict() for e in errors]})


@bp.put("/policy")
@requires(Role.GOVERNOR)
def put_policy() -> ResponseReturnValue:
    """A new revision with this document and the active guards."""
    tag, author = if_match(), _author()
    document = json_body()
    return write_revision(
        lambda: services().policies.replace_document(document, tag, author), "policy.revision"
    )


def _listing() -> list[dict[str, Any]]:
    limit = integer_parameter("limit", 100, 1, MAX_LISTING)
    before = integer_parameter("before", 0, 0, INT_MAX)
    before_n = before or None
    return [r.summary() for r in services().policies.revisions(limit, before_n)]


@bp.get("/policy/revisions")
@requires(Role.GOVERNOR)
def list_revisions() -> ResponseReturnValue:
    """Revision metadata, newest first (?limit=, ?before=<number> to page)."""
    return jsonify({"revisions": _listing()})


@bp.get("/policy/history")
@requires(Role.GOVERNOR)
def policy_history() -> ResponseReturnValue:
    """The same listing under its older name."""
    return jsonify({"versions": _listing()})


@bp.get("/policy/revisions/<int:number>")
@requires(Role.GOVERNOR)
def get_revision(number: int) -> ResponseReturnValue:
    """One revision: document, guards, tests, hash and who/when/why."""
    try:
        revision = services().policies.revision(number)
    except RevisionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return _with_etag(revision.as_dict(), revision)


@bp.post("/policy/rollback")
@requires(Role.GOVERNOR)
def rollback() -> ResponseReturnValue:
    """`{"revision": n}`: a new revision whose content equals revision n."""
    tag, author = if_match(), _author()
    body = json_object()
    number = body.get("revision")
    unknown = sorted(set(body) - {"revision"})
    if unknown or not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ApiError(
            400,
            "invalid_request",
            "$.revision: a revision number (integer >= 1)",
            [FieldError(f"$.{unknown[0]}", "unknown field")]
            if unknown
            else [FieldError("$.revision", "must be an integer >= 1")],
        )
    return write_revision(
        lambda: services().policies.rollback(number, tag, author),
        "policy.rollback",
        f"to revision {number}",
    )


def _guard_name(name: str) -> str:
    if not GUARD_NAME.match(name):
        raise ApiError(
            400,
            "invalid_request",
            "a guard name is [a-z][a-z0-9_]*, 63 characters at most",
            [FieldError("name", f"invalid guard name {name[:64]!r}")],
        )
    return name


@bp.get("/policy/guards/<name>")
@requires(Role.GOVERNOR)
def get_guard(name: str) -> ResponseReturnValue:
    """One guard of the active revision, with its tests."""
    revision = services().policies.active_revision()
    if name not in revision.guards:
        raise ApiError(404, "not_found", f"no guard {name[:64]!r} in the active revision")
    tests = {k: v for k, v in revision.tests.items() if k.startswith(f"{name}_test")}
    return _with_etag({"name": name, "source": revision.guards[name], "tests": tests}, revision)


def _guard_body() -> tuple[str, dict[str, str]]:
    """Rego as text/plain, or JSON {"source": ..., "tests": {name: source}}."""
    if request.mimetype in ("text/plain", "application/x-rego", "text/x-rego"):
        try:
            return request.get_data(cache=True).decode("utf-8"), {}
        except UnicodeDecodeError as exc:
            raise ApiError(
                400, "invalid_request", "body is not UTF-8", [FieldError("$", "not UTF-8")]
            ) from exc
    body = json_object()
    errors = [
        FieldError(f"$.{k}", "unknown field") for k in sorted(set(body) - {"source", "tests"})
    ]
    source = body.get("source")
    tests = body.get("tests", {})
    if not isinstance(source, str):
        errors.append(FieldError("$.source", "must be the guard's Rego source (a string)"))
    if not isinstance(tests, dict) or not all(isinstance(v, str) for v in tests.values()):
        errors.append(FieldError("$.tests", "must map test names to Rego sources"))
    if errors:
        raise ApiError(400, "invalid_request", f"{errors[0].field}: {errors[0].message}", errors)
    assert isinstance(source, str)
    return source, {str(k): str(v) for k, v in tests.items()}


@bp.put("/policy/guards/<name>")
@requires(Role.GOVERNOR)
def put_guard(name: str) -> ResponseReturnValue:
    """Add or replace guard `name` (package symphony.guards.<name>) in a new revision."""
    tag, author = if_match(), _author()
    name = _guard_name(name)
    source, tests = _guard_body()
    return write_revision(
        lambda: services().policies.put_guard(name, source, tests, tag, author),
        "policy.guard",
        f"guard {name}",
    )


@bp.delete("/policy/guards/<name>")
@requires(Role.GOVERNOR)
def delete_guard(name: str) -> ResponseReturnValue:
    """Remove guard `name` (and its tests) in a new revision."""
    tag, author = if_match(), _author()
    name = _guard_name(name)
    return write_revision(
        lambda: services().policies.delete_guard(name, tag, author),
        "policy.guard",
        f"guard {name} deleted",
    )


@bp.post("/policy/bundle")
@requires(Role.GOVERNOR)
def upload_bundle() -> ResponseReturnValue:
    """An `opa build` tarball: its guards and tests (and document, if any) as a new revision."""
    tag, author = if_match(), _author()
    if request.mimetype not in (
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
    ):
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the bundle as application/gzip (opa build output)",
            [FieldError("$", "content-type must be application/gzip")],
        )
    try:
        upload = read_uploaded_bundle(request.get_data(cache=True))
    except BundleRejected as exc:
        raise ApiError(
            422,
            "policy_invalid",
            f"{len(exc.problems)} error(s) in the bundle; nothing changed",
            extra={"errors": [p.as_dict() for p in exc.problems]},
        ) from exc
    return write_revision(
        lambda: services().policies.replace_bundle(
            upload.document, upload.guards, upload.tests, tag, author
        ),
        "policy.bundle",
    )


@bp.get("/controls/kill-switch")
@requires(Role.OPERATOR)
def get_kill_switch() -> ResponseReturnValue:
    """Whether the kill switch is on, and who set it."""
    return jsonify(services().controls.state())


@bp.put("/controls/kill-switch")
@requires(Role.OPERATOR)
def put_kill_switch() -> ResponseReturnValue:
    """Turn the kill switch on or off: `{"on": true, "reason": "..."}` (a reason is required)."""
    body = json_object()
    reject_unknown_fields(body, {"on", "reason"})
    on = body.get("on")
    if not isinstance(on, bool):
        raise ApiError(
            400,
            "invalid_request",
            "$.on: must be true or false",
            [FieldError("$.on", "must be a boolean")],
        )
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ApiError(
            400,
            "invalid_request",
            f"$.reason: say why (1 to {MAX_REASON} characters)",
            [FieldError("$.reason", f"a non-blank string of at most {MAX_REASON} characters")],
        )
    before = services().controls.state()
    state = services().controls.set_kill_switch(on, principal().name, reason.strip())
    audit(
        "kill_switch",
        "on" if on else "off",
        state_hash(before["kill_switch"]),
        state_hash(state["kill_switch"]),
        {"on": on, "reason": reason.strip()},
    )
    services().bus.publish({"type": "kill_switch", **state})
    return jsonify(state)
