"""The ``discover`` spider: find a site's privacy policy and terms on its home page over the years.

    scrapy crawl discover -a domains=example.com,example.org -a archive=URL

Arguments: ``domains`` (comma-separated; default every registered site not yet discovered),
``archive``, ``every`` (one home-page capture per ``year`` by default), ``from_date`` and
``to_date``. Each capture yields the best link of each kind; the pipeline registers one policy
per kind with every URL it had over time, which ``crawl`` then follows.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.archive import DEFAULT_ARCHIVE, Archive, parse_cdx
from crawler.discovery import find_policy_links
from crawler.items import PolicyLinkItem
from crawler.selection import INTERVALS, select
from db import Store


class DiscoverSpider(scrapy.Spider):
    """Find policy links on home-page captures of sites."""

    name = "discover"
    custom_settings = {"ITEM_PIPELINES": {"crawler.pipelines.DiscoveryPipeline": 300}}

    def __init__(
        self,
        domains: str = "",
        archive: str = DEFAULT_ARCHIVE,
        every: str = "year",
        from_date: str = "",
        to_date: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if every not in INTERVALS:
            raise ValueError(f"every must be one of {', '.join(INTERVALS)}, not {every!r}")
        self.domains = [d.strip().lower() for d in domains.split(",") if d.strip()]
        self.archive = Archive.from_url(archive)
        self.every = every
        self.from_date = from_date or None
        self.to_date = to_date or None

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """One CDX request per site's home page."""
        if not self.domains:
            store = Store(self.settings.get("POLICYTRAIL_DB"))
            self.domains = store.sites(undiscovered=True)
            store.close()
        for domain in self.domains:
            yield scrapy.Request(
                self.archive.cdx_query(f"{domain}/", since=self.from_date, until=self.to_date),
                callback=self.parse_cdx,
                cb_kwargs={"domain": domain},
                meta={"policytrail_kind": "cdx"},
                dont_filter=True,
            )

    def parse_cdx(self, response: Response, domain: str) -> Iterator[scrapy.Request]:
        """Fetch one home-page capture per interval."""
        pages = [s for s in parse_cdx(response.text).snapshots if s.statuscode in ("200", "-")]
        for snapshot in select(pages, self.every):
            yield scrapy.Request(
                self.archive.capture_url(snapshot.timestamp, snapshot.original),
                callback=self.parse_home_page,
                cb_kwargs={
                    "domain": domain,
                    "url": snapshot.original,
                    "timestamp": snapshot.timestamp,
                },
                meta={"policytrail_kind": "capture"},
                dont_filter=True,
            )

    def parse_home_page(
        self, response: Response, domain: str, url: str, timestamp: str
    ) -> Iterator[PolicyLinkItem]:
        """The policy links on one home-page capture."""
        for link in find_policy_links(response.body, url).values():
            yield PolicyLinkItem(domain, link.kind, link.url, timestamp, link.text)
