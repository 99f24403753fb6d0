"""What a crawl remembers while it runs: settled captures, fetched bytes, listings.

The ``wayback`` spider keeps this state through the :class:`CrawlState` protocol: in this
process (:class:`LocalCrawlState`, one process crawls) or in Redis, shared by every worker of a
scaled-out crawl (:class:`crawler.redis_run.RedisCrawlState`). Captures are keyed by
``(policy_id, url, timestamp)``; bytes by ``(policy_id, url, digest)``; listings by
``(policy_id, url)``.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal, Protocol

from crawler.items import CaptureItem

#: What to do with a capture whose URL and digest may match other captures' bytes.
Route = Literal["copy", "wait", "fetch"]
Listing = tuple[int, str]


class CrawlState(Protocol):
    """The crawl's memory, local or shared by workers."""

    def add_policy(
        self,
        policy_id: int,
        *,
        settled: Iterable[tuple[str, str]],
        digests: Iterable[tuple[str, str]],
    ) -> None:
        """Take on a policy with its stored ``(url, timestamp)`` and ``(url, digest)`` keys."""
        ...

    def new_captures(self, policy_id: int, keys: list[tuple[str, str]]) -> list[bool]:
        """For each ``(url, timestamp)``: True unless it is stored or taken by this run."""
        ...

    def settle(self, capture: CaptureItem) -> None:
        """Take a capture on for this run, so no other listing adds it again."""
        ...

    def route(self, capture: CaptureItem) -> Route:
        """Claim a capture's bytes: ``copy`` (stored already), ``wait`` (being fetched: the
        capture waits for :meth:`release`) or ``fetch`` (fetch it, then :meth:`release`)."""
        ...

    def release(self, capture: CaptureItem, *, fetched: bool) -> list[CaptureItem]:
        """After a fetch (or its failure), the captures that waited for its bytes."""
        ...

    def start_listing(self, policy_id: int, url: str) -> bool:
        """Open the listing of a policy URL; False if this run listed it already."""
        ...

    def listed_page(self, policy_id: int, url: str, newest: str, *, last: bool) -> None:
        """Record a page of a listing: its newest timestamp, and whether it was the last."""
        ...

    def completed_listings(self) -> dict[Listing, str]:
        """Each listing read to its end, with the newest timestamp it showed."""
        ...


class LocalCrawlState:
    """The crawl's memory in this process."""

    def __init__(self) -> None:
        self.settled: dict[int, set[tuple[str, str]]] = defaultdict(set)
        self.known_digests: set[tuple[int, str, str]] = set()
        self.waiting: dict[tuple[int, str, str], list[CaptureItem]] = {}
        self.listed: set[Listing] = set()
        #: Listings with pages still to come, and the newest timestamp each listing showed.
        self.open_listings: set[Listing] = set()
        self.listed_up_to: dict[Listing, str] = {}

    def add_policy(
        self,
        policy_id: int,
        *,
        settled: Iterable[tuple[str, str]],
        digests: Iterable[tuple[str, str]],
    ) -> None:
        """Take on a policy with its stored capture and digest keys."""
        self.settled[policy_id] |= set(settled)
        self.known_digests |= {(policy_id, url, digest) for url, digest in digests}

    def new_captures(self, policy_id: int, keys: list[tuple[str, str]]) -> list[bool]:
        """For each ``(url, timestamp)``: True unless stored or taken by this run."""
        settled = self.settled[policy_id]
        return [key not in settled for key in keys]

    def settle(self, capture: CaptureItem) -> None:
        """Take a capture on for this run."""
        self.settled[capture.policy_id].add((capture.url, capture.timestamp))

    def route(self, capture: CaptureItem) -> Route:
        """Claim a capture's bytes: copy, wait for a fetch under way, or fetch."""
        key = (capture.policy_id, capture.url, capture.digest or "")
        if key in self.known_digests:
            return "copy"
        if key in self.waiting:
            self.waiting[key].append(capture)
            return "wait"
        self.waiting[key] = []
        return "fetch"

    def release(self, capture: CaptureItem, *, fetched: bool) -> list[CaptureItem]:
        """The captures that waited for this fetch's bytes."""
        key = (capture.policy_id, capture.url, capture.digest or "")
        copies = self.waiting.pop(key, [])
        if fetched:
            self.known_digests.add(key)
        return copies

    def start_listing(self, policy_id: int, url: str) -> bool:
        """Open a listing; False if this run listed it already."""
        listing = (policy_id, url)
        if listing in self.listed:
            return False
        self.listed.add(listing)
        self.open_listings.add(listing)
        return True

    def listed_page(self, policy_id: int, url: str, newest: str, *, last: bool) -> None:
        """Record a page of a listing."""
        listing = (policy_id, url)
        self.listed_up_to[listing] = max(self.listed_up_to.get(listing, ""), newest)
        if last:
            self.open_listings.discard(listing)

    def completed_listings(self) -> dict[Listing, str]:
        """Each listing read to its end, with its newest timestamp."""
        return {
            listing: newest
            for listing, newest in self.listed_up_to.items()
            if listing not in self.open_listings and newest
        }
