"""Run a crawl from Python (what ``policytrail crawl`` calls) and report what it did."""

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy import Spider, signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawler.archive import Archive
from crawler.spiders.wayback import Plan, WaybackSpider


class ArchiveUnreachable(Exception):
    """The archive does not answer; the message is meant for people."""


@dataclass
class CrawlResult:
    """What a crawl did: Scrapy's statistics, and the plan per policy."""

    stats: dict[str, Any]
    plan: list[Plan] = field(default_factory=list)

    def count(self, name: str) -> int:
        """One of the ``policytrail/`` statistics."""
        return int(self.stats.get(f"policytrail/{name}", 0))


def check_reachable(archive: Archive, *, timeout: float = 15.0) -> None:
    """Raise :class:`ArchiveUnreachable` unless the archive's host accepts connections."""
    parts = urlsplit(archive.base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise ArchiveUnreachable(f"cannot reach the archive at {archive.base}: {reason}") from None


def crawl_settings(
    db_path: str,
    *,
    cdx_per_minute: float | None = None,
    captures_per_second: float | None = None,
    log_level: str = "WARNING",
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """The project's Scrapy settings, with the database path and rate overrides applied."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("POLICYTRAIL_DB", db_path, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    if cdx_per_minute is not None:
        settings.set("ARCHIVE_CDX_PER_MINUTE", cdx_per_minute, priority="cmdline")
    if captures_per_second is not None:
        settings.set("ARCHIVE_CAPTURES_PER_SECOND", captures_per_second, priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def crawl_archive(
    settings: Settings,
    archive: Archive | None,
    *,
    spider: type[Spider] = WaybackSpider,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    redis_url: str | None = None,
    worker: bool = False,
    spider_args: Mapping[str, str] | None = None,
) -> CrawlResult:
    """Run a spider (``wayback`` by default) against the archive; return what it did.

    ``spider_args`` are the spider's arguments (for ``wayback``: ``policy``, ``every``,
    ``from_date``, ``to_date``, ``full``, ``collapse``, ``dry_run``). ``on_progress`` is called
    with the statistics after each item and response. This runs Twisted's reactor, so it can be
    called once per process.

    With ``redis_url`` the crawl is shared through Redis (see :mod:`crawler.redis_run`): this
    process begins a run seeded from the database and works on it, or, with ``worker``, joins
    the run going on (``archive`` is then None: the run says which archive, and its other
    arguments). Items then go to Redis for ``policytrail ingest``; the statistics returned are
    this process's share of the run. An error that keeps the spider from starting is raised
    here, e.g. :class:`~crawler.redis_run.RunInProgress` or
    :class:`~crawler.redis_run.NoRunToJoin`.
    """
    arguments = dict(spider_args or {})
    if redis_url:
        settings.set("REDIS_URL", redis_url, priority="cmdline")
        if worker:
            arguments["worker"] = "1"
    elif worker:
        raise ValueError("a worker joins a crawl shared through Redis: give redis_url")
    if archive is not None:
        check_reachable(archive)
        arguments["archive"] = archive.base
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)
    if on_progress is not None:

        def report(*_: Any, **__: Any) -> None:
            if crawler.stats:
                on_progress(crawler.stats.get_stats())

        crawler.signals.connect(report, signal=signals.item_scraped)
        crawler.signals.connect(report, signal=signals.response_received)
    failures: list[Failure] = []
    process.crawl(crawler, **arguments).addErrback(failures.append)
    process.start()
    if failures:
        # The spider could not start (e.g. RunInProgress, NoRunToJoin): the caller is told.
        failures[0].raiseException()
    plan = list(crawler.spider.plan.values()) if isinstance(crawler.spider, WaybackSpider) else []
    return CrawlResult(crawler.stats.get_stats() if crawler.stats else {}, plan)
