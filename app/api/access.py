"""Access control in one place: every route declares one required role, checked here.

A caller authenticates with `Authorization: Bearer <key>` or with the dashboard's session
cookie. Cookie-authenticated writes also need the session's `X-CSRF-Token`; a request whose
`Origin` is neither this proxy's own origin nor listed in `SYMPHONY_ALLOWED_ORIGINS` is
refused (websocket upgrades included). Failed authentications are counted per client address
(shared through Redis when configured) and, past `SYMPHONY_AUTH_FAILURE_LIMIT`, that address
gets 429 until the window passes. CORS headers go only to listed origins, never `*`, and
never with credentials: cross-origin callers use keys, not cookies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.api.errors import json_error
from app.core.identity import Identities, Principal, Role, Session
from app.metrics import SymphonyMetrics
from app.settings import Settings

log = logging.getLogger("symphony.access")

ROLE_ATTR = "required_role"
SESSION_COOKIE = "symphony_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOWED_HEADERS = (
    "Authorization, Content-Type, If-Match, X-Request-Id, X-Symphony-Reason, X-CSRF-Token"
)
EXPOSED_HEADERS = "ETag, X-Request-Id, X-Symphony-Audit-Id, X-Symphony-Decision-Id, Retry-After"

View = TypeVar("View", bound=Callable[..., Any])


def requires(role: Role) -> Callable[[View], View]:
    """Declare the one role a view requires (Role.PUBLIC: no key)."""

    def mark(view: View) -> View:
        setattr(view, ROLE_ATTR, role)
        return view

    return mark


def declare(app: Flask, endpoint: str, role: Role) -> None:
    """Declare the role of a view a library registered (e.g. /metrics)."""
    setattr(app.view_functions[endpoint], ROLE_ATTR, role)


def required_role(app: Flask, endpoint: str) -> Role | None:
    """The role an endpoint declared, or None."""
    view = app.view_functions.get(endpoint)
    role = getattr(view, ROLE_ATTR, None)
    return role if isinstance(role, Role) else None


def route_roles(app: Flask) -> list[tuple[str, tuple[str, ...], Role | None]]:
    """(rule, methods, role) for every route, for docs and the generated access test."""
    rows = []
    for rule in app.url_map.iter_rules():
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        rows.append((rule.rule, methods, required_role(app, rule.endpoint)))
    return sorted(rows)


def check_route_roles(app: Flask) -> None:
    """Refuse to start when a route declares no role (nothing is anonymous by accident)."""
    missing = [rule for rule, _, role in route_roles(app) if role is None]
    if missing:
        raise RuntimeError(f"routes without a required role: {', '.join(missing)}")


def principal() -> Principal:
    """The authenticated caller of this request (the guard ran before the view)."""
    found: Principal | None = g.get("principal")
    if found is None:
        raise RuntimeError("no authenticated principal on this request")
    return found


def current_session() -> Session | None:
    """The dashboard session the request came with, if any."""
    found: Session | None = g.get("session")
    return found


class AccessControl:
    """Authenticates, authorizes, rate-limits failures and answers CORS, before every view."""

    def __init__(self, identities: Identities, settings: Settings, metrics: SymphonyMetrics):
        self._identities = identities
        self._origins = frozenset(settings.allowed_origins)
        self._metrics = metrics
        self._limit: RateLimitItem = parse(settings.auth_failure_limit)
        storage = storage_from_string(settings.redis_url or "memory://")
        self._failures = MovingWindowRateLimiter(storage)

    def init_app(self, app: Flask) -> None:
        """Install the guard and the CORS answer on `app`."""
        app.before_request(self._guard)
        app.after_request(self._cors)

    # Origins and CORS

    @staticmethod
    def _own_origin() -> str:
        return f"{request.scheme}://{request.host}"

    def origin_allowed(self, origin: str) -> bool:
        """Same origin, or listed in SYMPHONY_ALLOWED_ORIGINS."""
        return origin == self._own_origin() or origin in self._origins

    def _cors(self, response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and origin != self._own_origin() and origin in self._origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            response.vary.add("Origin")
        return response

    def _preflight(self, origin: str | None) -> Response | tuple[Response, int] | None:
        if not origin or "Access-Control-Request-Method" not in request.headers:
            return None  # a plain OPTIONS: Flask answers with Allow
        if origin == self._own_origin() or origin not in self._origins:
            self._metrics.auth_failed("origin")
            return json_error(403, "origin_not_allowed", f"origin {origin[:200]} is not allowed")
        response = Response(status=204)
        # Every method of every route on this path (OPTIONS matched only the first one).
        adapter = current_app.url_map.bind_to_environ(request.environ)
        methods = sorted(set(adapter.allowed_methods()) - {"HEAD"})
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    # Failed authentications, per client address

    def _address(self) -> str:
        return request.remote_addr or "unknown"

    def _blocked(self) -> bool:
        try:
            return not self._failures.test(self._limit, "auth-failures", self._address())
        except Exception as exc:  # the limiter's store (Redis) is down: keys still decide
            log.warning("auth failure limiter unavailable: %s", type(exc).__name__)
            return False

    def _count_failure(self) -> None:
        try:
            self._failures.hit(self._limit, "auth-failures", self._address())
        except Exception as exc:
            log.warning("auth failure limiter unavailable: %s", type(exc).__name__)

    # The guard

    def _refuse(
        self,
        status: int,
        code: str,
        message: str,
        reason: str,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Response, int]:
        self._metrics.auth_failed(reason)
        response, status = json_error(status, code, message, extra=extra)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="symphony"'
        if status == 429:
            response.headers["Retry-After"] = str(self._limit.get_expiry())
        return response, status

    def _unauthenticated(self, reason: str) -> tuple[Response, int]:
        self._count_failure()
        return self._refuse(
            401, "unauthenticated", "a valid API key (Authorization: Bearer) is required", reason
        )

    def _identify(self) -> tuple[Principal | None, tuple[Response, int] | None]:
        """The caller from a key or a session; or the refusal to answer."""
        header = request.headers.get("Authorization", "")
        token = request.cookies.get(SESSION_COOKIE, "")
        if not header and not token:
            return None, self._refuse(
                401,
                "unauthenticated",
                "a valid API key (Authorization: Bearer) is required",
                "missing",
            )
        blocked = self.login_blocked()
        if blocked is not None:
            return None, blocked
        if header:
            scheme, _, key = header.partition(" ")
            key = key.strip()
            if scheme.lower() != "bearer" or not key:
                return None, self._unauthenticated("malformed")
            found = self._identities.authenticate(key)
            if found is None:
                return None, self._unauthenticated(self._identities.rejection(key))
            return found, None
        origin = request.headers.get("Origin")
        if origin and origin != self._own_origin():
            # The session is the dashboard's own: listed origins call with keys, never with
            # the cookie (a listed page must not open the live feed as the signed-in user).
            return None, self._refuse(
                403,
                "origin_not_allowed",
                "a session is accepted from the dashboard's own origin only; present a key",
                "origin",
            )
        session = self._identities.session(token)
        if session is None:
            return None, self._unauthenticated("session")
        if request.method not in SAFE_METHODS and not Identities.csrf_matches(
            session, request.headers.get(CSRF_HEADER, "")
        ):
            return None, self._refuse(
                403, "csrf_failed", f"a session's writes need its {CSRF_HEADER} header", "csrf"
            )
        g.session = session
        return session.principal, None

    def _guard(self) -> Response | tuple[Response, int] | None:
        endpoint = request.endpoint
        if endpoint is None:
            return None  # 404 / 405: Flask answers
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return self._preflight(origin)
        role = required_role(current_app, endpoint)
        if role is None:  # check_route_roles makes this unreachable; never fail open
            return self._refuse(403, "forbidden", "this endpoint declares no role", "forbidden")
        if role is Role.PUBLIC:
            return None
        if origin and not self.origin_allowed(origin):
            return self._refuse(
                403, "origin_not_allowed", f"origin {origin[:200]} is not allowed", "origin"
            )
        found, refusal = self._identify()
        if refusal is not None:
            return refusal
        assert found is not None
        if not found.has(role):
            return self._refuse(
                403,
                "forbidden",
                f"this endpoint requires the {role} role",
                "forbidden",
                {"required_role": str(role)},
            )
        g.principal = found
        return None

    def identify_optional(self) -> Principal | None:
        """For public endpoints that say who is calling (GET /session): never refuses."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, key = header.partition(" ")
            if scheme.lower() == "bearer" and key.strip():
                return self._identities.authenticate(key.strip())
            return None
        token = request.cookies.get(SESSION_COOKIE, "")
        session = self._identities.session(token) if token else None
        if session is not None:
            g.session = session
            return session.principal
        return None

    def login_blocked(self) -> tuple[Response, int] | None:
        """The 429 when this address is over the failed-authentication limit, else None."""
        if self._blocked():
            return self._refuse(
                429,
                "auth_rate_limited",
                "too many failed authentications from this address; try again later",
                "rate_limited",
            )
        return None

    def login_failed(self) -> tuple[Response, int]:
        """Count a failed login and answer 401."""
        return self._unauthenticated("login")
