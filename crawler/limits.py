"""Rate limits and pauses per archive host: token buckets for CDX queries and capture fetches.

A token bucket refills at ``rate`` tokens a second up to ``capacity``; each request takes one
token, and a request that finds the bucket empty waits until its token has accrued. Tokens are
reserved in arrival order (the count may go below zero), so waiting requests are served fairly
and the long-run rate never exceeds ``rate``.

A pause (after a 429) stops every request to a host until it ends; tokens are reserved only
outside pauses, so no burst follows one.

:class:`LocalLimits` keeps buckets and pauses in this process; :class:`RedisLimits` keeps them
in Redis, shared by the workers of a crawl spread over several processes or machines.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis

#: Request kinds with their own bucket.
KINDS = ("cdx", "capture")


@dataclass
class Rate:
    """Requests per second allowed, and how many may go at once after an idle spell."""

    per_second: float
    burst: float = 1.0

    @property
    def unlimited(self) -> bool:
        """True when no limit applies."""
        return self.per_second <= 0


@dataclass
class TokenBucket:
    """One token bucket; time is passed in, so it is exact and testable."""

    rate: Rate
    tokens: float = field(init=False)
    updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tokens = self.rate.burst

    def reserve(self, now: float) -> float:
        """Take one token; return how many seconds to wait before using it."""
        if self.rate.unlimited:
            return 0.0
        if self.updated is not None:
            elapsed = max(0.0, now - self.updated)
            self.tokens = min(self.rate.burst, self.tokens + elapsed * self.rate.per_second)
        self.updated = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate.per_second


class Limits(Protocol):
    """Where rate limits and pauses are kept: this process, or a store shared by workers."""

    def reserve(self, host: str, kind: str) -> float:
        """Take a token for a request of ``kind`` to ``host``; return seconds to wait."""
        ...

    def pause(self, host: str, seconds: float) -> None:
        """Stop requests to ``host`` for ``seconds`` (extending, never shortening, a pause)."""
        ...

    def pause_left(self, host: str) -> float:
        """Seconds until requests to ``host`` may go again (0 if not paused)."""
        ...


class LocalLimits:
    """Token buckets and pauses kept in this process."""

    def __init__(
        self,
        rate_for: Callable[[str, str], Rate],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_for = rate_for
        self.clock = clock
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self.paused_until: dict[str, float] = {}

    def reserve(self, host: str, kind: str) -> float:
        """Take a token for a request of ``kind`` to ``host``; return seconds to wait."""
        bucket = self.buckets.get((host, kind))
        if bucket is None:
            bucket = self.buckets[(host, kind)] = TokenBucket(self.rate_for(host, kind))
        return bucket.reserve(self.clock())

    def pause(self, host: str, seconds: float) -> None:
        """Stop requests to ``host`` for ``seconds``."""
        until = self.clock() + seconds
        self.paused_until[host] = max(self.paused_until.get(host, 0.0), until)

    def pause_left(self, host: str) -> float:
        """Seconds until requests to ``host`` may go again."""
        return max(0.0, self.paused_until.get(host, 0.0) - self.clock())


_RESERVE = """
-- KEYS: the bucket; ARGV: rate a second, burst (a rate published in the bucket wins)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'rate', 'burst')
local rate = tonumber(bucket[3] or ARGV[1])
local burst = tonumber(bucket[4] or ARGV[2])
if rate <= 0 then return '0' end
local tokens = tonumber(bucket[1] or burst)
if bucket[2] then
  tokens = math.min(burst, tokens + math.max(0, now - tonumber(bucket[2])) * rate)
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
  'updated', string.format('%.6f', now))
if tokens >= 0 then return '0' end
return string.format('%.6f', -tokens / rate)
"""

_PAUSE = """
-- KEYS: the pause; ARGV: milliseconds. Extend the pause, never shorten it.
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class RedisLimits:
    """Token buckets and pauses kept in Redis, shared by every worker that uses it.

    Each reservation is one Lua script on Redis's clock, so workers on machines whose clocks
    disagree still share one bucket exactly. A pause is a key that expires when it ends. The
    rate a seeder :meth:`publish`-es for a host wins over each worker's own settings, so every
    worker of a run keeps the same limits.
    """

    def __init__(
        self,
        server: redis.Redis,
        rate_for: Callable[[str, str], Rate],
        prefix: str = "policytrail:limits",
    ) -> None:
        self.server = server
        self.rate_for = rate_for
        self.prefix = prefix
        self._reserve = server.register_script(_RESERVE)
        self._pause = server.register_script(_PAUSE)

    def _bucket(self, host: str, kind: str) -> str:
        return f"{self.prefix}:{host}:{kind}"

    def publish(self, host: str, kind: str, rate: Rate) -> None:
        """Set the rate every worker uses for requests of ``kind`` to ``host``."""
        self.server.hset(
            self._bucket(host, kind), mapping={"rate": rate.per_second, "burst": rate.burst}
        )

    def reserve(self, host: str, kind: str) -> float:
        """Take a token for a request of ``kind`` to ``host``; return seconds to wait."""
        rate = self.rate_for(host, kind)
        wait = self._reserve(keys=[self._bucket(host, kind)], args=[rate.per_second, rate.burst])
        return float(wait)

    def pause(self, host: str, seconds: float) -> None:
        """Stop requests to ``host`` for ``seconds``, on every worker."""
        milliseconds = max(1, int(seconds * 1000))
        self._pause(keys=[f"{self.prefix}:{host}:pause"], args=[milliseconds])

    def pause_left(self, host: str) -> float:
        """Seconds until requests to ``host`` may go again."""
        return max(0, int(self.server.pttl(f"{self.prefix}:{host}:pause"))) / 1000.0
