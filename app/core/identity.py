"""Who is calling: API keys, roles and sessions; key changes and logins are audited.

Keys are 256-bit random strings (`sym_` + 43 URL-safe characters). Only their SHA-256 is
stored: a key of that entropy cannot be guessed from its hash, so a slow password hash would
only slow every request down. A key configured from the environment must be at least
MIN_KEY_LENGTH characters for the same reason.

Roles include others: `admin` includes `governor`, `operator` and `client`; `governor`
includes `operator` (whoever may rewrite the policy may also stop traffic with the kill
switch, which the policy could do anyway). Every endpoint requires exactly one role.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from app.core.audit import AuditEvent, AuditLog, state_hash

KEY_PREFIX = "sym_"
MIN_KEY_LENGTH = 32
MAX_NAME = 128
TOUCH_EVERY_S = 60.0


class Role(StrEnum):
    """What a key may do; `public` marks the few endpoints that need no key."""

    PUBLIC = "public"
    CLIENT = "client"
    OPERATOR = "operator"
    GOVERNOR = "governor"
    ADMIN = "admin"
    SIDECAR = "sidecar"
    ALERTMANAGER = "alertmanager"


GRANTABLE: tuple[Role, ...] = (
    Role.CLIENT,
    Role.OPERATOR,
    Role.GOVERNOR,
    Role.ADMIN,
    Role.SIDECAR,
    Role.ALERTMANAGER,
)
INCLUDES: Mapping[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.GOVERNOR, Role.OPERATOR, Role.CLIENT}),
    Role.GOVERNOR: frozenset({Role.OPERATOR}),
}


def effective_roles(granted: Iterable[Role]) -> frozenset[Role]:
    """The granted roles plus every role they include."""
    roles: set[Role] = set()
    for role in granted:
        roles.add(role)
        roles |= INCLUDES.get(role, frozenset())
    return frozenset(roles)


def parse_roles(values: Iterable[str]) -> tuple[Role, ...]:
    """Role names to roles (ValueError naming the unknown one); `public` is not grantable."""
    roles: list[Role] = []
    for value in values:
        try:
            role = Role(value)
        except ValueError:
            raise ValueError(f"unknown role {value!r}") from None
        if role not in GRANTABLE:
            raise ValueError(f"role {value!r} cannot be granted")
        if role not in roles:
            roles.append(role)
    if not roles:
        raise ValueError("at least one role is required")
    return tuple(roles)


def hash_secret(secret: str) -> str:
    """The SHA-256 (hex) under which a key or session token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


@dataclass(frozen=True)
class ApiKey:
    """A stored key (its hash stays in the store)."""

    id: str
    name: str
    roles: tuple[Role, ...]
    team: str | None
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (never the key)."""
        return {
            "id": self.id,
            "name": self.name,
            "roles": [str(r) for r in self.roles],
            "team": self.team,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
            "last_used_at": _iso(self.last_used_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
        }


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a key's identity and its effective roles."""

    key_id: str
    name: str
    roles: frozenset[Role]
    team: str | None

    @classmethod
    def of(cls, key: ApiKey) -> Principal:
        """The principal a key authenticates as."""
        return cls(key.id, key.name, effective_roles(key.roles), key.team)

    def has(self, role: Role) -> bool:
        """Whether this caller holds `role` (directly or by inclusion)."""
        return role is Role.PUBLIC or role in self.roles

    def as_input(self) -> dict[str, Any]:
        """`input.client` for the policy: name, effective roles, team."""
        return {"name": self.name, "roles": sorted(str(r) for r in self.roles), "team": self.team}


@dataclass(frozen=True)
class Session:
    """A dashboard session: who, its CSRF token and when it ends."""

    principal: Principal
    csrf_token: str
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """What GET/POST /session answer."""
        return {
            "name": self.principal.name,
            "roles": sorted(str(r) for r in self.principal.roles),
            "team": self.principal.team,
            "csrf_token": self.csrf_token,
            "expires_at": _iso(self.expires_at),
        }


class KeyStore(Protocol):
    """Where keys and sessions are kept (shared by every proxy)."""

    def add(self, key: ApiKey, key_hash: str) -> None:
        """Store a new key."""
        ...

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""
        ...

    def all_keys(self) -> list[ApiKey]:
        """Every key, newest first."""
        ...

    def revoke(self, key_id: str, by: str, at: datetime) -> ApiKey | None:
        """Mark a key revoked (and end its sessions); None when unknown."""
        ...

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use."""
        ...

    def add_session(
        self, token_hash: str, key_id: str, csrf: str, at: datetime, ends: datetime
    ) -> None:
        """Store a session."""
        ...

    def session(self, token_hash: str) -> tuple[ApiKey, str, datetime] | None:
        """(key, csrf token, expiry) of a session, or None."""
        ...

    def end_session(self, token_hash: str) -> None:
        """Forget a session."""
        ...


class KeyRejected(ValueError):
    """A key cannot be created as asked (name, roles, expiry)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class _Cached:
    key: ApiKey | None
    read_at: float


class Identities:
    """Authenticates keys and sessions through a short per-process cache; manages keys.

    A revoked key stops working on every proxy within `cache_s` (2 s by default): lookups of
    a known key are cached that long so the hot path does not query the store per request.
    """

    def __init__(
        self,
        store: KeyStore,
        audit: AuditLog,
        session_ttl_s: float = 8 * 3600,
        cache_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._audit = audit
        self._session_ttl = timedelta(seconds=session_ttl_s)
        self._cache_s = cache_s
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    # Authentication

    def authenticate(self, key: str) -> Principal | None:
        """The principal of an active key, else None."""
        if not key or len(key) > 512:
            return None
        key_hash = hash_secret(key)
        found = self._lookup(key_hash)
        now = self._now()
        if found is None or not found.active(now):
            return None
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() > TOUCH_EVERY_S:
            self._store.touch(found.id, now)
            with self._lock:
                self._cache[key_hash] = _Cached(replace(found, last_used_at=now), self._clock())
        return Principal.of(found)

    def rejection(self, key: str) -> str:
        """Why `key` does not authenticate: `unknown`, `revoked` or `expired` (for metrics)."""
        found = self._lookup(hash_secret(key)) if key and len(key) <= 512 else None
        if found is None:
            return "unknown"
        return "revoked" if found.revoked_at is not None else "expired"

    def _lookup(self, key_hash: str) -> ApiKey | None:
        tick = self._clock()
        with self._lock:
            cached = self._cache.get(key_hash)
        if cached is not None and tick - cached.read_at < self._cache_s:
            return cached.key
        found = self._store.by_hash(key_hash)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            if found is not None:
                self._cache[key_hash] = _Cached(found, tick)
        return found

    def login(self, key: str, request_id: str) -> tuple[Session, str] | None:
        """A new session for an active key: (session, cookie token), or None."""
        principal = self.authenticate(key)
        if principal is None:
            return None
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = self._now()
        ends = now + self._session_ttl
        self._store.add_session(hash_secret(token), principal.key_id, csrf, now, ends)
        self._audit.record(
            AuditEvent("session.login", principal.name, principal.key_id, request_id)
        )
        return Session(principal, csrf, ends), token

    def session(self, token: str) -> Session | None:
        """The live session a cookie names, if its key is still active."""
        if not token or len(token) > 256:
            return None
        found = self._store.session(hash_secret(token))
        if found is None:
            return None
        key, csrf, ends = found
        now = self._now()
        if now >= ends or not key.active(now):
            return None
        return Session(Principal.of(key), csrf, ends)

    def logout(self, token: str, actor: str, request_id: str) -> None:
        """End a session."""
        self._store.end_session(hash_secret(token))
        self._audit.record(AuditEvent("session.logout", actor, None, request_id))

    @staticmethod
    def csrf_matches(session: Session, given: str) -> bool:
        """Constant-time comparison of the CSRF header with the session's token."""
        return bool(given) and hmac.compare_digest(session.csrf_token, given)

    # Key management

    def all_keys(self) -> list[ApiKey]:
        """Every key, newest first."""
        return self._store.all_keys()

    def create(
        self,
        name: str,
        roles: Sequence[str],
        actor: str,
        request_id: str | None,
        team: str | None = None,
        expires_at: datetime | None = None,
        key: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key (the plaintext is returned once, never stored); KeyRejected if invalid."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise KeyRejected("$.name", f"a name of 1 to {MAX_NAME} characters is required")
        try:
            granted = parse_roles(roles)
        except ValueError as exc:
            raise KeyRejected("$.roles", str(exc)) from None
        if team is not None:
            team = team.strip() or None
            if team is not None and len(team) > MAX_NAME:
                raise KeyRejected("$.team", f"at most {MAX_NAME} characters")
        now = self._now()
        if expires_at is not None and expires_at <= now:
            raise KeyRejected("$.expires_at", "must be in the future")
        if any(k.name == name and k.active(now) for k in self._store.all_keys()):
            raise KeyRejected("$.name", f"an active key named {name!r} exists")
        plaintext = key or new_key()
        if len(plaintext) < MIN_KEY_LENGTH:
            raise KeyRejected("key", f"a key must be at least {MIN_KEY_LENGTH} characters")
        record = ApiKey(
            id="key_" + secrets.token_hex(6),
            name=name,
            roles=granted,
            team=team,
            created_at=now,
            created_by=actor,
            expires_at=expires_at,
        )
        self._store.add(record, hash_secret(plaintext))
        self._audit.record(
            AuditEvent(
                "key.created",
                actor,
                record.id,
                request_id,
                None,
                state_hash(record.as_dict()),
                {"name": name, "roles": [str(r) for r in granted], "team": team},
            )
        )
        return record, plaintext

    def revoke(self, key_id: str, actor: str, request_id: str | None) -> ApiKey | None:
        """Revoke a key and end its sessions; None when no such key."""
        before = next((k for k in self._store.all_keys() if k.id == key_id), None)
        if before is None:
            return None
        revoked = self._store.revoke(key_id, actor, self._now())
        if revoked is None:
            return None
        with self._lock:
            self._cache.clear()
        self._audit.record(
            AuditEvent(
                "key.revoked",
                actor,
                key_id,
                request_id,
                state_hash(before.as_dict()),
                state_hash(revoked.as_dict()),
                {"name": revoked.name},
            )
        )
        return revoked

    def registered(self, key: str) -> bool:
        """Whether this plaintext key is in the store (active or not)."""
        return self._store.by_hash(hash_secret(key)) is not None

    def has_keys(self) -> bool:
        """Whether any key was ever created."""
        return bool(self._store.all_keys())
