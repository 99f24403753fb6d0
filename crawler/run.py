"""Run a crawl from Python (what ``policytrail crawl`` calls) and report what it did."""

import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.archive import Archive
from crawler.spiders.wayback import WaybackSpider


class ArchiveUnreachable(Exception):
    """The archive does not answer; the message is meant for people."""


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
    db_path: str, *, delay: float | None = None, log_level: str = "WARNING"
) -> Settings:
    """The project's Scrapy settings, with the database path and overrides applied."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("POLICYTRAIL_DB", db_path, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    if delay is not None:
        settings.set("DOWNLOAD_DELAY", delay, priority="cmdline")
        if delay == 0:
            settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 8, priority="cmdline")
    return settings


def crawl_archive(
    db_path: str,
    archive: Archive,
    *,
    policy: str | None = None,
    delay: float | None = None,
    log_level: str = "WARNING",
) -> dict[str, Any]:
    """Crawl the archive for the tracked policies (or one) and return the crawl's statistics.

    The interesting keys are ``policytrail/listed``, ``policytrail/fetched``,
    ``policytrail/skipped``, ``policytrail/outcome/<outcome>``, ``policytrail/new_revisions``
    and ``policytrail/cdx_failed``. This runs Twisted's reactor, so it can be called once per
    process.
    """
    check_reachable(archive)
    process = CrawlerProcess(crawl_settings(db_path, delay=delay, log_level=log_level))
    crawler = process.create_crawler(WaybackSpider)
    process.crawl(crawler, archive=archive.base, policy=policy)
    process.start()
    return crawler.stats.get_stats() if crawler.stats else {}
