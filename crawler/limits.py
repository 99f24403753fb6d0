"""Rate limits and pauses per archive host: token buckets for CDX queries and capture fetches.

A token bucket refills at ``rate`` tokens a second up to ``capacity``; each request takes one
token, and a request that finds the bucket empty waits until its token has accrued. Tokens are
reserved in arrival order (the count may go below zero), so waiting requests are served fairly
and the long-run rate never exceeds ``rate``.

A pause (after a 429) stops every request to a host until it ends; tokens are reserved only
outside pauses, so no burst follows one.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

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
