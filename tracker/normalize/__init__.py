"""The normalizer: one archived capture in, the policy alone as clean markdown out.

:func:`normalize` is a pure function of the capture's bytes, HTTP headers and original URL. It
never raises: input that is no policy version (an error page, a parked domain, an image, a
page too large to handle) gives a :class:`Normalized` with ``reason`` set and empty markdown.

bs4 decodes; lxml parses, because each is best at its half. Beautiful Soup's ``UnicodeDammit``,
``EncodingDetector`` and ``UnicodeDammit.detwingle`` find a page's declared charset and repair
mixed UTF-8 and windows-1252, which lxml does not do (:mod:`.decode`). The decoded text is then
parsed by lxml into its own tree and walked there (:mod:`.page`, :mod:`.markdown`): libxml2
builds a page's tree in well under a millisecond, while building BeautifulSoup's tree of Python
objects over the same parser costs ten to twenty times that, more than all the rest of the
normalizer together, and lxml's tree holds a page in a fraction of the memory.

>>> normalize(b"<title>Privacy</title><p>We never sell data, not to anyone, ever.</p>" * 3,
...           headers={"content-type": "text/html"}).markdown.splitlines()[0]
'# Privacy'
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from .decode import decode, header, parse_content_type
from .markdown import to_markdown
from .page import head_of, main_container, parse, prune_link_blocks, strip_chrome, strip_lexically
from .urls import absolute, same_page
from .verdict import verdict

__all__ = ["MAX_BYTES", "MAX_ELEMENTS", "Normalized", "normalize"]

MAX_BYTES = 20 * 1024 * 1024
# A page costs about 400 bytes per element at its peak (libxml2's node, its lxml proxy and the
# per-element maps of one pass; measured on tag soup, see docs/benchmarks.md), and 10-20 us of
# work. This cap bounds a page to about 80 MB and a few seconds; real policy pages have a few
# thousand elements, and a 10 MB policy page about 80,000.
MAX_ELEMENTS = 200_000
MAX_PDF_PAGES = 300

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})
_SNIFF_HTML = re.compile(
    rb"<(?:!doctype|html|head|body|title|p|div|table|br|a|meta|h[1-6])\b", re.IGNORECASE
)
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG", "image/png"),
    (b"GIF8", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)
_ELEMENT_START = re.compile(r"<(?=[A-Za-z])")
# Invisible characters to drop, and exotic spaces to make plain spaces. Every character Python
# counts as whitespace (``str.split``, ``str.strip``) or as a line break (``str.splitlines``:
# also NEL U+0085, U+2028, U+2029, \v, \f, \x1c-\x1e) is made a plain space here, or a newline
# for text/plain before this (:func:`_plain`), so lines end where markdown readers see them end.
_TRANSLATE = {
    **{c: None for c in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E)},
    **{c: None for c in (*range(0x00, 0x09), 0x0E, 0x0F, *range(0x10, 0x1C), 0x7F)},
    **{c: None for c in (*range(0x80, 0x85), *range(0x86, 0xA0))},
    **{c: " " for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, 0x2028, 0x2029)},
    **{c: " " for c in (*range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)},
}
# ``str.translate`` looks each character up in the table: on non-ASCII text, fifteen times slower
# than testing for each of these characters and replacing the few present.
_REPLACEMENTS = tuple((chr(code), value or "") for code, value in _TRANSLATE.items())
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Normalized:
    """The result of normalizing one capture."""

    markdown: str  # the policy as markdown; "" when ``reason`` is set
    title: str  # the page title ("" if none)
    reason: str | None  # None for a policy version; else why this capture is not one


def normalize(
    body: bytes, *, headers: Mapping[str, str] | None = None, url: str | None = None
) -> Normalized:
    """Return the policy in one capture as markdown, or the reason it holds none.

    ``headers`` are the capture's HTTP response headers (looked up case-insensitively), ``url``
    its original URL, against which links are made absolute.
    """
    try:
        return _normalize(bytes(body), headers, url)
    except Exception as exc:  # untrusted input must never crash the caller
        return Normalized("", "", f"unparseable: {type(exc).__name__}")


def _normalize(body: bytes, headers: Mapping[str, str] | None, url: str | None) -> Normalized:
    """Dispatch on size and media type; see :func:`normalize`."""
    if len(body) > MAX_BYTES:
        return Normalized("", "", f"too large: {len(body)} bytes (limit {MAX_BYTES})")
    if not body.strip():
        return Normalized("", "", "empty body")
    media, charset = parse_content_type(header(headers, "content-type"))
    media = _media_type(media, body)
    wide = (charset or "").lower().replace("-", "").startswith(("utf16", "utf32"))
    if (media == "text/plain" or media in _HTML_TYPES) and not wide and _is_binary(body):
        return Normalized("", "", f"binary content served as {media}")
    if media == "text/plain":
        return _plain(body, charset)
    if media == "application/pdf":
        return _pdf(body)
    if media not in _HTML_TYPES:
        return Normalized("", "", f"unsupported content type: {media}")
    return _html(body, charset, url)


def _is_binary(body: bytes) -> bool:
    """Whether bytes are no text in any encoding: NUL bytes, or mostly control characters."""
    head = body[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NUL bytes
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 28)  # 28-31 separate text
    return controls > len(head) * 0.1


def _media_type(declared: str, body: bytes) -> str:
    """Return the media type to treat ``body`` as: binary signatures win over the header."""
    for magic, media in _MAGIC:
        if body.startswith(magic):
            return media
    if declared and declared not in ("application/octet-stream", "unknown/unknown", "text/*"):
        return declared
    return "text/html" if _SNIFF_HTML.search(body[:4096]) else "text/plain"


def tidy(text: str) -> str:
    """Return ``text`` in NFC with invisible characters removed, exotic spaces made plain,
    no trailing spaces and at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for char, replacement in _REPLACEMENTS:
        if char in text:
            text = text.replace(char, replacement)
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


def _document(title: str, text: str) -> str:
    """Return the final markdown: the title as a heading, then the body, one trailing newline."""
    head = f"# {title}\n\n" if title else ""
    return f"{head}{text}\n"


def _plain(body: bytes, charset: str | None) -> Normalized:
    """Pass a text/plain capture through; its title is its first line."""
    text = tidy("\n".join(decode(body, charset, html=False)[0].splitlines()))
    title = " ".join(text.split("\n", 1)[0].split())
    reason = verdict(title, text, refresh=None, password=False)
    if reason:
        return Normalized("", title, reason)
    return Normalized(text + "\n", title, None)


def _pdf(body: bytes) -> Normalized:
    """Extract the text of a PDF capture with pypdf, when it is installed."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return Normalized("", "", "unsupported content type: application/pdf (pypdf missing)")
    reader = PdfReader(io.BytesIO(body))
    pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
    text = tidy("\n\n".join(pages))
    meta_title = reader.metadata.title if reader.metadata else None
    title = " ".join(str(meta_title or text.split("\n", 1)[0]).split())
    if not text:
        return Normalized("", title, "pdf without extractable text")
    reason = verdict(title, text, refresh=None, password=False)
    if reason:
        return Normalized("", title, reason)
    return Normalized(_document(title, text), title, None)


def _html(body: bytes, charset: str | None, url: str | None) -> Normalized:
    """Extract the policy from an HTML capture."""
    text = strip_lexically(decode(body, charset, html=True)[0])
    if text.count("<") > MAX_ELEMENTS:
        elements = len(_ELEMENT_START.findall(text))
        if elements > MAX_ELEMENTS:
            return Normalized("", "", f"too complex: {elements} elements (limit {MAX_ELEMENTS})")
    root = parse(text)
    del text
    head = head_of(root)
    title = tidy(" ".join(head.title.split()))
    base = absolute(head.base, url) or url
    container = main_container(strip_chrome(root))
    prune_link_blocks(container, lambda href: same_page(href, base, url))
    markdown = tidy(to_markdown(container, lambda href: absolute(href, base)))
    reason = verdict(title, markdown, refresh=head.refresh, password=head.password)
    if reason:
        return Normalized("", title, reason)
    return Normalized(_document(title, markdown), title, None)
