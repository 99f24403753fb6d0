"""Downloader middlewares: keep the crawl within an archive's limits, whatever happens.

:class:`ArchivePolitenessMiddleware` sits next to the downloader. Before a request goes out it
waits for (1) the end of any pause of its host, (2) exponential backoff if it is a retry, (3) a
token from its host's bucket for its kind (``cdx`` or ``capture``), and (4) a free place among
the host's ``ARCHIVE_CONCURRENCY`` requests in flight. Holding that place until the answer
comes means nothing waits in Scrapy's download queue, so once a 429 starts a pause no further
request reaches the host until it ends. With ``REDIS_URL`` set, buckets and pauses are kept in
Redis and shared by every worker (the concurrency cap stays per worker).
"""

import asyncio
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis import connection

from crawler.limits import Limits, LocalLimits, Rate, RedisLimits

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def archive_rate(settings: BaseSettings, host: str, kind: str) -> Rate:
    """The rate for requests of ``kind`` to ``host``: ``ARCHIVE_RATES[host]`` or the defaults.

    ``ARCHIVE_RATES`` maps a host (``web.archive.org``, ``127.0.0.1:8080``) to a dict with any of
    ``cdx_per_minute``, ``captures_per_second`` and ``burst``.
    """
    overrides = settings.getdict("ARCHIVE_RATES").get(host, {})
    burst = float(overrides.get("burst", settings.getfloat("ARCHIVE_BURST", 1.0)))
    if kind == "cdx":
        per_minute = overrides.get("cdx_per_minute", settings.getfloat("ARCHIVE_CDX_PER_MINUTE"))
        return Rate(float(per_minute) / 60.0, burst)
    per_second = overrides.get(
        "captures_per_second", settings.getfloat("ARCHIVE_CAPTURES_PER_SECOND")
    )
    return Rate(float(per_second), burst)


class ArchivePolitenessMiddleware:
    """Token buckets per host and kind, 429 pauses, retry backoff and a per-host concurrency cap.

    On a 429 the host pauses for ``Retry-After`` seconds when given, else ``ARCHIVE_429_PAUSE``
    (60 s by default), doubling while 429s continue (up to ``ARCHIVE_429_MAX_PAUSE``); the request
    is tried again after the pause, up to ``ARCHIVE_429_RETRIES`` times.
    """

    def __init__(self, crawler: Crawler, limits: Limits) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.limits = limits
        self.base_pause = settings.getfloat("ARCHIVE_429_PAUSE", 60.0)
        self.max_pause = settings.getfloat("ARCHIVE_429_MAX_PAUSE", 3600.0)
        self.max_429s = settings.getint("ARCHIVE_429_RETRIES", 5)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 120.0)
        self.concurrency = settings.getint("ARCHIVE_CONCURRENCY", 2)
        self.next_pause: dict[str, float] = {}
        self.gates: dict[str, asyncio.Semaphore] = {}
        self.in_flight: set[int] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware with limits kept in this process, or in Redis when ``REDIS_URL``
        is set (workers of one crawl then share them)."""
        settings = crawler.settings

        def rate_for(host: str, kind: str) -> Rate:
            return archive_rate(settings, host, kind)

        if settings.get("REDIS_URL"):
            server = connection.get_redis_from_settings(settings)
            return cls(crawler, RedisLimits(server, rate_for))
        return cls(crawler, LocalLimits(rate_for))

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Wait until the request may go: pause, backoff, token, and a place in flight."""
        host = urlparse_cached(request).netloc
        kind = request.meta.get("policytrail_kind", "capture")
        retries = request.meta.get("retry_times", 0)
        if retries:
            await asyncio.sleep(min(self.backoff_max, self.backoff_base * 2 ** (retries - 1)))
        gate = self.gates.setdefault(host, asyncio.Semaphore(self.concurrency))
        while True:
            await self._wait_out_pause(host)
            await asyncio.sleep(self.limits.reserve(host, kind))
            await gate.acquire()
            if self.limits.pause_left(host) <= 0:
                break
            gate.release()  # a pause began while we waited: start again
        self.in_flight.add(id(request))
        request.meta["policytrail_sent_at"] = time.time()

    async def _wait_out_pause(self, host: str) -> None:
        """Sleep until the host's pause, if any, is over."""
        while (left := self.limits.pause_left(host)) > 0:
            await asyncio.sleep(left)

    def _release(self, request: Request) -> None:
        """Give back the request's place in flight."""
        if id(request) in self.in_flight:
            self.in_flight.discard(id(request))
            self.gates[urlparse_cached(request).netloc].release()

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """On a 429, pause the host and try the request again; pass every other answer on."""
        self._release(request)
        host = urlparse_cached(request).netloc
        if response.status != 429:
            self.next_pause.pop(host, None)
            return response
        tries = request.meta.get("policytrail_429s", 0) + 1
        given = retry_after_seconds(response.headers.get("Retry-After"))
        pause = given if given is not None else self.next_pause.get(host, self.base_pause)
        self.next_pause[host] = min(self.max_pause, max(pause, self.base_pause) * 2)
        self.limits.pause(host, pause)
        if self.crawler.stats:
            self.crawler.stats.inc_value("policytrail/429_pauses")
        logger.warning("%s answered 429: pausing every request to it for %.0f s", host, pause)
        if tries > self.max_429s:
            return response
        retry = request.replace(dont_filter=True)
        retry.meta["policytrail_429s"] = tries
        return retry

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        """Give back the place in flight of a request that failed."""
        self._release(request)
