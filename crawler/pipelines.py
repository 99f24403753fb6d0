"""Item pipelines: normalize each fetched capture and store it."""

from dataclasses import asdict
from typing import Self

from scrapy.crawler import Crawler

from crawler.archive import is_policy_move
from crawler.items import CaptureItem
from db import Store
from tracker.normalize import normalize


class StorePipeline:
    """Normalize fetched captures and save every capture to the SQLite store.

    At the end of the crawl, each policy that received captures gets its versions, revisions and
    clause changes brought up to date.
    """

    def __init__(self, crawler: Crawler, db_path: str) -> None:
        self.crawler = crawler
        self.db_path = db_path
        self.touched: set[int] = set()
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read the database path from the ``POLICYTRAIL_DB`` setting."""
        return cls(crawler, crawler.settings.get("POLICYTRAIL_DB"))

    def open_spider(self) -> None:
        """Open the store."""
        self.store = Store(self.db_path)

    def close_spider(self) -> None:
        """Recompute revisions of the policies this crawl touched, then close the store."""
        assert self.store is not None
        stats = self.crawler.stats
        for policy_id in sorted(self.touched):
            new_revisions = self.store.refresh(policy_id)
            if stats:
                stats.inc_value("policytrail/new_revisions", new_revisions)
        self.store.close()

    def process_item(self, item: CaptureItem) -> CaptureItem:
        """Normalize a fetched capture and save it; a non-policy page is saved with its reason."""
        assert self.store is not None
        capture = asdict(item)
        body, headers = capture.pop("body"), capture.pop("headers")
        markdown = title = None
        if item.outcome == "version" and body is not None:
            result = normalize(body, headers=headers, url=item.url)
            if result.reason:
                capture.update(outcome="not-a-version", reason=result.reason)
            else:
                markdown, title = result.markdown, result.title
        self.store.save_capture(
            capture, body=body, headers=headers, markdown=markdown, title=title
        )
        if item.outcome == "redirect" and item.redirect_to and is_policy_move(item.redirect_to):
            self.store.add_policy_url(item.policy_id, item.redirect_to, found_via="redirect")
        self.touched.add(item.policy_id)
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"policytrail/outcome/{capture['outcome']}")
        return item
