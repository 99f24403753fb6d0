"""The items the spiders yield: one per capture of a policy URL."""

from dataclasses import dataclass, field


@dataclass
class CaptureItem:
    """One CDX row of a policy URL and what fetching it gave.

    ``outcome`` is one of the store's capture outcomes: ``version`` (fetched; the pipeline
    decides whether it holds a policy), ``redirect``, ``http-error`` (archived as a 4xx/5xx, not
    fetched) or ``failed`` (fetching it failed; the next crawl tries again).
    """

    policy_id: int
    url: str
    timestamp: str
    outcome: str
    status: int | None = None
    mimetype: str | None = None
    digest: str | None = None
    length: int | None = None
    reason: str | None = None
    redirect_to: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PolicyLinkItem:
    """A link to a policy found on a capture of a site's home page."""

    domain: str
    kind: str
    url: str
    timestamp: str
    text: str
