"""Counters in Redis, shared by every proxy; admission is one Lua script, so it is atomic."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

import redis

from app.core.counters import (
    SPEND_HISTORY_S,
    WINDOW_S,
    CounterStoreUnavailable,
    ModelUsage,
    Spend,
)
from app.core.ports import Probe

PREFIX = "symphony"

# KEYS[1] requests zset; ARGV: now, window, cap, member. Counts and admits in one step.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2]) + 5)
return 1
"""

# KEYS[1] failures counter, KEYS[2] cooldown key; ARGV: threshold, cooldown_ms, until.
_FAIL = """
local n = redis.call('INCR', KEYS[1])
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], 0)
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  return 1
end
return 0
"""


# KEYS[1] the day's marker, KEYS[2..] each model's day hash; ARGV: day, ttl, then usd and
# tokens per model. Once per budget day and Redis: raise each model's day totals to what the
# durable run reports say (a restarted, empty Redis must not reset budgets).
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do
  local usd = tonumber(ARGV[1 + (i - 1) * 2]) or 0
  local tokens = tonumber(ARGV[2 + (i - 1) * 2]) or 0
  local have = tonumber(redis.call('HGET', KEYS[i], ARGV[1] .. ':usd') or '0')
  if usd > have then redis.call('HSET', KEYS[i], ARGV[1] .. ':usd', tostring(usd)) end
  local had = tonumber(redis.call('HGET', KEYS[i], ARGV[1] .. ':tokens') or '0')
  if tokens > had then redis.call('HSET', KEYS[i], ARGV[1] .. ':tokens', tokens) end
  redis.call('EXPIRE', KEYS[i], 3 * 86400)
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[2])
return 1
"""

P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Redis errors become CounterStoreUnavailable (routing fails closed with 503)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise CounterStoreUnavailable(f"redis: {type(exc).__name__}") from exc

    return wrapper


def _sum_members(members: Iterable[bytes], index: int) -> float:
    total = 0.0
    for member in members:
        parts = member.decode().split(":")
        total += float(parts[index])
    return total


class RedisCounterStore:
    """Counters several proxies share; they survive a proxy restart."""

    persistent = True

    def __init__(
        self,
        client: redis.Redis[bytes],
        spent_on: Callable[[str], Mapping[str, tuple[float, int]]] | None = None,
    ) -> None:
        self._redis = client
        self._admit = client.register_script(_ADMIT)
        self._fail = client.register_script(_FAIL)
        self._seed = client.register_script(_SEED)
        self._spent_on = spent_on

    @classmethod
    def from_url(
        cls, url: str, spent_on: Callable[[str], Mapping[str, tuple[float, int]]] | None = None
    ) -> RedisCounterStore:
        """Connect lazily (no I/O until the first command); `spent_on(day)` gives each model's
        (dollars, tokens) of a budget day from durable records, to rebuild budgets."""
        client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(client, spent_on)

    def _rebuild(self, day: str) -> None:
        """Seed the day's totals from durable records, once per day and Redis."""
        if self._spent_on is None:
            return
        spent = self._spent_on(day)
        models = sorted(spent)
        keys = [f"{PREFIX}:seeded:{day}", *(self._key("day", m) for m in models)]
        args: list[Any] = [day, 3 * 86_400]
        for model in models:
            usd, tokens = spent[model]
            args += [repr(float(usd)), int(tokens)]
        self._seed(keys=keys, args=args)

    @staticmethod
    def _key(kind: str, model: str) -> str:
        return f"{PREFIX}:{kind}:{{{model}}}"

    @_guarded
    def usage(self, models: Iterable[str], now: float, day: str) -> dict[str, ModelUsage]:
        """Current usage of each named model, read in one round trip (after rebuilding the
        day's budgets if this Redis has not seen the day yet)."""
        names = list(models)
        pipe = self._redis.pipeline(transaction=False)
        edge = now - WINDOW_S
        for name in names:
            pipe.zcount(self._key("req", name), f"({edge}", "+inf")
            pipe.zrangebyscore(self._key("tok", name), f"({edge}", "+inf")
            pipe.hmget(self._key("day", name), [f"{day}:usd", f"{day}:tokens"])
            pipe.get(self._key("fail", name))
            pipe.get(self._key("cool", name))
        pipe.exists(f"{PREFIX}:seeded:{day}")
        raw: list[Any] = pipe.execute()
        if self._spent_on is not None and not raw[-1]:
            self._rebuild(day)
            return self.usage(names, now, day)
        out: dict[str, ModelUsage] = {}
        for i, name in enumerate(names):
            rpm, tokens, (usd, day_tokens), fails, cool = raw[i * 5 : i * 5 + 5]
            out[name] = ModelUsage(
                rpm=int(rpm),
                tpm=int(_sum_members(tokens, 1)),
                usd_today=float(usd or 0.0),
                tokens_today=int(day_tokens or 0),
                consecutive_failures=int(fails or 0),
                cooldown_until=float(cool) if cool is not None else None,
            )
        return out

    @_guarded
    def admit(self, model: str, rpm_cap: int, now: float) -> bool:
        """Atomically count one request if the trailing minute has room."""
        member = f"{now}:{uuid.uuid4().hex}"
        return bool(
            self._admit(keys=[self._key("req", model)], args=[now, WINDOW_S, rpm_cap, member])
        )

    @_guarded
    def record_usage(self, model: str, tokens: int, usd: float, now: float, day: str) -> None:
        """Add a finished call's tokens and dollars."""
        unique = uuid.uuid4().hex[:12]
        pipe = self._redis.pipeline(transaction=True)
        tok_key = self._key("tok", model)
        pipe.zadd(tok_key, {f"{unique}:{tokens}": now})
        pipe.zremrangebyscore(tok_key, "-inf", now - WINDOW_S)
        pipe.expire(tok_key, int(WINDOW_S) + 5)
        spend_key = self._key("spend", model)
        pipe.zadd(spend_key, {f"{unique}:{usd!r}:{tokens}": now})
        pipe.zremrangebyscore(spend_key, "-inf", now - SPEND_HISTORY_S)
        pipe.expire(spend_key, int(SPEND_HISTORY_S) + 60)
        day_key = self._key("day", model)
        pipe.hincrbyfloat(day_key, f"{day}:usd", usd)
        pipe.hincrby(day_key, f"{day}:tokens", tokens)
        pipe.expire(day_key, 3 * 86_400)
        pipe.execute()

    @_guarded
    def record_failure(self, model: str, now: float, threshold: int, cooldown_s: float) -> bool:
        """Count a failure; start a cooldown when the threshold is reached."""
        keys = [self._key("fail", model), self._key("cool", model)]
        started = self._fail(keys=keys, args=[threshold, int(cooldown_s * 1000), now + cooldown_s])
        return bool(started)

    @_guarded
    def record_success(self, model: str) -> None:
        """Reset consecutive failures."""
        self._redis.delete(self._key("fail", model))

    @_guarded
    def spend(self, model: str, since: float, now: float) -> Spend:
        """Dollars and tokens spent in (since, now]."""
        members: list[bytes] = self._redis.zrangebyscore(
            self._key("spend", model), f"({since}", now
        )
        return Spend(_sum_members(members, 1), int(_sum_members(members, 2)))

    def probe(self) -> Probe:
        """PING Redis."""
        started = time.perf_counter()
        try:
            ok = bool(self._redis.ping())
            detail = "redis: shared counters, kept across restarts"
        except redis.RedisError as exc:
            ok, detail = False, f"redis: {type(exc).__name__}"
        return Probe("counters", ok, (time.perf_counter() - started) * 1000, detail)
