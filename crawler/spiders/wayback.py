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
- ``status``: a regular expression: only captures whose HTTP status matches are listed
  (``2..|3..`` skips archived errors);
- ``dry_run``: ``1`` lists captures and plans, but fetches and stores nothing (see ``plan``);
- ``worker``: ``1`` joins a crawl shared through Redis (``-s REDIS_URL=...``) and takes the
  other arguments from it; without it, a crawl with ``REDIS_URL`` starts a shared run, seeded
  from the database (see :mod:`crawler.redis_run`).

Captures already stored are not fetched again; captures whose fetch failed are. A capture with
the same URL and digest as one already fetched has the same bytes: it is recorded as the same
version without fetching it.
"""

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, DownloadCancelledError
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from waybackpy.cdx_snapshot import CDXSnapshot

from crawler.archive import DEFAULT_ARCHIVE, Archive, is_policy_move, original_url, parse_cdx
from crawler.items import CaptureItem
from crawler.limits import KINDS, Rate, RedisLimits
from crawler.middlewares import archive_rate
from crawler.redis_run import REDIS_SETTINGS, RedisCrawlState, RedisRun, worker_name
from crawler.selection import INTERVALS, select
from crawler.state import CrawlState, LocalCrawlState
from db import Store

#: The spider arguments a shared run hands to its workers.
RUN_ARGUMENTS = ("archive", "every", "from_date", "to_date", "collapse", "status")


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
        status: str = "",
        dry_run: str = "0",
        worker: str = "0",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._configure(
            archive=archive,
            every=every,
            from_date=from_date,
            to_date=to_date,
            collapse=collapse,
            status=status,
        )
        self.policy_ref = policy
        self.full = _flag(full)
        self.dry_run = _flag(dry_run)
        self.worker = _flag(worker)
        self.worker_id = worker_name()
        self.policy_ids: list[int] = []
        self.plan: dict[int, Plan] = {}
        self.state: CrawlState = LocalCrawlState()
        #: The shared run, when the crawl is spread over workers through Redis.
        self.run: RedisRun | None = None
        self._heartbeat: LoopingCall | None = None

    def _configure(
        self,
        *,
        archive: str,
        every: str,
        from_date: str | None,
        to_date: str | None,
        collapse: str,
        status: str | None = None,
    ) -> None:
        """Set the arguments that a shared run hands to its workers (see RUN_ARGUMENTS)."""
        if every not in INTERVALS:
            raise ValueError(f"every must be one of {', '.join(INTERVALS)}, not {every!r}")
        try:
            re.compile(status or "")
        except re.error as error:
            raise ValueError(f"status must be a regular expression: {error}") from None
        self.status = status or None
        self.archive = Archive.from_url(archive)
        self.every = every
        self.from_date = from_date or None
        self.to_date = to_date or None
        self.collapse = _flag(collapse)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Make the spider; with ``REDIS_URL``, start a shared run or join one as a worker."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        if crawler.settings.get("REDIS_URL"):
            if spider.dry_run:
                raise ValueError("a dry run plans in one process: leave out REDIS_URL")
            spider._share(crawler)
        elif spider.worker:
            raise ValueError("worker=1 joins a crawl shared through Redis: set REDIS_URL")
        return spider

    def _share(self, crawler: Crawler) -> None:
        """Begin (seeder) or join (worker) the run in Redis; keep the crawl's memory there."""
        settings = crawler.settings
        self.run = RedisRun.from_settings(settings, spider=self.name)
        if self.worker:
            wait = settings.getfloat("REDIS_JOIN_WAIT", REDIS_SETTINGS["REDIS_JOIN_WAIT"])
            self._configure(**self.run.join(self.worker_id, wait=wait))
        else:
            config = {
                "archive": self.archive.base,
                "every": self.every,
                "from_date": self.from_date,
                "to_date": self.to_date,
                "collapse": "1" if self.collapse else "0",
                "status": self.status or "",
            }
            self.run.begin(config, self.worker_id)

            def rate_for(host: str, kind: str) -> Rate:
                return archive_rate(settings, host, kind)

            # Every worker of the run keeps the seeder's limits.
            limits = RedisLimits(self.run.server, rate_for)
            host = urlsplit(self.archive.base).netloc
            for kind in KINDS:
                limits.publish(host, kind, rate_for(host, kind))
        self.state = RedisCrawlState(self.run)
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._idle, signal=signals.spider_idle)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    def _opened(self) -> None:
        """Start the worker's heartbeat; look at the shared queue often while idle."""
        assert self.run is not None and self.crawler.engine is not None
        # How often an idle engine asks its scheduler again (Scrapy's default is 5 s): other
        # workers add requests to the shared queue at any time.
        poll = self.settings.getfloat("REDIS_IDLE_POLL", REDIS_SETTINGS["REDIS_IDLE_POLL"])
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = poll
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.start(self.run.ttl_ms / 3000, now=False)

    def _beat(self) -> None:
        """Keep this worker alive in Redis; stop it if it was given up for gone."""
        assert self.run is not None
        if not self.run.heartbeat(self.worker_id):
            self.logger.error("this worker's heartbeat lapsed: the run went on without it")
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="lost"))

    def _idle(self) -> None:
        """Stay open until the whole run is over, not only this worker's part of it."""
        assert self.run is not None
        if not self.run.idle(self.worker_id):
            raise CloseSpider("lost")
        if not self.run.status().over:
            raise DontCloseSpider

    def _closed(self) -> None:
        """Stop the heartbeat and leave the run."""
        assert self.run is not None
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        self.run.leave(self.worker_id)

    async def start(self) -> AsyncIterator[scrapy.Request | CaptureItem]:
        """Retry failed captures, then list each policy URL's captures.

        A worker of a shared run starts nothing: it takes requests from the shared queue.
        """
        if self.worker:
            return
        store = Store(self.settings.get("POLICYTRAIL_DB"))
        try:
            retries, listings = self.read_database(store)
        finally:
            store.close()
        if not self.dry_run:
            for capture in retries:
                self.state.settle(capture)
                yield self.capture_request(capture)
        for policy_id, url, since in listings:
            self.state.start_listing(policy_id, url)
            yield self.cdx_request(policy_id, url, since=since)
        if self.run is not None:
            self.run.mark_seeded()

    def read_database(
        self, store: Store
    ) -> tuple[list[CaptureItem], list[tuple[int, str, str | None]]]:
        """The crawl's start-up work: take on each policy to crawl with what the database
        knows of it (settled captures, fetched digests); return the failed captures to fetch
        again and the listings to make, as ``(policy_id, url, since)``."""
        policies = [store.policy(self.policy_ref)] if self.policy_ref else store.policies()
        retries: list[CaptureItem] = []
        listings: list[tuple[int, str, str | None]] = []
        for policy in policies:
            pid = policy["id"]
            self.policy_ids.append(pid)
            self.plan[pid] = Plan(policy["name"])
            self.state.add_policy(
                pid, settled=store.settled_captures(pid), digests=store.fetched_digests(pid)
            )
            for url, listed_until in store.listed_until(pid).items():
                marks = [self.from_date, None if self.full else listed_until]
                listings.append((pid, url, max(filter(None, marks), default=None)))
            retries += [self._stored_capture(row) for row in store.failed_captures(pid)]
            self._keep_alive()
        return retries, listings

    def _keep_alive(self) -> None:
        """While a seeder reads a large database, keep its heartbeat going."""
        if self.run is not None and len(self.policy_ids) % 1000 == 0:
            self.run.heartbeat(self.worker_id)

    def _stored_capture(self, row: dict) -> CaptureItem:
        """A capture recorded by an earlier run, as an item to fetch again."""
        fields = ("policy_id", "url", "timestamp", "status", "mimetype", "digest", "length")
        return CaptureItem(**{name: row[name] for name in fields}, outcome="version")

    def _plan(self, policy_id: int) -> Plan:
        """The plan of a policy (a worker of a shared run meets policies as it goes)."""
        return self.plan.setdefault(policy_id, Plan(str(policy_id)))

    def cdx_request(
        self,
        policy_id: int,
        url: str,
        *,
        since: str | None = None,
        resume_key: str | None = None,
    ) -> scrapy.Request:
        """The request listing a policy URL's captures (one page of them)."""
        self._plan(policy_id).cdx_requests += 1
        query = self.archive.cdx_query(
            url,
            since=since,
            until=self.to_date,
            collapse=self.collapse,
            status=self.status,
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
        plan = self._plan(policy_id)
        self._count("cdx_malformed", page.malformed)
        self._count("listed", len(page.snapshots))
        plan.listed += len(page.snapshots)
        newest = max((s.timestamp for s in page.snapshots), default="")
        if not self.lists_everything:
            newest = ""  # a filtered listing settles nothing: the next crawl lists it all again
        self.state.listed_page(policy_id, url, newest, last=not page.resume_key)
        if page.resume_key:
            yield self.cdx_request(policy_id, url, since=since, resume_key=page.resume_key)
        fresh = self.state.new_captures(
            policy_id, [(snapshot.original, snapshot.timestamp) for snapshot in page.snapshots]
        )
        new = [snapshot for snapshot, is_new in zip(page.snapshots, fresh, strict=True) if is_new]
        stored = [
            snapshot for snapshot, is_new in zip(page.snapshots, fresh, strict=True) if not is_new
        ]
        self._count("skipped", len(stored))
        plan.new += len(new)
        for snapshot in select(new, self.every, covered=stored):
            capture = self._capture(policy_id, snapshot)
            if not self.dry_run:
                self.state.settle(capture)
            action = self._route(capture, plan)
            if not self.dry_run and action is not None:
                yield action

    @property
    def lists_everything(self) -> bool:
        """Whether this crawl lists and fetches every capture (no interval, date or status
        filter), so that a listing read to its end settles every capture up to its newest."""
        return self.every == "all" and not (
            self.from_date or self.to_date or self.status or self.collapse
        )

    def completed_listings(self) -> dict[tuple[int, str], str]:
        """``(policy_id, url)`` of every listing that was read to its end, with its newest
        timestamp: once every capture it listed is settled, the next crawl starts there."""
        return self.state.completed_listings()

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
            route = self.state.route(capture)
            if route == "copy":
                return capture  # linked to its stored twin by the pipeline
            if route == "wait":
                return None
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

    def _release_copies(
        self, capture: CaptureItem, *, fetched: bool
    ) -> Iterator[scrapy.Request | CaptureItem]:
        """After a fetch, record the captures with the same bytes, or fetch them if it failed."""
        if capture.digest is None:
            return
        copies = self.state.release(capture, fetched=fetched)
        if fetched:
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
            if (
                target
                and is_policy_move(capture.url, target)
                and self.state.start_listing(capture.policy_id, target)
            ):
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
        """Add to one of the crawl's ``policytrail/`` statistics (and the shared run's)."""
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"policytrail/{name}", count)
        if self.run is not None and count:
            self.run.count(name, count)
