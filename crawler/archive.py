"""Wayback-compatible archives: where their CDX API and raw captures live, and what CDX says.

Two layouts are understood:

- the Internet Archive (``https://web.archive.org``): CDX at ``/cdx/search/cdx``, captures at
  ``/web/TIMESTAMPid_/URL``;
- a pywb collection (``http://127.0.0.1:8080/web``): CDX at ``/web/cdx``, captures at
  ``/web/TIMESTAMPid_/URL``.

CDX answers are parsed in every form these servers give: the Internet Archive's JSON array and
space-separated text, and pywb's JSON lines and CDXJ. Rows become waybackpy ``CDXSnapshot``
objects.
"""

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from waybackpy.cdx_snapshot import CDXSnapshot
from waybackpy.cdx_utils import full_url

logger = logging.getLogger(__name__)

DEFAULT_ARCHIVE = "https://web.archive.org"

#: CDX field names as the Internet Archive spells them, in its default column order.
IA_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
#: pywb's names for the same fields.
PYWB_FIELDS = {"url": "original", "mime": "mimetype", "status": "statuscode"}

_ARCHIVED = re.compile(r"^(?:https?://[^/]+)?/(?:[^/]+/)*?\d{4,14}(?:[a-z]{2}_)?/(\w+:/?/?.*)$")


class ArchiveError(Exception):
    """The archive URL is unusable; the message is meant for people."""


@dataclass(frozen=True)
class Archive:
    """A Wayback-compatible archive at ``base`` (no trailing slash)."""

    base: str

    @classmethod
    def from_url(cls, url: str) -> "Archive":
        """Check an archive URL given by a user and return the archive."""
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 (a port out of range raises here)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ArchiveError(f"not an archive URL: {url!r} (try {DEFAULT_ARCHIVE})")
        return cls(url.strip().rstrip("/"))

    @property
    def is_collection(self) -> bool:
        """True for a pywb-style collection URL (one with a path)."""
        return bool(urlsplit(self.base).path.strip("/"))

    @property
    def host(self) -> str:
        """``host:port`` of the archive."""
        return urlsplit(self.base).netloc

    @property
    def cdx_endpoint(self) -> str:
        """The CDX API's URL."""
        return f"{self.base}/cdx" if self.is_collection else f"{self.base}/cdx/search/cdx"

    def cdx_query(
        self,
        url: str,
        *,
        since: str | None = None,
        until: str | None = None,
        collapse: bool = False,
        status: str | None = None,
        resume_key: str | None = None,
        page_size: int = 0,
    ) -> str:
        """The CDX request listing the captures of ``url``.

        ``since`` and ``until`` are timestamps (or their prefixes, ``2015``); ``collapse`` drops
        adjacent captures with the same digest; ``status`` (a regular expression) keeps only
        captures whose HTTP status matches; ``page_size`` pages through a large result with
        the Internet Archive's resume keys (pywb answers in one piece and ignores it).
        """
        params: dict[str, str | int] = {"url": url, "output": "json"}
        if since:
            params["from"] = since
        if until:
            params["to"] = until
        if collapse:
            params["collapse"] = "digest"
        if status:
            params["filter"] = f"statuscode:{status}"
        if page_size and not self.is_collection:
            params["limit"] = page_size
            params["showResumeKey"] = "true"
        if resume_key:
            params["resumeKey"] = resume_key
        return full_url(self.cdx_endpoint, params)

    def capture_url(self, timestamp: str, url: str) -> str:
        """The URL of a capture's raw, unrewritten bytes (the ``id_`` mode)."""
        replay = self.base if self.is_collection else f"{self.base}/web"
        return f"{replay}/{timestamp}id_/{url}"


def original_url(url: str) -> str:
    """Unwrap an archive URL (``/web/2015.../http://x/``) to the original it points at."""
    match = _ARCHIVED.match(url)
    if not match:
        return url
    inner = match.group(1)
    inner = re.sub(r"^(\w+):/+", r"\1://", inner)
    return original_url(inner)


def is_policy_move(source: str, target: str | None) -> bool:
    """Whether a policy at ``source`` that redirects to ``target`` moved there (and is followed).

    It moved if the target is a page of the same site (the same host, or one a subdomain of the
    other, ``www.`` aside). A redirect to the site's home page means the policy was withdrawn,
    and one to another site (a login wall, a parked domain, a buyer's home page) that it left:
    both are recorded, not followed.
    """
    if not target:
        return False
    try:
        old, new = urlsplit(source), urlsplit(target)
    except ValueError:
        return False
    old_host = (old.hostname or "").removeprefix("www.")
    new_host = (new.hostname or "").removeprefix("www.")
    same_site = bool(new_host) and (
        new_host == old_host
        or new_host.endswith("." + old_host)
        or old_host.endswith("." + new_host)
    )
    return same_site and bool(new.path.strip("/"))


@dataclass
class CDXPage:
    """One CDX answer: its rows, how many rows were malformed, and the key to the next page."""

    snapshots: list[CDXSnapshot] = field(default_factory=list)
    malformed: int = 0
    resume_key: str | None = None


def parse_cdx(text: str) -> CDXPage:
    """Parse a CDX answer in any supported format; malformed rows are skipped and counted."""
    page = CDXPage()
    for fields in _cdx_rows(text, page):
        properties = {name: str(fields.get(name) or "-") for name in IA_FIELDS}
        try:
            if properties["original"] == "-":
                raise ValueError("no original URL")
            page.snapshots.append(CDXSnapshot(properties))
        except ValueError as error:
            page.malformed += 1
            logger.warning("skipping malformed CDX row %r: %s", fields, error)
    return page


def _cdx_rows(text: str, page: CDXPage) -> Iterator[dict]:
    """Each CDX row of any supported format, keyed by Internet Archive field names.

    A resume key (an empty row, then a row holding only the key) is put in ``page``.
    """
    stripped = text.strip()
    if not stripped:
        return
    if stripped.startswith("["):
        try:
            table = json.loads(stripped)
        except json.JSONDecodeError:
            yield {"line": stripped[:200]}
            return
        header, *rows = table or [[]]
        if len(rows) >= 2 and rows[-2] == [] and len(rows[-1]) == 1:
            page.resume_key, rows = str(rows[-1][0]), rows[:-2]
        for row in rows:
            if isinstance(row, list) and len(row) == len(header):
                yield dict(zip(header, row, strict=True))
            else:
                yield {"row": row}
        return
    blocks = stripped.split("\n\n")
    if len(blocks) == 2 and len(blocks[1].split()) == 1:
        page.resume_key = blocks[1].strip()
        stripped = blocks[0]
    for line in stripped.splitlines():
        line = line.strip()
        if line:
            yield _cdx_line(line)


def _cdx_line(line: str) -> dict:
    """One line of pywb JSON, CDXJ (``urlkey timestamp {json}``) or space-separated CDX."""
    if line.startswith("{") or " {" in line:
        payload = line[line.index("{") :]
        try:
            data = json.loads(payload)
        except json.JSONDecodeError:
            return {"line": line}
        if not isinstance(data, dict):
            return {"line": line}
        prefix = line[: line.index("{")].split()
        if len(prefix) == 2:
            data.setdefault("urlkey", prefix[0])
            data.setdefault("timestamp", prefix[1])
        return {PYWB_FIELDS.get(key, key): value for key, value in data.items()}
    columns = line.split()
    if len(columns) != len(IA_FIELDS):
        return {"line": line}
    return dict(zip(IA_FIELDS, columns, strict=True))
