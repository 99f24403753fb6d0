"""The ``wayback`` spider: list each tracked policy's captures through CDX and fetch them raw.

    scrapy crawl wayback -a archive=http://127.0.0.1:8080/web -s POLICYTRAIL_DB=policytrail.db

Arguments: ``archive`` (default the Internet Archive) and ``policy`` (a name or id; default
every tracked policy). Captures already stored are not fetched again; captures whose fetch
failed are.
"""

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.archive import DEFAULT_ARCHIVE, Archive, is_policy_move, original_url, parse_cdx
from crawler.items import CaptureItem
from db import Store


def _int_or_none(value: str) -> int | None:
    """A CDX number, or None for ``-``."""
    return int(value) if value.isdigit() else None


class WaybackSpider(scrapy.Spider):
    """List and fetch the captures of tracked policies from a Wayback-compatible archive."""

    name = "wayback"

    def __init__(
        self, archive: str = DEFAULT_ARCHIVE, policy: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.archive = Archive.from_url(archive)
        self.policy_ref = policy
        self.listed_urls: set[tuple[int, str]] = set()
        self.settled: dict[int, set[tuple[str, str]]] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """One CDX request per URL of each policy to crawl."""
        store = Store(self.settings.get("POLICYTRAIL_DB"))
        try:
            policies = (
                [store.policy(self.policy_ref)] if self.policy_ref else store.policies()
            )
            targets = []
            for policy in policies:
                self.settled[policy["id"]] = store.settled_captures(policy["id"])
                targets += [(policy["id"], url) for url in store.policy_urls(policy["id"])]
        finally:
            store.close()
        for policy_id, url in targets:
            yield self.cdx_request(policy_id, url)

    def cdx_request(self, policy_id: int, url: str) -> scrapy.Request:
        """The request listing a policy URL's captures."""
        self.listed_urls.add((policy_id, url))
        return scrapy.Request(
            self.archive.cdx_query(url),
            callback=self.parse_cdx,
            errback=self.cdx_failed,
            cb_kwargs={"policy_id": policy_id},
            dont_filter=True,
        )

    def parse_cdx(self, response: Response, policy_id: int) -> Any:
        """Record or fetch each capture the CDX API lists."""
        snapshots, malformed = parse_cdx(response.text)
        self._count("cdx_malformed", malformed)
        self._count("listed", len(snapshots))
        for snapshot in snapshots:
            key = (snapshot.original, snapshot.timestamp)
            if key in self.settled[policy_id]:
                self._count("skipped")
                continue
            self.settled[policy_id].add(key)
            capture = CaptureItem(
                policy_id=policy_id,
                url=snapshot.original,
                timestamp=snapshot.timestamp,
                outcome="version",
                status=_int_or_none(snapshot.statuscode),
                mimetype=None if snapshot.mimetype == "-" else snapshot.mimetype,
                digest=None if snapshot.digest == "-" else snapshot.digest,
                length=_int_or_none(snapshot.length),
            )
            if capture.status is not None and capture.status >= 400:
                yield replace(
                    capture, outcome="http-error", reason=f"archived with HTTP {capture.status}"
                )
            else:
                yield self.capture_request(capture)

    def capture_request(self, capture: CaptureItem, url: str | None = None) -> scrapy.Request:
        """The request for a capture's raw bytes; redirects are handled here, not followed."""
        return scrapy.Request(
            url or self.archive.capture_url(capture.timestamp, capture.url),
            callback=self.parse_capture,
            errback=self.capture_failed,
            cb_kwargs={"capture": capture},
            meta={"dont_redirect": True, "handle_httpstatus_all": True},
            dont_filter=True,
        )

    def parse_capture(self, response: Response, capture: CaptureItem) -> Any:
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
            yield replace(
                fetched,
                status=status,
                outcome="redirect",
                redirect_to=target,
                reason=f"HTTP {status} to {target}",
            )
            if target and is_policy_move(target) and (capture.policy_id, target) not in (
                self.listed_urls
            ):
                yield self.cdx_request(capture.policy_id, target)
        elif status == 200:
            self._count("fetched")
            yield fetched
        else:
            yield replace(capture, outcome="failed", reason=f"archive answered HTTP {status}")

    def capture_failed(self, failure: Failure) -> CaptureItem:
        """Record a capture whose fetch failed, so the next crawl tries it again."""
        capture = failure.request.cb_kwargs["capture"]  # type: ignore[attr-defined]
        return replace(capture, outcome="failed", reason=failure.getErrorMessage()[:300])

    def cdx_failed(self, failure: Failure) -> None:
        """Count and log a CDX query that failed."""
        self._count("cdx_failed")
        url = failure.request.url  # type: ignore[attr-defined]
        self.logger.error("CDX query failed: %s: %s", url, failure.getErrorMessage())

    def _count(self, name: str, count: int = 1) -> None:
        """Add to one of the crawl's ``policytrail/`` statistics."""
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"policytrail/{name}", count)
