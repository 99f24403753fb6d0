"""The HTML side: parse a page, strip its chrome and find the container that holds the policy.

Everything here works on lxml's own tree (``lxml.etree``, built by libxml2's HTML parser). Text
lives in ``.text`` (before an element's first child) and ``.tail`` (after the element, inside its
parent), so removing an element keeps its tail (:func:`drop`). Every walk is iterative: a loop
over ``iter()`` or an explicit stack, never recursion, so nesting depth is no problem.

Finding the policy happens in three steps:

1. :func:`strip_chrome` removes what is never content: scripts, styles, forms' controls, hidden
   elements, and the site's navigation, header, footer, sidebars and banners, known by their
   tag, ARIA role or class/id names. Names are matched as whole words (``cookie-banner`` and
   ``cookieBanner`` are ``cookie`` + ``banner``; ``shareholders`` is not ``share``), never on
   headings, paragraphs, list items or cells, and never on an element that holds a heading and
   prose (``<section id="cookies"><h2>Cookies</h2><p>...``): that is a policy section.
2. :func:`main_container` scores every block by its amount of prose (text outside links, in
   blocks that are not mostly links), sums the scores up the tree and returns the deepest
   element that still holds nearly all of it: the whole main container, not one fragment.
3. :func:`prune_link_blocks` drops menus left inside it: lists, cells and divisions that are
   mostly links (table layouts of the 1990s and 2000s mark nothing up as navigation), and
   blocks whose whole text is a link to a spot on the same page ("Back to top").
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

# An lxml element (lxml ships no type stubs, so this is only a name for readers).
Element = Any

BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "frame",
        "frameset",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "noframes",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements that never hold policy text.
_JUNK_TAGS = (
    "script",
    "style",
    "noscript",
    "iframe",
    "frame",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "canvas",
    "template",
    "link",
    "meta",
    "input",
    "select",
    "textarea",
    "button",
    "option",
    "optgroup",
    "datalist",
    "map",
    "area",
    "audio",
    "video",
    "source",
    "track",
    "picture",
    "img",
    "head",
    "title",
    "base",
    "param",
    "dialog",
)
_CHROME_TAGS = frozenset({"nav", "aside", "header", "footer"})
# ``header`` and ``footer`` are the page's banner and footer only outside these (HTML-ARIA):
# inside an article or section they frame that content (its title, its date).
_SECTIONING = frozenset({"article", "main", "section"})
_CHROME_ROLES = frozenset(
    {
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "menu",
        "menubar",
        "dialog",
        "alertdialog",
    }
)
# Never removed for their class/id names: a heading, paragraph, item or cell is content by its
# tag (a ``<p class="share-note">`` is a paragraph); only the containers around them can be chrome.
_NEVER_BY_NAME = HEADINGS | {"p", "li", "td", "th", "dt", "dd", "tr", "a", "body", "html"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Words of class/id names that mark page chrome (matched as whole words). Words naming a page
# region are never a policy section's name: an element so named is removed unless it only wraps
# a heading. Words naming a topic (cookies, sharing, GDPR) or a title block (header, banner) also
# name policy sections, so an element so named is kept when it holds a heading and prose.
# Words saying "content" veto removal (after Readability's unlikelyCandidates and
# okMaybeItsACandidate).
_REGION_WORDS = frozenset(
    {
        *("nav", "navbar", "navigation", "topnav", "subnav", "sidenav", "leftnav", "rightnav"),
        *("menu", "menus", "menubar", "mainmenu", "topmenu", "submenu", "megamenu"),
        *("footer", "sitefooter", "masthead", "topbar", "toolbar", "sidebar", "sidebars"),
        *("side", "aside", "breadcrumb", "breadcrumbs", "crumbs", "skip", "skiplink"),
        *("popup", "modal", "pagination", "pager", "widget", "widgets", "shoutbox"),
        *("skyscraper", "ipp"),
    }
)
_TOPIC_WORDS = frozenset(
    {
        *("header", "siteheader", "banner", "cookie", "cookies", "consent", "gdpr"),
        *("social", "share", "sharing", "sharethis", "addthis", "newsletter", "subscribe"),
        *("signup", "login", "signin", "sponsor", "sponsored", "advert", "advertisement"),
        *("ad", "ads", "adsense", "related", "comment", "comments", "disqus"),
        *("language", "languages", "donate", "donation"),
    }
)
_CONTENT_WORDS = frozenset(
    {
        *("article", "body", "column", "content", "contents", "main", "maincontent"),
        *("policy", "privacy", "legal", "entry", "post", "story", "text", "copy"),
    }
)
_WORD_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|[^A-Za-z0-9]+")
# A chrome-looking element holding more than this share of the page's text is kept:
# it is a wrapper around the content, not chrome.
_CHROME_MAX_SHARE = 0.4
# Blocks whose own text is shorter than this are not prose (labels, menu items, captions).
_MIN_PROSE = 25
# The main container is the deepest element holding at least this share of the prose.
_CONTAINER_SHARE = 0.8
# Link density above which a block is a menu rather than content.
_LINK_DENSITY = 0.5
# Menus are short: a mostly-links block with more other text than this is content.
_MAX_MENU_TEXT = 200
# Forms hold search boxes and sign-ups; a form holding more text wraps the page (ASP.NET).
_MAX_FORM_TEXT = 200
# Elements nested deeper than this are attached beside the element at this depth, as browsers
# do (Chromium's HTML parser caps depth at 512); libxml2's own tree builder gives up at 2048.
MAX_DEPTH = 512
# Table parts are never dropped as "Back to top" blocks: a cell less would shift a data table.
_TABLE_PARTS = frozenset({"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption"})

_LOCAL = threading.local()


def _parser() -> Any:
    """Return this thread's lxml HTML parser (lxml parsers must not be shared across threads).

    It is told the input is UTF-8, so a stale ``<meta charset>`` is ignored; comments and
    processing instructions are dropped; ``huge_tree`` lifts libxml2's limits on text size.
    """
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = etree.HTMLParser(
            encoding="utf-8",
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            huge_tree=True,
            collect_ids=False,
        )
    return parser


class _CappedBuilder:
    """An lxml parser target that builds the tree with at most ``MAX_DEPTH`` levels.

    An element opened at the cap first closes the deepest open element, so it becomes that
    element's next sibling; the parser's later end event for the closed one is then ignored.
    """

    def __init__(self) -> None:
        self.builder = etree.TreeBuilder()
        self.tags: list[str] = []  # every element the parser has open, innermost last
        self.open: list[int] = []  # indexes into ``tags`` of those open in the builder

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        """Open an element (as a sibling of the deepest one when at the cap)."""
        if len(self.open) >= MAX_DEPTH:
            self.builder.end(self.tags[self.open.pop()])
        self.open.append(len(self.tags))
        self.tags.append(tag)
        self.builder.start(tag, attrib)

    def end(self, tag: str) -> None:
        """Close the innermost element the parser has open, if still open in the builder."""
        if not self.tags:
            return
        index = len(self.tags) - 1
        name = self.tags.pop()
        if self.open and self.open[-1] == index:
            self.open.pop()
            self.builder.end(name)

    def data(self, data: str) -> None:
        """Add text to the element being built."""
        self.builder.data(data)

    def close(self) -> Element:
        """Return the root element."""
        return self.builder.close()


def parse(text: str) -> Element:
    """Parse HTML text with lxml; return the root element (an empty ``<html>`` for no markup).

    libxml2 builds the tree in C. When it gives up (nesting deeper than its limit of 2048
    levels stops it), the page is parsed again and built from the parser's events by
    :class:`_CappedBuilder`, which loses no text.
    """
    data = text.encode("utf-8")
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:  # no element at all
        root = None
    if any(entry.level == etree.ErrorLevels.FATAL for entry in parser.error_log):
        capped = etree.HTMLParser(
            target=_CappedBuilder(), encoding="utf-8", no_network=True, huge_tree=True
        )
        try:
            root = etree.fromstring(data, capped)
        except etree.XMLSyntaxError:
            root = None
    return root if root is not None else etree.Element("html")


def collapsed_length(text: str | None) -> int:
    """Return the length of ``text`` with its whitespace collapsed (0 for None)."""
    return 0 if not text or text.isspace() else len(" ".join(text.split()))


def text_of(node: Element) -> str:
    """Return the whitespace-collapsed text of ``node`` (its tail excluded)."""
    return " ".join(" ".join(node.itertext()).split())


def bottom_up(root: Element) -> Iterator[Element]:
    """Yield the element descendants of ``root``, each after its own descendants, then ``root``
    (comments and the like are skipped). No list is built: a page's proxies are not all alive."""
    for _, node in etree.iterwalk(root, events=("end",), tag=etree.Element):
        yield node


def drop(node: Element) -> None:
    """Detach ``node`` from its parent, keeping the text that follows it (its tail)."""
    parent = node.getparent()
    if parent is None:
        return
    if node.tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


@dataclass(frozen=True)
class Head:
    """What the page says about itself: title, base URL, meta refresh, password field."""

    title: str
    base: str | None
    refresh: str | None
    password: bool


def head_of(root: Element) -> Head:
    """Return the page's :class:`Head`, read in one pass over its elements."""
    title, base, refresh, password = "", None, None, False
    for tag in root.iter("title", "base", "meta", "input"):
        name = tag.tag
        if name == "title" and not title:
            title = text_of(tag)
        elif name == "base" and base is None and tag.get("href") is not None:
            base = tag.get("href")
        elif name == "meta" and (tag.get("http-equiv") or "").strip().lower() == "refresh":
            content = tag.get("content") or ""
            refresh = refresh or (content if "url" in content.lower() else None)
        elif name == "input" and (tag.get("type") or "").lower() == "password":
            password = True
    return Head(title, base, refresh, password)


@functools.lru_cache(maxsize=4096)
def name_words(names: str) -> frozenset[str]:
    """Return the lower-cased words of class/id names: split on non-alphanumerics and camelCase.

    >>> sorted(name_words("cookie-banner cookieConsent"))
    ['banner', 'consent', 'cookie']
    """
    return frozenset(word.lower() for word in _WORD_BOUNDARY.split(names) if word)


def _name_words(node: Element) -> frozenset[str]:
    """Return the words of the id and class names of ``node``."""
    names = f"{node.get('id') or ''} {node.get('class') or ''}"
    return name_words(names) if names.strip() else frozenset()


def _is_hidden(node: Element) -> bool:
    """Whether an element is hidden from readers by its attributes."""
    if node.get("hidden") is not None or (node.get("aria-hidden") or "").lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(node.get("style") or ""))


def _outermost(root: Element, wanted: Callable[[Element], bool]) -> list[Element]:
    """Return the elements under ``root`` for which ``wanted`` holds, without their descendants."""
    found = []
    stack = list(reversed(root))
    while stack:
        node = stack.pop()
        if not isinstance(node.tag, str):
            continue
        if wanted(node):
            found.append(node)
        else:
            stack.extend(reversed(node))
    return found


def _drop_all(nodes: Iterable[Element]) -> None:
    """Detach every node of ``nodes``, keeping their tails."""
    for node in nodes:
        drop(node)


def is_navigation_link(node: Element) -> bool:
    """Whether ``node`` is a link to another page (an e-mail link is content, not navigation)."""
    return node.tag == "a" and not (node.get("href") or "").lower().startswith("mailto:")


@dataclass
class Measures:
    """Text lengths (whitespace collapsed) of every element of a subtree, keyed by element."""

    text: dict[Element, int]  # all text inside
    links: dict[Element, int]  # text inside links to other pages
    headings: dict[Element, int]  # text inside headings
    fragments: dict[Element, int]  # text inside links to a spot on the same page


def measure(root: Element, same_page: Callable[[str], bool] | None = None) -> Measures:
    """Return the :class:`Measures` of ``root``'s subtree, in one bottom-up pass.

    ``same_page`` tells an href pointing into the page itself (``#top``); without it no link
    counts as one.
    """
    sizes: dict[Element, int] = {}
    links: dict[Element, int] = {}
    headings: dict[Element, int] = {}
    fragments: dict[Element, int] = {}
    for node in bottom_up(root):
        size = sizes.get(node, 0) + collapsed_length(node.text)
        if size:
            sizes[node] = size
        if node is root:
            break
        parent = node.getparent()
        whole = size + collapsed_length(node.tail)
        if not whole:
            continue  # an empty element: nothing to add up
        sizes[parent] = sizes.get(parent, 0) + whole
        name = node.tag
        if name == "a":
            href = node.get("href") or ""
            if not href.lower().startswith("mailto:"):
                links[node] = size
            if href and same_page and same_page(href):
                fragments[node] = size
        elif name in HEADINGS:
            headings[node] = size
        for counts in (links, headings, fragments):
            count = counts.get(node)
            if count:
                counts[parent] = counts.get(parent, 0) + count
    return Measures(sizes, links, headings, fragments)


def _is_section(node: Element, sizes: Measures) -> bool:
    """Whether ``node`` holds a heading and is not mostly links: a section of the document,
    with prose beside its heading or nothing but the heading (a heading's wrapper)."""
    heading = sizes.headings.get(node, 0)
    if not heading:
        return False
    size, linked = sizes.text.get(node, 0), sizes.links.get(node, 0)
    if linked > _LINK_DENSITY * size:
        return False
    return size - heading - linked >= _MIN_PROSE or size == heading


def _is_heading_wrapper(node: Element, sizes: Measures) -> bool:
    """Whether all the text of ``node`` is inside headings (``<div class="x-header"><h2>``)."""
    heading = sizes.headings.get(node, 0)
    return bool(heading) and heading == sizes.text.get(node, 0)


def _inside_sectioning(node: Element) -> bool:
    """Whether ``node`` sits inside an article, main or section element."""
    return any(
        ancestor.tag in _SECTIONING or ancestor.get("role") == "main"
        for ancestor in node.iterancestors()
    )


def _is_chrome(node: Element, sizes: Measures, total: int) -> bool:
    """Whether ``node`` is page chrome by tag, role or name (and is no content wrapper)."""
    if sizes.text.get(node, 0) > _CHROME_MAX_SHARE * total:
        return False
    name = node.tag
    if (node.get("role") or "").lower() in _CHROME_ROLES or name in ("nav", "aside"):
        return True
    if name in _CHROME_TAGS and not _inside_sectioning(node):
        return True
    if name in _NEVER_BY_NAME:
        return False
    words = _name_words(node)
    if not words or words & _CONTENT_WORDS:
        return False
    if words & _REGION_WORDS:
        return not _is_heading_wrapper(node, sizes)
    return bool(words & _TOPIC_WORDS) and not _is_section(node, sizes)


def strip_chrome(root: Element) -> Element:
    """Remove non-content from the page in place; return its body (or the root)."""
    etree.strip_elements(root, *_JUNK_TAGS, with_tail=False)
    _drop_all(
        node for node in root.xpath("//*[@hidden or @aria-hidden or @style]") if _is_hidden(node)
    )
    body = next(root.iter("body"), root)
    sizes = measure(body)
    total = sizes.text.get(body, 0)
    _drop_all(_outermost(body, lambda node: _is_chrome(node, sizes, total)))
    _drop_all(node for node in list(body.iter("form")) if sizes.text.get(node, 0) < _MAX_FORM_TEXT)
    return body


def _prose_scores(root: Element) -> tuple[dict[Element, int], dict[Element, int]]:
    """Map each element to the amount of prose inside it, and to the amount of its own prose.

    Prose is the text of blocks (text not inside a nested block) that is at least
    ``_MIN_PROSE`` characters long outside links and not mostly links. A block's own prose is
    the prose of its own text, without that of the blocks nested in it.
    """
    inline: dict[Element, list[int]] = {}  # element -> [inline text length, inline link length]
    scores: dict[Element, int] = {}
    own: dict[Element, int] = {}
    for node in bottom_up(root):
        acc = inline.pop(node, None)
        text = collapsed_length(node.text) + (acc[0] if acc else 0)
        links = acc[1] if acc else 0
        if is_navigation_link(node):
            links = text
        if node.tag in BLOCK_TAGS or node is root:
            if text - links >= _MIN_PROSE and links <= _LINK_DENSITY * text:
                own[node] = text - links
                scores[node] = scores.get(node, 0) + text - links
            text = links = 0
        if node is root:
            break
        parent = node.getparent()
        if parent is None:
            continue
        score = scores.get(node, 0)
        if score:
            scores[parent] = scores.get(parent, 0) + score
        text += collapsed_length(node.tail)
        if text:
            acc = inline.setdefault(parent, [0, 0])
            acc[0] += text
            acc[1] += links
    return scores, own


def main_container(body: Element) -> Element:
    """Return the deepest element of ``body`` holding nearly all of the page's prose.

    The walk down stops above a paragraph-like block (one whose prose is mostly its own text),
    so the lists, tables and headings beside the paragraph stay in; a table cell may be chosen
    though, since the cells beside it are a layout's menus.
    """
    scores, own = _prose_scores(body)
    total = scores.get(body, 0)
    node = body
    while total:
        best = max(
            (child for child in node if isinstance(child.tag, str)),
            key=lambda child: scores.get(child, 0),
            default=None,
        )
        if best is None or scores.get(best, 0) < _CONTAINER_SHARE * total:
            break
        if best.tag not in ("td", "th") and own.get(best, 0) * 2 >= scores[best]:
            break
        node = best
    return node


def prune_link_blocks(container: Element, same_page: Callable[[str], bool]) -> None:
    """Remove menus inside ``container``: blocks of several links with little other text, and
    blocks whose whole text links to a spot on the page itself (``same_page`` tells such an
    href), like "Back to top"."""
    sizes = measure(container, same_page)

    def is_menu(node: Element) -> bool:
        name = node.tag
        if name not in BLOCK_TAGS or name in HEADINGS:
            return False
        size = sizes.text.get(node, 0)
        if not size:
            return False
        if name not in _TABLE_PARTS and sizes.fragments.get(node, 0) >= size:
            return True
        linked = sizes.links.get(node, 0)
        return (
            linked > _LINK_DENSITY * size
            and size - linked < _MAX_MENU_TEXT
            and next(itertools.islice(node.iter("a"), 1, None), None) is not None
        )

    _drop_all(_outermost(container, is_menu))


_LEXICAL_JUNK = re.compile(r"<!--|<(script|style|svg|select|noscript|template)\b", re.IGNORECASE)


def strip_lexically(text: str) -> str:
    """Cut comments, scripts, styles and the like out of raw HTML before it is parsed.

    This saves parsing time; the Wayback Machine's toolbar, which sits between two marker
    comments, goes with it. Scanning is linear: each opener is matched with the first closer.
    """
    toolbar = text.find("<!-- BEGIN WAYBACK TOOLBAR INSERT -->")
    if toolbar != -1:
        end = text.find("END WAYBACK TOOLBAR INSERT", toolbar)
        close = text.find("-->", end) if end != -1 else -1
        text = text[:toolbar] + (text[close + 3 :] if close != -1 else "")
    pieces, pos = [], 0
    while found := _LEXICAL_JUNK.search(text, pos):
        pieces.append(text[pos : found.start()])
        if found.group(1):
            closer = re.compile(rf"</{found.group(1)}\s*>", re.IGNORECASE).search(text, found.end())
            end = closer.end() if closer else -1
        else:
            end = text.find("-->", found.end())
            end = end + 3 if end != -1 else -1
        if end == -1:
            return "".join(pieces)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)
