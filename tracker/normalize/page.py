"""The HTML side: parse a page, strip its chrome and find the container that holds the policy.

Everything here works on a BeautifulSoup tree built by lxml. Walks are iterative (bs4's
``descendants`` follows the ``next_element`` chain), so deeply nested markup is no problem.

Finding the policy happens in three steps:

1. :func:`strip_chrome` removes what is never content: scripts, styles, forms' controls, hidden
   elements, archive toolbars, and the site's navigation, header, footer, sidebars and banners,
   known by their tag, ARIA role or class/id names (unless those also look like the content).
2. :func:`main_container` scores every block by its amount of prose (text outside links, in
   blocks that are not mostly links), sums the scores up the tree and returns the deepest
   element that still holds nearly all of it: the whole main container, not one fragment.
3. :func:`prune_link_blocks` drops menus left inside it: lists, cells and divisions that are
   mostly links (table layouts of the 1990s and 2000s mark nothing up as navigation).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag
from bs4.element import PageElement, PreformattedString

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
_JUNK_TAGS = frozenset(
    {
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
    }
)
_CHROME_TAGS = ("nav", "aside", "header", "footer")
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
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Class/id names of page chrome, and names that say "content" and so veto removal
# (after Readability's unlikelyCandidates / okMaybeItsACandidate).
_CHROME_NAMES = re.compile(
    r"nav|menu|footer|header|masthead|sidebar|side-bar|breadcrumb|crumbs|cookie|consent|gdpr|"
    r"banner|social|share|sharing|skip|toolbar|topbar|top-bar|popup|modal|newsletter|subscribe|"
    r"signup|sign-up|login|sponsor|advert|related|comment|disqus|pagination|pager|widget|"
    r"shoutbox|skyscraper|langu|-ad-|^ads?$|^ad-|wm-ipp|donato",
    re.IGNORECASE,
)
_CONTENT_NAMES = re.compile(
    r"article|body|column|content|main|shadow|policy|privacy|legal|"
    r"entry|post|story|text",
    re.IGNORECASE,
)
# A chrome-looking element holding more than this share of the page's text is kept:
# it is a wrapper around the content, not chrome.
_CHROME_MAX_SHARE = 0.4
# Blocks whose own text is shorter than this are not prose (labels, menu items, captions).
_MIN_PROSE = 25
# The main container is the deepest element holding at least this share of the prose.
_CONTAINER_SHARE = 0.8
# Link density above which a block is a menu rather than content.
_LINK_DENSITY = 0.5


def parse(text: str) -> BeautifulSoup:
    """Parse HTML text with lxml through BeautifulSoup.

    The text is handed over as UTF-8 bytes with that encoding named (lxml then decodes it in C,
    ignoring any stale ``<meta charset>``), and ``class`` is kept as one string: both save time.
    """
    return BeautifulSoup(
        text.encode("utf-8", "surrogatepass"),
        "lxml",
        from_encoding="utf-8",
        multi_valued_attributes=None,
    )


def text_of(node: Tag) -> str:
    """Return the whitespace-collapsed text of ``node``."""
    return " ".join(node.get_text(" ").split())


@dataclass(frozen=True)
class Head:
    """What the page says about itself: title, base URL, meta refresh, password field."""

    title: str
    base: str | None
    refresh: str | None
    password: bool


def head_of(soup: BeautifulSoup) -> Head:
    """Return the page's :class:`Head`, read in one pass over its elements."""
    title, base, refresh, password = "", None, None, False
    for tag in tags(soup):
        if tag.name == "title" and not title:
            title = text_of(tag)
        elif tag.name == "base" and base is None and isinstance(tag.get("href"), str):
            base = str(tag["href"])
        elif tag.name == "meta" and str(tag.get("http-equiv", "")).strip().lower() == "refresh":
            content = str(tag.get("content", ""))
            refresh = refresh or (content if "url" in content.lower() else None)
        elif tag.name == "input" and str(tag.get("type", "")).lower() == "password":
            password = True
    return Head(title, base, refresh, password)


def tags(root: Tag) -> Iterator[Tag]:
    """Yield the element descendants of ``root`` in document order (iteratively)."""
    for node in root.descendants:
        if isinstance(node, Tag):
            yield node


def _names(tag: Tag) -> str:
    """Return an element's id and class (one string, as parsed) for pattern matching."""
    return f"{tag.get('id') or ''} {tag.get('class') or ''}".strip()


def _is_hidden(tag: Tag) -> bool:
    """Whether an element is hidden from readers by its attributes."""
    if tag.attrs is None:
        return False
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(str(tag.get("style", ""))))


def _outermost(root: Tag, wanted: Callable[[PageElement], bool]) -> list[PageElement]:
    """Return the nodes under ``root`` for which ``wanted`` holds, without their descendants."""
    found = []
    stack = list(reversed(root.contents))
    while stack:
        node = stack.pop()
        if wanted(node):
            found.append(node)
        elif isinstance(node, Tag):
            stack.extend(reversed(node.contents))
    return found


def _remove(nodes: list[PageElement]) -> None:
    """Detach every node of ``nodes`` from the tree."""
    for node in nodes:
        node.extract()


def _is_junk(node: PageElement) -> bool:
    """Whether a node is never content: comments and the like, scripts, styles, hidden parts."""
    if isinstance(node, Tag):
        return node.name in _JUNK_TAGS or _is_hidden(node)
    return isinstance(node, PreformattedString)


def is_navigation_link(tag: Tag) -> bool:
    """Whether ``tag`` is a link to another page (an e-mail link is content, not navigation)."""
    return tag.name == "a" and not str(tag.get("href", "")).lower().startswith("mailto:")


def text_lengths(root: Tag) -> tuple[dict[int, int], dict[int, int]]:
    """Map id(element) to the length of its collapsed text, and to that of its navigation links."""
    lengths: dict[int, int] = {}
    links: dict[int, int] = {}
    for node in reversed(list(root.descendants)):
        parent = node.parent
        if parent is None:
            continue
        linked = 0
        if isinstance(node, Tag):
            size = lengths.get(id(node), 0)
            linked = size if is_navigation_link(node) else links.get(id(node), 0)
        elif isinstance(node, PreformattedString):
            continue
        else:
            size = len(" ".join(str(node).split()))
        if size:
            lengths[id(parent)] = lengths.get(id(parent), 0) + size
        if linked:
            links[id(parent)] = links.get(id(parent), 0) + linked
    return lengths, links


def _is_chrome(tag: Tag, size: int, total: int) -> bool:
    """Whether ``tag`` is page chrome by tag, role or name (and is no content wrapper)."""
    if size > _CHROME_MAX_SHARE * total:
        return False
    role = str(tag.get("role", "")).lower()
    if tag.name in _CHROME_TAGS or role in _CHROME_ROLES:
        return True
    names = _names(tag)
    return bool(names and _CHROME_NAMES.search(names) and not _CONTENT_NAMES.search(names))


def strip_chrome(soup: BeautifulSoup) -> Tag:
    """Remove non-content from the page in place; return its body (or the root)."""
    _remove(_outermost(soup, _is_junk))
    body = soup.body or soup
    lengths, _ = text_lengths(body)
    total = lengths.get(id(body), 0)
    _remove(
        _outermost(
            body,
            lambda n: (
                isinstance(n, Tag) and n.name != "a" and _is_chrome(n, lengths.get(id(n), 0), total)
            ),
        )
    )
    # Forms hold search boxes and sign-ups; a form holding much text wraps the page (ASP.NET).
    _remove(
        _outermost(
            body, lambda n: isinstance(n, Tag) and n.name == "form" and lengths.get(id(n), 0) < 200
        )
    )
    return body


def _prose_scores(root: Tag) -> tuple[dict[int, int], dict[int, int]]:
    """Map id(element) to the amount of prose inside it, and to the amount of its own prose.

    Prose is the text of blocks (text not inside a nested block) that is at least
    ``_MIN_PROSE`` characters long outside links and not mostly links. A block's own prose is
    the prose of its own text, without that of the blocks nested in it.
    """
    inline: dict[int, list[int]] = {}  # id -> [inline text length, inline link text length]
    scores: dict[int, int] = {}
    own: dict[int, int] = {}
    for node in [*reversed(list(root.descendants)), root]:
        parent = node.parent
        if isinstance(node, Tag):
            text, links = inline.pop(id(node), (0, 0))
            if is_navigation_link(node):
                links = text
            if node.name in BLOCK_TAGS or node is root:
                if text - links >= _MIN_PROSE and links <= _LINK_DENSITY * text:
                    own[id(node)] = text - links
                    scores[id(node)] = scores.get(id(node), 0) + text - links
                text = links = 0
            score = scores.get(id(node), 0)
            if score and parent is not None and node is not root:
                scores[id(parent)] = scores.get(id(parent), 0) + score
        elif isinstance(node, PreformattedString):
            continue
        else:
            text, links = len(" ".join(str(node).split())), 0
        if text and parent is not None and node is not root:
            acc = inline.setdefault(id(parent), [0, 0])
            acc[0] += text
            acc[1] += links
    return scores, own


def main_container(body: Tag) -> Tag:
    """Return the deepest element of ``body`` holding nearly all of the page's prose.

    The walk down stops above a paragraph-like block (one whose prose is mostly its own text),
    so the lists, tables and headings beside the paragraph stay in; a table cell may be chosen
    though, since the cells beside it are a layout's menus.
    """
    scores, own = _prose_scores(body)
    total = scores.get(id(body), 0)
    node = body
    while total:
        best = max(
            (c for c in node.children if isinstance(c, Tag)),
            key=lambda c: scores.get(id(c), 0),
            default=None,
        )
        if best is None or scores.get(id(best), 0) < _CONTAINER_SHARE * total:
            break
        if best.name not in ("td", "th") and own.get(id(best), 0) * 2 >= scores[id(best)]:
            break
        node = best
    return node


def prune_link_blocks(container: Tag) -> None:
    """Remove menus inside ``container``: blocks of several links with little other text."""
    lengths, links = text_lengths(container)

    def is_menu(node: PageElement) -> bool:
        if not isinstance(node, Tag) or node.name not in BLOCK_TAGS or node.name in HEADINGS:
            return False
        size, linked = lengths.get(id(node), 0), links.get(id(node), 0)
        return (
            bool(size)
            and linked > _LINK_DENSITY * size
            and size - linked < 200
            and len(node.find_all("a", limit=2)) == 2
        )

    _remove(_outermost(container, is_menu))


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
