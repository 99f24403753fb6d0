"""Split normalized policy markdown into clauses, and compute their comparison keys.

A *clause* is the unit the clause-level diff (:mod:`tracker.diff`) aligns between two
versions of a policy: a heading, a paragraph, one list item (nested items are clauses
of their own) or one table row.

Representation choices (``Clause.text``):

* headings keep their ``#`` markers (``"## Your rights"``), so a level change shows as a
  cosmetic change;
* list items drop their marker and indentation (``"We sell data"`` for ``"  3. We sell
  data"``): renumbering a list or switching bullet style is not a change at all;
* table rows keep their pipes with cell padding normalized (``"| Cookie | Purpose |"``);
  the header row is a clause too (a renamed column is a change), the ``| --- |``
  delimiter row is dropped;
* paragraphs (and lazy continuation lines of list items) are folded onto one line, the
  lines joined by single spaces, so re-wrapping a paragraph is not a change either.

``Clause.section`` is the path of headings the clause sits in, joined with ``" > "``
(heading titles as plain text, without emphasis or link targets); for a heading it is the
path of its parents.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

SECTION_SEPARATOR = " > "

_HEADING = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(?:\s+(.*))?$")
_THEMATIC_BREAK = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

_PUNCT_MAP = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff"),
    }
)
_PUNCT_CHARS = re.compile("[" + "".join(map(chr, _PUNCT_MAP)) + "]")  # gates the slow translate
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+)>")
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s+|\s+#+\s*$")
_LEADING_MARKER = re.compile(r"^\s*(?:[-+]|\d{1,9}[.)]|>)\s+")
_EMPHASIS = re.compile(r"\*+|~~|`+")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)(__?)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_LOOSE_SPACE = re.compile(r"\s+([.,;:!?)\]])|([(\[])\s+")
_LOOSE_PAIRS = tuple(" " + p for p in ".,;:!?)]") + ("( ", "[ ")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Clause:
    """One clause of a policy version.

    Attributes:
        position: 0-based index in document order.
        kind: ``"heading"``, ``"paragraph"``, ``"list_item"`` or ``"table_row"``.
        section: heading path the clause sits in (``"Privacy Policy > Your rights"``),
            ``""`` before any heading; for a heading, the path of its parents.
        text: the clause's markdown (see the module docstring for the exact form).
        key: :func:`clause_key` of ``text``; equal keys mean identical wording and markup
            up to whitespace, quote/dash style, markdown syntax and case.
    """

    position: int
    kind: str
    section: str
    text: str
    key: str


def plain_text(text: str) -> str:
    """Return ``text`` without markdown syntax, with quotes/dashes/spacing unified.

    Link and image targets are dropped (their text/alt is kept), emphasis, code and
    strike-through markers, heading ``#`` markers, a leading list marker or ``>`` and
    backslash escapes are removed; curly quotes become straight ones, dash variants
    become ``-``, zero-width characters disappear and whitespace runs become one space.
    Case is preserved.
    """
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if _PUNCT_CHARS.search(text):
        text = text.translate(_PUNCT_MAP)
    if "[" in text:
        text = _REF_LINK.sub(r"\1", _LINK.sub(r"\1", _IMAGE.sub(r"\1", text)))
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
    if "#" in text:
        text = _HEADING_MARKS.sub("", text)
    text = _LEADING_MARKER.sub("", text)
    if "\\" in text:
        text = _BACKSLASH_ESCAPE.sub(r"\1", text)
    if "*" in text or "~~" in text or "`" in text:
        text = _EMPHASIS.sub("", text)
    if "_" in text:
        text = _UNDERSCORE_EMPHASIS.sub(r"\2", text)
    text = " ".join(text.split())
    if any(pair in text for pair in _LOOSE_PAIRS):
        text = _LOOSE_SPACE.sub(r"\1\2", text)
    return text


@lru_cache(maxsize=8192)
def clause_key(text: str) -> str:
    """Return the comparison key of a clause's markdown text.

    The key ignores whitespace, quote style (curly/straight), dash variants, markdown
    syntax (emphasis, link targets, list markers, heading ``#`` markers) and case, but
    keeps every word and punctuation mark, so equal keys mean "same wording".
    """
    return plain_text(text).casefold()


def words(text: str) -> list[str]:
    """Return the case-folded word tokens (runs of letters/digits) of a clause's text."""
    return _WORD.findall(plain_text(text).casefold())


def split_clauses(markdown: str) -> list[Clause]:
    """Split normalized markdown into clauses in document order.

    Headings, paragraphs, list items (nested ones included, each its own clause) and
    table rows (the header row included, the delimiter row dropped) become clauses;
    blank lines and thematic breaks do not. Fenced code blocks become one paragraph.

    The last few results are memoized: walking a policy's history compares each version
    twice, with its predecessor and with its successor.
    """
    return list(_split(markdown))


@lru_cache(maxsize=16)
def _split(markdown: str) -> tuple[Clause, ...]:
    """Implement :func:`split_clauses` (cached; clauses are immutable)."""
    return tuple(_Splitter(markdown.splitlines()).run())


class _Splitter:
    """Line-oriented block parser producing :class:`Clause` objects."""

    def __init__(self, lines: list[str]) -> None:
        """Prepare to parse ``lines`` (no trailing newlines)."""
        self.lines = [line.expandtabs(4).rstrip() for line in lines]
        self.clauses: list[Clause] = []
        self.headings: list[tuple[int, str]] = []  # (level, plain title) of open headings
        self.i = 0

    def run(self) -> list[Clause]:
        """Parse all lines and return the clauses."""
        handlers = {
            "heading": self._heading,
            "fence": self._fenced_block,
            "table": self._table,
            "list": self._list_item,
            None: self._paragraph,
        }
        while self.i < len(self.lines):
            start = self._block_start(self.i)
            if start in ("blank", "break"):
                self.i += 1
            else:
                handlers[start]()
        return self.clauses

    def _block_start(self, index: int) -> str | None:
        """Return the kind of block line ``index`` starts, or ``None`` for plain text.

        Kinds: ``"blank"``, ``"break"`` (thematic break), ``"heading"``, ``"fence"``,
        ``"table"``, ``"list"``. The first character gates the regexes (speed).
        """
        line = self.lines[index]
        first = line.lstrip()[:1]
        if not first:
            return "blank"
        if first in "-*_" and _THEMATIC_BREAK.match(line):
            return "break"
        if first == "#" and _HEADING.match(line):
            return "heading"
        if first in "`~" and _FENCE.match(line):
            return "fence"
        if "|" in line and self._starts_table(index):
            return "table"
        if (first in "-*+" or first.isdigit()) and _LIST_ITEM.match(line):
            return "list"
        return None

    def _emit(self, kind: str, text: str, section: str | None = None) -> None:
        """Append a clause of ``kind`` with ``text`` in the current (or given) section."""
        if section is None:
            section = SECTION_SEPARATOR.join(title for _, title in self.headings)
        position = len(self.clauses)
        self.clauses.append(Clause(position, kind, section, text, clause_key(text)))

    def _heading(self) -> None:
        """Emit a heading clause and update the heading path."""
        match = _HEADING.match(self.lines[self.i])
        assert match is not None
        level, title = len(match.group(1)), (match.group(2) or "").strip()
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self._emit("heading", f"{match.group(1)} {title}".rstrip())
        self.headings.append((level, plain_text(title)))
        self.i += 1

    def _starts_table(self, index: int) -> bool:
        """Tell whether a GFM table (row followed by a delimiter row) starts at ``index``."""
        return (
            "|" in self.lines[index]
            and index + 1 < len(self.lines)
            and "-" in self.lines[index + 1]
            and _TABLE_DELIMITER.match(self.lines[index + 1]) is not None
        )

    def _table(self) -> None:
        """Emit one clause per table row, header row included, delimiter row skipped."""
        self._emit("table_row", _normalize_row(self.lines[self.i]))
        self.i += 2
        while self.i < len(self.lines) and "|" in self.lines[self.i]:
            line = self.lines[self.i]
            if line.strip() and not _HEADING.match(line):
                self._emit("table_row", _normalize_row(line))
            self.i += 1

    def _list_item(self) -> None:
        """Emit a list item, folding its lazy/indented continuation lines into it."""
        match = _LIST_ITEM.match(self.lines[self.i])
        assert match is not None
        parts = [(match.group(3) or "").strip()]
        self.i += 1
        while self._continues_block():
            parts.append(self.lines[self.i].strip())
            self.i += 1
        self._emit("list_item", " ".join(part for part in parts if part))

    def _paragraph(self) -> None:
        """Emit a paragraph made of consecutive lines that start no other block."""
        parts = [self.lines[self.i].strip()]
        self.i += 1
        while self._continues_block():
            parts.append(self.lines[self.i].strip())
            self.i += 1
        self._emit("paragraph", " ".join(parts))

    def _continues_block(self) -> bool:
        """Tell whether the current line continues the current paragraph or list item."""
        return self.i < len(self.lines) and self._block_start(self.i) is None

    def _fenced_block(self) -> None:
        """Emit a fenced code block (fences included) as one paragraph clause."""
        fence = _FENCE.match(self.lines[self.i])
        assert fence is not None
        parts = [self.lines[self.i].strip()]
        self.i += 1
        while self.i < len(self.lines):
            parts.append(self.lines[self.i])
            self.i += 1
            if self.lines[self.i - 1].strip().startswith(fence.group(1)):
                break
        self._emit("paragraph", "\n".join(parts))


def _normalize_row(line: str) -> str:
    """Return a table row as ``| cell | cell |`` with cell padding normalized."""
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = [_WHITESPACE.sub(" ", cell).strip() for cell in _CELL_SPLIT.split(row)]
    return "| " + " | ".join(cells) + " |"
