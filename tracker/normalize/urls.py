"""Link targets: unwrap web-archive addresses and make links absolute."""

from __future__ import annotations

import re
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

# ``[scheme://archive.host]/<collection>/<14-digit timestamp><modifier>/<original url>``, e.g.
# ``/web/20140101000000/http://x``, ``https://web.archive.org/web/2014id_/x`` or
# ``/coll/20140101000000im_/https%3A//x``. Timestamps may be shortened (4 to 14 digits).
_ARCHIVED = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:)?(?://[^/]+)?/(?:[\w.-]+/)?\d{4,14}(?:[a-z]{2}_|\*)?/"
    r"(?P<orig>(?:https?|ftp)(?::|%3a)(?://|%2f%2f|/).*|(?:www\d?\.)[^/]+.*)$",
    re.IGNORECASE,
)
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "about:", "file:")


def unwrap_archive(url: str) -> str:
    """Return the original URL behind a web-archive URL, or ``url`` unchanged."""
    found = _ARCHIVED.match(url)
    while found:
        orig = found.group("orig")
        if re.match(r"(?i)^(?:https?|ftp)%3a", orig):
            orig = unquote(orig)
        orig = re.sub(r"(?i)^(https?|ftp):/(?!/)", r"\1://", orig)
        if not re.match(r"(?i)^[a-z]+://", orig):
            orig = "http://" + orig
        url = orig
        found = _ARCHIVED.match(url)
    return url


def absolute(href: str | None, base: str | None) -> str | None:
    """Return ``href`` as an absolute, archive-unwrapped URL, or None when it is no link.

    Script, data and empty links, and links to a spot on the page itself, give None;
    ``mailto:`` links are kept.
    """
    if not href:
        return None
    href = "".join(href.split())  # browsers drop whitespace inside URLs
    if not href or href.startswith("#") or href.lower().startswith(_BAD_SCHEMES):
        return None
    href = unwrap_archive(href)
    if href.lower().startswith(("mailto:", "tel:")):
        return href
    if base:
        try:
            href = unwrap_archive(urljoin(base, href))
        except ValueError:
            return None
    try:
        parts = urlsplit(href)
    except ValueError:
        return None
    if base and parts.scheme in ("http", "https") and not parts.netloc:
        return None
    return href


def same_page(href: str, base: str | None, url: str | None) -> bool:
    """Whether ``href`` points to a spot on the page at ``url`` itself (``#top``,
    ``privacy.html#top`` on privacy.html), resolved against ``base``."""
    href = "".join(href.split())
    if href.startswith("#"):
        return True
    if "#" not in href or not url:
        return False
    try:
        target = unwrap_archive(urljoin(base or url, href))
    except ValueError:
        return False
    return urldefrag(target).url == urldefrag(unwrap_archive(url)).url
