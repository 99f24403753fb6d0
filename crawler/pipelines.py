"""Item pipelines: normalize each fetched capture and store it; record each run."""

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from typing import Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from crawler.archive import is_policy_move
from crawler.items import CaptureItem, PolicyLinkItem
from db import PolicyNotFound, Store
from tracker.normalize import normalize


def failure_kind(reason: str | None) -> str:
    """A failure reason without its details: ``TimeoutError`` from ``TimeoutError: ...``."""
    return (reason or "unknown").split(":")[0][:80]


class CaptureRecorder:
    """The one writer's logic: normalize and store captures, and record the run.

    Used by :class:`StorePipeline` (one process crawls and writes) and by
    :func:`crawler.ingest.ingest` (many workers crawl, one process writes what they send through
    Redis), so both store exactly the same. A capture with no body whose URL and digest match a
    stored capture is saved as its copy; a redirect to another page of the site adds the URL to
    the policy (it moved).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.failures: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.versions_before = store.count("versions")
        self.run_id: int | None = None

    def start_run(self, archive: str) -> int:
        """Record the start of a run; return its id."""
        self.run_id = self.store.start_run(archive)
        return self.run_id

    def is_orphan_copy(self, item: CaptureItem) -> bool:
        """Whether the item is a copy of bytes that are not stored (yet)."""
        return (
            item.outcome == "version"
            and item.body is None
            and self.store.twin_capture(item.policy_id, item.url, item.digest or "") is None
        )

    def save(self, item: CaptureItem) -> str:
        """Normalize a fetched capture and save it (a non-policy page with its reason); return
        its outcome (``copy`` for a copy of stored bytes)."""
        capture = asdict(item)
        body, headers = capture.pop("body"), capture.pop("headers")
        markdown = title = None
        same_as = None
        if item.outcome == "version" and body is None:
            same_as = self.store.twin_capture(item.policy_id, item.url, item.digest or "")
            if same_as is None:
                capture.update(outcome="failed", reason="a copy of a capture that was not stored")
        elif item.outcome == "version":
            result = normalize(body, headers=headers, url=item.url)
            if result.reason:
                capture.update(outcome="not-a-version", reason=result.reason)
            else:
                markdown, title = result.markdown, result.title
        self.store.save_capture(
            capture, body=body, headers=headers, markdown=markdown, title=title, same_as=same_as
        )
        moved_to = item.redirect_to if item.outcome == "redirect" else None
        if moved_to and is_policy_move(item.url, moved_to):
            self.store.add_policy_url(item.policy_id, moved_to, found_via="redirect")
        outcome = "copy" if same_as else capture["outcome"]
        if outcome == "failed":
            self.failures[failure_kind(capture.get("reason"))] += 1
        self.outcomes[outcome] += 1
        return outcome

    def finish(
        self,
        *,
        reason: str,
        policy_ids: list[int],
        completed_listings: dict[tuple[int, str], str],
        counts: Mapping[str, int],
    ) -> dict[str, int]:
        """Bring the crawled policies up to date and record how the run ended.

        Only a run that ``finished`` marks its completed listings, so the next crawl lists only
        newer captures; every crawled policy gets its versions, revisions and clause changes
        brought up to date (so a run killed before this point is made good by the next).
        ``counts`` are the crawl's statistics (``listed``, ``fetched``, ``skipped``,
        ``cdx_failed``). Return the new versions and revisions.
        """
        if reason == "finished":
            for (policy_id, url), newest in completed_listings.items():
                self.store.mark_listed(policy_id, url, newest)
        new_revisions = sum(self.store.refresh(pid) for pid in policy_ids)
        new_versions = self.store.count("versions") - self.versions_before
        cdx_failed = counts.get("cdx_failed", 0)
        assert self.run_id is not None
        self.store.finish_run(
            self.run_id,
            status="failed" if cdx_failed else reason,
            policies=len(policy_ids),
            listed=counts.get("listed", 0),
            fetched=counts.get("fetched", 0),
            skipped=counts.get("skipped", 0),
            failed=self.outcomes["failed"],
            failures=json.dumps(dict(self.failures)),
            new_versions=new_versions,
            new_revisions=new_revisions,
            error=f"{cdx_failed} CDX queries failed" if cdx_failed else None,
        )
        return {"new_versions": new_versions, "new_revisions": new_revisions}


class StorePipeline:
    """Normalize fetched captures and save every capture to the SQLite store.

    The writing is :class:`CaptureRecorder`'s. Each run is recorded in the ``runs`` table. The
    run is finished on the ``spider_closed`` signal rather than in ``close_spider``, because
    only the signal tells why the crawl ended: if the crawl finished, each completely listed URL
    remembers how far it was listed. A dry run stores nothing.
    """

    def __init__(self, crawler: Crawler, db_path: str) -> None:
        self.crawler = crawler
        self.db_path = db_path
        self.recorder: CaptureRecorder | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read the database path from the ``POLICYTRAIL_DB`` setting."""
        pipeline = cls(crawler, crawler.settings.get("POLICYTRAIL_DB"))
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def dry_run(self) -> bool:
        """Whether the spider only plans."""
        return bool(getattr(self.crawler.spider, "dry_run", False))

    def open_spider(self) -> None:
        """Open the store and record the start of the run."""
        if self.dry_run:
            return
        self.recorder = CaptureRecorder(Store(self.db_path))
        archive = getattr(getattr(self.crawler.spider, "archive", None), "base", "")
        self.recorder.start_run(archive)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Bring crawled policies up to date, record the run's outcome, close the store."""
        if self.recorder is None:
            return
        stats = self.crawler.stats
        assert stats is not None
        completed_listings = getattr(spider, "completed_listings", None)
        summary = self.recorder.finish(
            reason=reason,
            policy_ids=getattr(spider, "policy_ids", []),
            completed_listings=completed_listings() if completed_listings else {},
            counts={
                name: int(stats.get_value(f"policytrail/{name}", 0))
                for name in ("listed", "fetched", "skipped", "cdx_failed")
            },
        )
        for name, value in summary.items():
            stats.set_value(f"policytrail/{name}", value)
        self.recorder.store.close()

    def process_item(self, item: CaptureItem) -> CaptureItem:
        """Normalize a fetched capture and save it; a non-policy page is saved with its reason."""
        assert self.recorder is not None
        outcome = self.recorder.save(item)
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"policytrail/outcome/{outcome}")
        return item


class DiscoveryPipeline:
    """Register the policies found on sites' home pages, each with its URLs over time."""

    def __init__(self, crawler: Crawler, db_path: str) -> None:
        self.crawler = crawler
        self.db_path = db_path
        self.links: list[PolicyLinkItem] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read the database path from the ``POLICYTRAIL_DB`` setting."""
        return cls(crawler, crawler.settings.get("POLICYTRAIL_DB"))

    def process_item(self, item: PolicyLinkItem) -> PolicyLinkItem:
        """Collect a link; they are registered together at the end."""
        self.links.append(item)
        return item

    def close_spider(self) -> None:
        """Register one policy per site and kind, with its URLs in order of first sighting."""
        store = Store(self.db_path)
        found: dict[str, dict[str, list[str]]] = {}
        for link in sorted(self.links, key=lambda link: link.timestamp):
            urls = found.setdefault(link.domain, {}).setdefault(link.kind, [])
            if link.url not in urls:
                urls.append(link.url)
        for domain, kinds in found.items():
            for kind, urls in kinds.items():
                name = f"{domain}-{kind}"
                try:
                    policy = store.policy(name)
                except PolicyNotFound:
                    policy = store.add_policy(urls[0], name=name, kind=kind)
                for url in urls:
                    store.add_policy_url(policy["id"], url, found_via="home page")
        for domain in getattr(self.crawler.spider, "domains", found):
            store.mark_discovered(domain, found.get(domain, {}))
        store.close()
