"""Sessions for the dashboard, API keys for admins, and the audit trail."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import (
    CSRF_HEADER,
    SESSION_COOKIE,
    AccessControl,
    current_session,
    principal,
    requires,
)
from app.api.body import json_object
from app.api.context import request_id, services
from app.api.errors import ApiError
from app.api.params import (
    INT_MAX,
    integer_parameter,
    reject_unknown_fields,
    reject_unknown_parameters,
    timestamp,
)
from app.core.audit import AuditEvent, AuditQuery
from app.core.identity import Identities, KeyRejected, Role
from app.core.validation import FieldError

bp = Blueprint("identity", __name__)

MAX_AUDIT_PAGE = 500


def access() -> AccessControl:
    """The access control installed by the application factory."""
    found: AccessControl = current_app.extensions["symphony.access"]
    return found


@bp.post("/session")
@requires(Role.PUBLIC)
def login() -> ResponseReturnValue:
    """`{"key": ...}`: a dashboard session (HttpOnly, SameSite=Strict cookie) for a valid key."""
    blocked = access().login_blocked()
    if blocked is not None:
        return blocked
    body = json_object()
    reject_unknown_fields(body, {"key"})
    key = body.get("key")
    if not isinstance(key, str) or not key.strip():
        raise ApiError(
            400, "invalid_request", "$.key: the API key", [FieldError("$.key", "required")]
        )
    opened = services().identities.login(key.strip(), request_id())
    if opened is None:
        services().audit.record(
            AuditEvent("session.login_failed", "anonymous", request.remote_addr, request_id())
        )
        return access().login_failed()
    session, token = opened
    response = jsonify(session.as_dict())
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(services().settings.session_ttl_s),
        httponly=True,
        secure=request.is_secure,
        samesite="Strict",
        path="/",
    )
    return response


@bp.get("/session")
@requires(Role.PUBLIC)
def whoami() -> ResponseReturnValue:
    """Who this session (or key) is: name, roles, team, CSRF token; 401 when nobody."""
    found = access().identify_optional()
    if found is None:
        raise ApiError(401, "unauthenticated", "not signed in")
    session = current_session()
    if session is not None:
        return jsonify(session.as_dict())
    return jsonify({**found.as_input(), "csrf_token": None, "expires_at": None})


@bp.delete("/session")
@requires(Role.PUBLIC)
def logout() -> ResponseReturnValue:
    """End this session (needs its CSRF header) and clear the cookie."""
    access().identify_optional()
    session = current_session()
    token = request.cookies.get(SESSION_COOKIE, "")
    if session is not None:
        if not Identities.csrf_matches(session, request.headers.get(CSRF_HEADER, "")):
            raise ApiError(403, "csrf_failed", f"sign-out needs the session's {CSRF_HEADER}")
        services().identities.logout(token, session.principal.name, request_id())
    response = Response(status=204)
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="Strict", httponly=True)
    return response


@bp.get("/keys")
@requires(Role.ADMIN)
def list_keys() -> ResponseReturnValue:
    """Every API key (never the key itself), newest first."""
    return jsonify({"keys": [k.as_dict() for k in services().identities.all_keys()]})


@bp.post("/keys")
@requires(Role.ADMIN)
def create_key() -> ResponseReturnValue:
    """`{"name", "roles", "team"?, "expires_at"?}`: a new key, shown once in the answer."""
    body = json_object()
    reject_unknown_fields(body, {"name", "roles", "team", "expires_at"})
    name, roles, team = body.get("name"), body.get("roles"), body.get("team")
    errors = []
    if not isinstance(name, str):
        errors.append(FieldError("$.name", "required: a string"))
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        errors.append(FieldError("$.roles", "required: a list of role names"))
    if team is not None and not isinstance(team, str):
        errors.append(FieldError("$.team", "must be a string"))
    if errors:
        raise ApiError(400, "invalid_request", f"{errors[0].field}: {errors[0].message}", errors)
    expires = body.get("expires_at")
    expires_at = timestamp(expires, "$.expires_at") if expires is not None else None
    assert isinstance(name, str) and isinstance(roles, list)
    try:
        record, key = services().identities.create(
            name, roles, principal().name, request_id(), team, expires_at
        )
    except KeyRejected as exc:
        raise ApiError(
            400,
            "invalid_request",
            f"{exc.field}: {exc.message}",
            [FieldError(exc.field, exc.message)],
        ) from exc
    return jsonify({**record.as_dict(), "key": key}), 201


@bp.delete("/keys/<key_id>")
@requires(Role.ADMIN)
def revoke_key(key_id: str) -> ResponseReturnValue:
    """Revoke a key: it stops working on every proxy within seconds; its sessions end."""
    revoked = services().identities.revoke(key_id[:64], principal().name, request_id())
    if revoked is None:
        raise ApiError(404, "not_found", f"no key {key_id[:64]!r}")
    return jsonify(revoked.as_dict())


def _audit_query() -> AuditQuery:
    args = request.args
    reject_unknown_parameters(args, {"actor", "kind", "since", "until", "limit", "before"})
    limit = integer_parameter("limit", 100, 1, MAX_AUDIT_PAGE)
    before = integer_parameter("before", 0, 1, INT_MAX) if args.get("before") else None
    since = timestamp(args["since"], "?since") if args.get("since") else None
    until = timestamp(args["until"], "?until") if args.get("until") else None
    return AuditQuery(
        actor=(args.get("actor") or None),
        kind=(args.get("kind") or None),
        since=since,
        until=until,
        before=before,
        limit=limit,
    )


@bp.get("/audit")
@requires(Role.OPERATOR)
def list_audit() -> ResponseReturnValue:
    """The audit trail, newest first (?actor, ?kind, ?since, ?until, ?limit, ?before)."""
    query = _audit_query()
    events = services().audit.events(query)
    next_before = events[-1].id if len(events) == query.limit else None
    return jsonify({"events": [e.as_dict() for e in events], "next_before": next_before})
