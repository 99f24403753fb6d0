"""Downloader middlewares of the crawler."""

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.internet import reactor

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


class TooManyRequestsMiddleware:
    """Pause the whole crawl when the archive answers 429, then try the request again.

    The pause lasts ``Retry-After`` when the archive gives one, else ``ARCHIVE_429_PAUSE`` seconds
    (60 by default), doubling while 429s continue. After ``ARCHIVE_429_RETRIES`` tries the 429
    is passed on and the capture is recorded as failed.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.base_pause = crawler.settings.getfloat("ARCHIVE_429_PAUSE", 60.0)
        self.max_retries = crawler.settings.getint("ARCHIVE_429_RETRIES", 5)
        self.pause = self.base_pause

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware from the crawler's settings."""
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        """Pause and retry on a 429; pass every other response on."""
        if response.status != 429:
            self.pause = self.base_pause
            return response
        tries = request.meta.get("policytrail_429_tries", 0) + 1
        if tries > self.max_retries:
            return response
        pause = retry_after_seconds(response.headers.get("Retry-After"))
        pause = max(pause if pause is not None else self.pause, 1.0)
        self.pause = min(self.pause * 2, 3600.0)
        logger.warning("archive answered 429 to %s: pausing %.0f s", request.url, pause)
        engine = self.crawler.engine
        if engine is not None:
            engine.pause()
            reactor.callLater(pause, engine.unpause)  # type: ignore[attr-defined,arg-type]
        retry = request.replace(dont_filter=True)
        retry.meta["policytrail_429_tries"] = tries
        return retry
