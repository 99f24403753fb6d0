"""Serialize a cleaned lxml subtree to markdown.

The :class:`Writer` walks the tree iteratively (start/end events from an explicit stack), so
nesting depth is never a problem. Blocks (paragraphs, headings, list items, quotes, code blocks,
tables) are separated by blank lines; list items of one list by single newlines, nested lists
indented by their parent's marker width. Inline markup becomes ``**bold**``, ``*italic*`` and
``[text](absolute-url)``; inline elements that wrap blocks (``<b><p>..</p></b>``, common in old
pages) are transparent. Tables holding data become GFM tables; layout tables are flattened.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .page import BLOCK_TAGS, HEADINGS, Element, bottom_up, text_of

_LISTS = frozenset({"ul", "ol", "menu", "dir"})
_BOLD = frozenset({"b", "strong"})
_ITALIC = frozenset({"i", "em"})
_HTML_SPACES = "\n\t\r\f\v"
_LINE_START = re.compile(r"^([#>+=|-]|[*](?=\s))|^(\d+)([.)])(?=\s|$)")
_INLINE_SPECIAL = re.compile(r"([\\*`])|(?<!\w)_|_(?!\w)|<(?=[A-Za-z/!?])")
_MAYBE_SPECIAL = re.compile(r"[\\*`_<]")
_BRACKETS = re.compile(r"([\[\]])")
# A table cell with more text than this is page layout, not data.
_MAX_CELL = 600
# Elements whose presence inside a table makes it a layout table.
_LAYOUT_INSIDE = frozenset({"table", "h1", "h2", "h3", "form"})
# Nesting levels of lists and quotes that indent; deeper ones are written at this level.
_MAX_INDENT = 16


def collapse(text: str) -> str:
    """Return ``text`` with each run of HTML whitespace made one space (other spaces, like
    no-break spaces, are text). ``str.replace`` does this several times faster than a regex or
    ``str.translate`` (which is slow on non-ASCII text)."""
    for space in _HTML_SPACES:
        if space in text:
            text = text.replace(space, " ")
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def escape(text: str, *, in_link: bool = False) -> str:
    """Backslash-escape characters that markdown would read as inline syntax."""
    if _MAYBE_SPECIAL.search(text):
        text = _INLINE_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    if in_link:
        return _BRACKETS.sub(r"\\\1", text)
    return text.replace("](", "\\](") if "](" in text else text


def _escape_line_start(found: re.Match[str]) -> str:
    """Escape a line start that markdown would read as a heading, quote or list marker."""
    if found.group(1):
        return "\\" + found.group(1)
    return found.group(2) + "\\" + found.group(3)


@dataclass
class _Mark:
    """An open inline element (bold, italic or link) inside the current paragraph."""

    owner: Element
    kind: str
    url: str = ""
    dead: bool = False  # its paragraph was written out before it closed
    start: int = 0  # its index in the paragraph's pieces


@dataclass
class _Frame:
    """An open list, list item or block quote, which indents the blocks inside it."""

    kind: str  # "list", "item" or "quote"
    marker: str = ""  # for items: "- " or "3. "
    pending: bool = False  # for items: marker not yet written
    ordered: bool = False  # for lists
    counter: int = 1  # for ordered lists: the next number


@dataclass
class Writer:
    """Collects markdown blocks while walking a subtree; see :func:`to_markdown`."""

    link: Callable[[str | None], str | None]
    blocks: list[tuple[str, bool]] = field(default_factory=list)
    para: list[str | _Mark] = field(default_factory=list)
    frames: list[_Frame] = field(default_factory=list)
    marks: list[_Mark] = field(default_factory=list)
    wraps_block: set[Element] = field(default_factory=set)
    wraps_layout: set[Element] = field(default_factory=set)
    heading: tuple[Element, int] | None = None  # (element, level) of the open heading
    pre: Element | None = None  # the open ``<pre>``
    in_list_block: bool = False

    def walk(self, root: Element) -> None:
        """Render the content of ``root`` (its text and children, not its tail).

        Each element gives a start event, then its text and children, then an end event, then
        its tail (the text after it, inside its parent); an explicit stack of child iterators
        replaces recursion.
        """
        self._mark_block_wrappers(root)
        self._text(root.text)
        stack = [(root, iter(root))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if node is not root:
                    self._end(node)
                    self._text(node.tail)
                continue
            if not isinstance(child.tag, str):  # a comment or the like: only its tail is text
                self._text(child.tail)
            elif self._start(child):
                self._text(child.text)
                stack.append((child, iter(child)))
            else:
                self._end(child)
                self._text(child.tail)
        self.flush()

    def _mark_block_wrappers(self, root: Element) -> None:
        """Remember the elements of ``root`` that hold a block element (``wraps_block``) and
        those that hold a table, form or top-level heading (``wraps_layout``)."""
        for node in bottom_up(root):
            if node is root:
                break
            parent = node.getparent()
            if node.tag in BLOCK_TAGS or node in self.wraps_block:
                self.wraps_block.add(parent)
            if node.tag in _LAYOUT_INSIDE or node in self.wraps_layout:
                self.wraps_layout.add(parent)

    # --- events -------------------------------------------------------------------------

    def _start(self, tag: Element) -> bool:
        """Handle an opening tag; return whether to walk into its children."""
        name = tag.tag
        if name == "br":
            self._br()
            return False
        if self.pre is not None:
            return True
        if name in HEADINGS:
            if self.heading:
                self.para.append(" ")
            else:
                self.flush()
                self.heading = (tag, int(name[1]))
            return True
        if name == "pre":
            self.flush()
            self.pre = tag
            return True
        if name == "hr":
            self.flush()
            return False
        if name == "table" and tag not in self.wraps_layout and _is_data_table(tag):
            self.flush()
            self._table(tag)
            return False
        if name in _LISTS:
            self.flush()
            self.frames.append(_Frame("list", ordered=name == "ol", counter=_start_number(tag)))
        elif name == "li":
            self.flush()
            self.frames.append(_Frame("item", marker=self._next_marker(tag), pending=True))
        elif name == "blockquote":
            self.flush()
            self.frames.append(_Frame("quote"))
        elif name in BLOCK_TAGS:
            self._break()
        elif tag not in self.wraps_block:
            self._open_inline(tag)
        return True

    def _end(self, tag: Element) -> None:
        """Handle a closing tag."""
        name = tag.tag
        if self.pre is not None:
            if tag is self.pre:
                self._emit_pre()
            return
        if self.heading and self.heading[0] is tag:
            self._emit_heading()
        elif name in _LISTS or name in ("li", "blockquote"):
            self.flush()
            if self.frames:
                self.frames.pop()
        elif name in BLOCK_TAGS:
            self._break()
        elif self.marks and self.marks[-1].owner is tag:
            self._close_inline(self.marks.pop())

    def _text(self, text: str | None) -> None:
        """Add a piece of text to the current paragraph."""
        if not text:
            return
        if self.pre is not None:
            self.para.append(text)
            return
        text = collapse(text)
        self.para.append(escape(text, in_link=any(m.kind == "link" for m in self.marks)))

    def _br(self) -> None:
        """A line break; two in a row end the paragraph (a common old-page idiom)."""
        if self.pre is not None:
            self.para.append("\n")
            return
        for piece in reversed(self.para):
            if isinstance(piece, _Mark) or not piece.strip(" "):
                continue
            if piece.rstrip(" ").endswith("\n"):
                self.flush()
                return
            break
        else:
            return
        self.para.append("\n")

    def _break(self) -> None:
        """A block boundary: a space inside headings, else the end of the paragraph."""
        if self.heading:
            self.para.append(" ")
        else:
            self.flush()

    # --- inline markup ------------------------------------------------------------------

    def _open_inline(self, tag: Element) -> None:
        """Open bold, italic or a link for an inline element, unless already inside one."""
        kinds = {m.kind for m in self.marks}
        if tag.tag in _BOLD and "bold" not in kinds:
            mark = _Mark(tag, "bold")
        elif tag.tag in _ITALIC and "italic" not in kinds:
            mark = _Mark(tag, "italic")
        elif tag.tag == "a" and "link" not in kinds:
            url = self.link(tag.get("href"))
            if url is None:
                return
            mark = _Mark(tag, "link", url)
        else:
            return
        mark.start = len(self.para)
        self.marks.append(mark)
        self.para.append(mark)

    def _close_inline(self, mark: _Mark) -> None:
        """Wrap what was written since ``mark`` in its markdown syntax."""
        if mark.dead:
            return
        start = mark.start
        inner = "".join(p for p in self.para[start + 1 :] if isinstance(p, str))
        del self.para[start:]
        core = inner.strip()
        if not core:
            self.para.append(inner if mark.kind != "link" else " " * (inner != ""))
            return
        lead = " " if inner[0].isspace() else ""
        trail = " " if inner[-1].isspace() else ""
        if mark.kind == "link":
            url = mark.url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
            wrapped = f"[{core}]({url})"
        else:
            delim = "**" if mark.kind == "bold" else "*"
            wrapped = f"{delim}{core}{delim}"
        self.para.append(lead + wrapped + trail)

    # --- blocks -------------------------------------------------------------------------

    def _next_marker(self, tag: Element) -> str:
        """Return the marker of a new list item and advance its list's counter."""
        for frame in reversed(self.frames):
            if frame.kind == "list":
                if not frame.ordered:
                    return "- "
                value = tag.get("value")
                if value is not None and value.strip().isdigit():
                    frame.counter = int(value.strip())
                number, frame.counter = frame.counter, frame.counter + 1
                return f"{number}. "
            if frame.kind == "item":
                break
        return "- "

    def _prefixes(self) -> tuple[str, str, bool, bool]:
        """Return (first-line prefix, other-lines prefix, whether a list marker was written,
        whether the block is inside a list item); only the innermost ``_MAX_INDENT`` levels of
        lists and quotes indent, so absurd nesting gives bounded lines."""
        first: list[str] = []
        rest: list[str] = []
        marked = in_item = False
        for frame in self.frames[-_MAX_INDENT:]:
            if frame.kind == "quote":
                first.append("> ")
                rest.append("> ")
            elif frame.kind == "item":
                in_item = True
                first.append(frame.marker if frame.pending else " " * len(frame.marker))
                marked = marked or frame.pending
                frame.pending = False
                rest.append(" " * len(frame.marker))
        return "".join(first), "".join(rest), marked, in_item

    def _emit(self, lines: list[str]) -> None:
        """Add a block of lines, indented and marked for the open lists and quotes."""
        first, rest, marked, in_item = self._prefixes()
        text = "\n".join(
            [first + lines[0], *(rest + line if line else rest.rstrip() for line in lines[1:])]
        )
        self.blocks.append((text, marked and self.in_list_block))
        self.in_list_block = in_item

    def _take_para(self) -> str:
        """Return the current paragraph's text and start a new one."""
        for piece in self.para:
            if isinstance(piece, _Mark):
                piece.dead = True
        text = "".join(p for p in self.para if isinstance(p, str))
        self.para.clear()
        return text

    def flush(self) -> None:
        """End the current paragraph, writing it as a block if it has any text."""
        lines = [collapse(line).strip() for line in self._take_para().split("\n")]
        lines = [_LINE_START.sub(_escape_line_start, line) for line in lines if line]
        if lines:
            self._emit(lines)

    def _emit_heading(self) -> None:
        """Write the open heading as an ATX heading."""
        assert self.heading is not None
        level = self.heading[1]
        self.heading = None
        text = collapse(self._take_para()).strip()
        if text:
            self._emit(["#" * level + " " + text.replace("#", "\\#")])

    def _emit_pre(self) -> None:
        """Write the open ``<pre>`` as a fenced code block."""
        self.pre = None
        text = self._take_para().strip("\n")
        if text.strip():
            fence = "~~~" if "```" in text else "```"
            self._emit([fence, *(line.rstrip() for line in text.split("\n")), fence])

    def _table(self, table: Element) -> None:
        """Write a data table as a GFM table."""
        rows = [[(self._cell(cell), _span(cell)) for cell in cells] for cells in _table_rows(table)]
        grid = [[text for text, span in row for text in [text] + [""] * (span - 1)] for row in rows]
        grid = [row for row in grid if any(row)]
        width = max((len(row) for row in grid), default=0)
        keep = [c for c in range(width) if any(c < len(row) and row[c] for row in grid)]
        grid = [[row[c] if c < len(row) else "" for c in keep] for row in grid]
        if not grid:
            return
        lines = ["| " + " | ".join(grid[0]) + " |", "| " + " | ".join(["---"] * len(keep)) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in grid[1:]]
        self._emit([collapse(line) for line in lines])

    def _cell(self, cell: Element) -> str:
        """Render one table cell as a single line of inline markdown."""
        sub = Writer(self.link)
        sub.walk(cell)
        text = " ".join(block.replace("\n", " ") for block, _ in sub.blocks)
        return text.replace("|", "\\|").strip()


def _start_number(tag: Element) -> int:
    """Return the first number of an ordered list."""
    start = tag.get("start")
    return int(start) if start is not None and start.strip().isdigit() else 1


def _span(cell: Element) -> int:
    """Return a cell's colspan, bounded to a sane range."""
    span = cell.get("colspan")
    if span is not None and span.strip().isdigit():
        return max(1, min(int(span), 50))
    return 1


def _table_rows(table: Element) -> list[list[Element]]:
    """Return the cells of each row of ``table`` (not of nested tables)."""
    return [
        [cell for cell in row if cell.tag in ("td", "th")]
        for row in table.iter("tr")
        if next(row.iterancestors("table"), None) is table
    ]


def _is_data_table(table: Element) -> bool:
    """Whether ``table`` (holding no table, form or heading) is a grid of short values."""
    role = (table.get("role") or "").lower()
    if role in ("presentation", "none"):
        return False
    rows = [[text_of(c) for c in cells] for cells in _table_rows(table)]
    rows = [row for row in rows if any(row)]
    if len(rows) < 2:
        return False
    columns = max(len(row) for row in rows)
    filled = [c for c in range(columns) if any(c < len(row) and row[c] for row in rows)]
    if len(filled) < 2:
        return False
    return all(len(text) <= _MAX_CELL for row in rows for text in row)


def to_markdown(root: Element, link: Callable[[str | None], str | None]) -> str:
    """Return the markdown of the content of ``root``; ``link`` resolves hrefs (None: no link)."""
    writer = Writer(link)
    writer.walk(root)
    out: list[str] = []
    for text, tight in writer.blocks:
        if out:
            out.append("\n" if tight else "\n\n")
        out.append(text)
    return "".join(out)
