"""The ``wayback`` spider: list each tracked policy's captures through CDX and fetch them raw.

    scrapy crawl wayback -a archive=http://127.0.0.1:8080/web -s POLICYTRAIL_DB=policytrail.db

Arguments (strings, as Scrapy passes them):

- ``archive``: the archive's URL (default the Internet Archive);
- ``policy``: a policy name or id (default every tracked policy);
- ``every``: ``all`` (default), ``day``, ``month``, ``quarter``, ``half-year`` or ``year``: fetch
  one capture per interval, the one nearest its middle;
- ``from_date``, ``to_date``: limit the captures listed (``2015``, ``20150601``);
- ``full``: ``1`` lists every capture again instead of only those newer than the last seen;
- ``collapse``: ``1`` asks CDX to drop adjacent captures with the same digest;
- ``dry_run``: ``1`` lists captures and plans, but fetches and stores nothing (see ``plan``);
- ``worker``: ``1`` joins a crawl shared through Redis (``-s REDIS_URL=...``) and takes the
  other arguments from it; without it, a crawl with ``REDIS_URL`` starts a shared run, seeded
  from the database (see :mod:`crawler.redis_run`).

Captures already stored are not fetched again; captures whose fetch failed are. A capture with
the same URL and digest as one already fetched has the same bytes: it is recorded as the same
version without fetching it.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, DownloadCancelledError
from scrapy.http import Response
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from waybackpy.cdx_snapshot import CDXSnapshot

from crawler.archive import DEFAULT_ARCHIVE, Archive, is_policy_move, original_url, parse_cdx
from crawler.items import CaptureItem
from crawler.limits import KINDS, RedisLimits
from crawler.middlewares import archive_rate
from crawler.redis_run import RedisCrawlState, RedisRun, worker_name
from crawler.selection import INTERVALS, select
from crawler.state import CrawlState, LocalCrawlState
from db import Store

#: The spider arguments a shared run hands to its workers.
RUN_ARGUMENTS = ("archive", "every", "from_date", "to_date", "collapse")


def _int_or_none(value: str) -> int | None:
    """A CDX number, or None for ``-``."""
    return int(value) if value.isdigit() else None


def _flag(value: str | bool) -> bool:
    """A spider argument that is a yes/no flag."""
    return str(value).lower() in ("1", "true", "yes", "on")


@dataclass
class Plan:
    """What a crawl of one policy lists and would fetch (filled in by a dry run too)."""

    name: str
    listed: int = 0
    new: int = 0
    to_fetch: int = 0
    cdx_requests: int = 0


class WaybackSpider(scrapy.Spider):
    """List and fetch the captures of tracked policies from a Wayback-compatible archive."""

    name = "wayback"

    def __init__(
        self,
        archive: str = DEFAULT_ARCHIVE,
        policy: str | None = None,
        every: str = "all",
        from_date: str | None = None,
        to_date: str | None = None,
        full: str = "0",
        collapse: str = "0",
        dry_run: str = "0",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if every not in INTERVALS:
            raise ValueError(f"every must be one of {', '.join(INTERVALS)}, not {every!r}")
        self.archive = Archive.from_url(archive)
        self.policy_ref = policy
        self.every = every
        self.from_date = from_date
        self.to_date = to_date
        self.full = _flag(full)
        self.collapse = _flag(collapse)
        self.dry_run = _flag(dry_run)
        self.policy_ids: list[int] = []
        self.plan: dict[int, Plan] = {}
        self.listed_urls: set[tuple[int, str]] = set()
        self.settled: dict[int, set[tuple[str, str]]] = {}
        self.known_digests: set[tuple[int, str, str]] = set()
        self.waiting: dict[tuple[int, str, str], list[CaptureItem]] = defaultdict(list)
        #: Listings with pages still to come, and the newest timestamp each listing showed.
        self.open_listings: set[tuple[int, str]] = set()
        self.listed_up_to: dict[tuple[int, str], str] = {}

    async def start(self) -> AsyncIterator[scrapy.Request | CaptureItem]:
        """Retry failed captures, then list each policy URL's captures."""
        store = Store(self.settings.get("POLICYTRAIL_DB"))
        try:
            policies = [store.policy(self.policy_ref)] if self.policy_ref else store.policies()
            retries: list[CaptureItem] = []
            listings: list[tuple[int, str, str | None]] = []
            for policy in policies:
                pid = policy["id"]
                self.policy_ids.append(pid)
                self.plan[pid] = Plan(policy["name"])
                self.settled[pid] = store.settled_captures(pid)
                self.known_digests |= {(pid, *key) for key in store.fetched_digests(pid)}
                for url, listed_until in store.listed_until(pid).items():
                    marks = [self.from_date, None if self.full else listed_until]
                    listings.append((pid, url, max(filter(None, marks), default=None)))
                retries += [self._stored_capture(row) for row in store.failed_captures(pid)]
        finally:
            store.close()
        if not self.dry_run:
            for capture in retries:
                self._settle(capture)
                yield self.capture_request(capture)
        for policy_id, url, since in listings:
            yield self.cdx_request(policy_id, url, since=since)

    def _stored_capture(self, row: dict) -> CaptureItem:
        """A capture recorded by an earlier run, as an item to fetch again."""
        fields = ("policy_id", "url", "timestamp", "status", "mimetype", "digest", "length")
        return CaptureItem(**{name: row[name] for name in fields}, outcome="version")

    def cdx_request(
        self,
        policy_id: int,
        url: str,
        *,
        since: str | None = None,
        resume_key: str | None = None,
    ) -> scrapy.Request:
        """The request listing a policy URL's captures (one page of them)."""
        self.listed_urls.add((policy_id, url))
        self.open_listings.add((policy_id, url))
        self.plan[policy_id].cdx_requests += 1
        query = self.archive.cdx_query(
            url,
            since=since,
            until=self.to_date,
            collapse=self.collapse,
            resume_key=resume_key,
            page_size=self.settings.getint("CDX_PAGE_SIZE", 0),
        )
        return scrapy.Request(
            query,
            callback=self.parse_cdx,
            errback=self.cdx_failed,
            cb_kwargs={"policy_id": policy_id, "url": url, "since": since},
            meta={"policytrail_kind": "cdx"},
            dont_filter=True,
        )

    def parse_cdx(
        self, response: Response, policy_id: int, url: str, since: str | None
    ) -> Iterator[scrapy.Request | CaptureItem]:
        """Record or fetch the captures on one page of a CDX answer; ask for the next page."""
        page = parse_cdx(response.text)
        plan = self.plan[policy_id]
        self._count("cdx_malformed", page.malformed)
        self._count("listed", len(page.snapshots))
        plan.listed += len(page.snapshots)
        listing = (policy_id, url)
        newest = max((s.timestamp for s in page.snapshots), default=since or "")
        self.listed_up_to[listing] = max(self.listed_up_to.get(listing, ""), newest)
        if page.resume_key:
            yield self.cdx_request(policy_id, url, since=since, resume_key=page.resume_key)
        else:
            self.open_listings.discard(listing)
        new = [
            snapshot
            for snapshot in page.snapshots
            if (snapshot.original, snapshot.timestamp) not in self.settled[policy_id]
        ]
        self._count("skipped", len(page.snapshots) - len(new))
        plan.new += len(new)
        for snapshot in select(new, self.every):
            capture = self._capture(policy_id, snapshot)
            action = self._route(capture, plan)
            if not self.dry_run:
                self._settle(capture)
                if action is not None:
                    yield action

    def completed_listings(self) -> dict[tuple[int, str], str]:
        """``(policy_id, url)`` of every listing that was read to its end, with its newest
        timestamp: once every capture it listed is settled, the next crawl starts there."""
        return {
            listing: newest
            for listing, newest in self.listed_up_to.items()
            if listing not in self.open_listings and newest
        }

    def _route(self, capture: CaptureItem, plan: Plan) -> scrapy.Request | CaptureItem | None:
        """What to do with a new capture: record it, fetch it, or wait for its twin's fetch.

        An archived 4xx/5xx is recorded, not fetched. A capture with the URL and digest of a
        stored one has its bytes: it is recorded as a copy. One whose twin is being fetched
        waits for it (:meth:`_release_copies`).
        """
        if capture.status is not None and capture.status >= 400:
            return replace(
                capture, outcome="http-error", reason=f"archived with HTTP {capture.status}"
            )
        if capture.digest is not None:
            key = (capture.policy_id, capture.url, capture.digest)
            if key in self.known_digests:
                return capture  # linked to its stored twin by the pipeline
            if key in self.waiting:
                self.waiting[key].append(capture)
                return None
            self.waiting[key] = []
        plan.to_fetch += 1
        return self.capture_request(capture)

    def _capture(self, policy_id: int, snapshot: CDXSnapshot) -> CaptureItem:
        """The item for a CDX row, before its fetch."""
        return CaptureItem(
            policy_id=policy_id,
            url=snapshot.original,
            timestamp=snapshot.timestamp,
            outcome="version",
            status=_int_or_none(snapshot.statuscode),
            mimetype=None if snapshot.mimetype == "-" else snapshot.mimetype,
            digest=None if snapshot.digest == "-" else snapshot.digest,
            length=_int_or_none(snapshot.length),
        )

    def _settle(self, capture: CaptureItem) -> None:
        """Note that this run takes care of a capture, so no other listing adds it again."""
        self.settled[capture.policy_id].add((capture.url, capture.timestamp))

    def _release_copies(
        self, capture: CaptureItem, *, fetched: bool
    ) -> Iterator[scrapy.Request | CaptureItem]:
        """After a fetch, record the captures with the same bytes, or fetch them if it failed."""
        if capture.digest is None:
            return
        key = (capture.policy_id, capture.url, capture.digest)
        copies = self.waiting.pop(key, [])
        if fetched:
            self.known_digests.add(key)
            yield from copies
        else:
            for copy in copies:
                yield self.capture_request(copy)

    def capture_request(self, capture: CaptureItem, url: str | None = None) -> scrapy.Request:
        """The request for a capture's raw bytes; redirects are handled here, not followed."""
        return scrapy.Request(
            url or self.archive.capture_url(capture.timestamp, capture.url),
            callback=self.parse_capture,
            errback=self.capture_failed,
            cb_kwargs={"capture": capture},
            meta={
                "dont_redirect": True,
                "handle_httpstatus_all": True,
                "policytrail_kind": "capture",
            },
            dont_filter=True,
        )

    def parse_capture(
        self, response: Response, capture: CaptureItem
    ) -> Iterator[scrapy.Request | CaptureItem]:
        """Turn a fetched capture into an item; follow a policy that moved."""
        status = response.status
        fetched = replace(
            capture,
            body=response.body,
            headers={
                key.decode("latin-1"): values[0].decode("latin-1")
                for key, values in response.headers.items()
                if values
            },
        )
        if 300 <= status < 400:
            location = (response.headers.get("Location") or b"").decode("latin-1")
            target = original_url(response.urljoin(location)) if location else None
            if target == capture.url and "id_/" in location:
                # The archive's own redirect to a nearby capture of the same URL.
                yield self.capture_request(capture, response.urljoin(location))
                return
            self._count("fetched")
            yield replace(
                fetched,
                status=status,
                outcome="redirect",
                redirect_to=target,
                reason=f"HTTP {status} to {target}",
            )
            yield from self._release_copies(capture, fetched=True)
            moved = (capture.policy_id, target)
            if target and is_policy_move(target) and moved not in self.listed_urls:
                yield self.cdx_request(capture.policy_id, target, since=self.from_date)
        elif status == 200:
            self._count("fetched")
            yield fetched
            yield from self._release_copies(capture, fetched=True)
        else:
            yield replace(capture, outcome="failed", reason=f"archive answered HTTP {status}")
            yield from self._release_copies(capture, fetched=False)

    def capture_failed(self, failure: Failure) -> Iterator[scrapy.Request | CaptureItem]:
        """Record a capture whose fetch failed (the next crawl tries again), or was too large."""
        capture = failure.request.cb_kwargs["capture"]  # type: ignore[attr-defined]
        if failure.check(DownloadCancelledError):
            limit = self.settings.getint("DOWNLOAD_MAXSIZE")
            yield replace(
                capture, outcome="not-a-version", reason=f"too large: over {limit:,} bytes"
            )
        else:
            reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"[:300]
            yield replace(capture, outcome="failed", reason=reason)
        yield from self._release_copies(capture, fetched=False)

    def cdx_failed(self, failure: Failure) -> None:
        """Count and log a CDX query that failed after its retries."""
        self._count("cdx_failed")
        url = failure.request.url  # type: ignore[attr-defined]
        self.logger.error("CDX query failed: %s: %s", url, failure.getErrorMessage())

    def _count(self, name: str, count: int = 1) -> None:
        """Add to one of the crawl's ``policytrail/`` statistics."""
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"policytrail/{name}", count)
