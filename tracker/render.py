"""Renderers of a :class:`tracker.diff.Comparison`: JSON-ready dict, markdown, HTML, terminal.

The three human renderers group consecutive changes by section (the new clause's section,
or the old one's for a removal), mark inserted and deleted words, and hide ``cosmetic``
changes unless ``show_cosmetic=True``. Archived text is never interpreted as markup: HTML
output escapes it with :func:`html.escape`, terminal output uses :class:`rich.text.Text`.
The dict form is documented in ``docs/comparison-json.md``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from rich.console import Console
from rich.text import Text

from tracker.clauses import SECTION_SEPARATOR, Clause, plain_text
from tracker.diff import KINDS, Change, Comparison, word_diff

FORMAT_VERSION = 1
TOP_SECTION = "(before the first heading)"

_LABELS = {
    "added": "Added",
    "removed": "Removed",
    "modified": "Modified",
    "moved": "Moved",
    "split": "Split",
    "merged": "Merged",
    "cosmetic": "Cosmetic",
}
_TERMINAL_STYLES = {
    "added": "bold green",
    "removed": "bold red",
    "modified": "bold yellow",
    "moved": "bold blue",
    "split": "bold magenta",
    "merged": "bold magenta",
    "cosmetic": "dim",
}
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
h2 { font-size: 1.1rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
ul { list-style: none; padding-left: 0; }
li.change { margin: .6rem 0; padding: .4rem .6rem; border-left: 4px solid #999; }
li.added { border-color: #2a7; } li.removed { border-color: #c33; }
li.modified { border-color: #d90; } li.moved { border-color: #36c; }
li.split, li.merged { border-color: #a3a; } li.cosmetic { border-color: #bbb; color: #666; }
.label { font-weight: bold; margin-right: .5rem; } .note { color: #666; font-size: .9em; }
.text { white-space: pre-wrap; margin-top: .2rem; }
ins { background: #d4f5dd; text-decoration: none; }
del { background: #fbd9d9; }
ol.parts { margin: .3rem 0 0 1.2rem; padding: 0; list-style: decimal; }
"""


def comparison_to_dict(comparison: Comparison) -> dict:
    """Return the JSON-serializable form of a comparison (format version 1)."""
    return {
        "format_version": FORMAT_VERSION,
        "changes": [_change_to_dict(change) for change in comparison.changes],
        "summary": dict(comparison.summary),
    }


def _change_to_dict(change: Change) -> dict:
    """Return the dict form of one change."""
    return {
        "kind": change.kind,
        "old": _clause_to_dict(change.old),
        "new": _clause_to_dict(change.new),
        "diff": None if change.diff is None else [[op, text] for op, text in change.diff],
        "old_parts": [_clause_to_dict(part) for part in change.old_parts],
        "new_parts": [_clause_to_dict(part) for part in change.new_parts],
    }


def _clause_to_dict(clause: Clause | None) -> dict | None:
    """Return the dict form of a clause, or ``None``."""
    if clause is None:
        return None
    return {
        "text": clause.text,
        "section": clause.section,
        "position": clause.position,
        "kind": clause.kind,
    }


def _visible_groups(comparison: Comparison, show_cosmetic: bool) -> list[tuple[str, list[Change]]]:
    """Group the shown changes into runs of consecutive changes of the same section."""
    renames = _section_renames(comparison.changes)
    shown = [c for c in comparison.changes if show_cosmetic or c.kind != "cosmetic"]
    runs = groupby(shown, key=lambda change: _section(change, renames))
    return [(section, list(run)) for section, run in runs]


def _heading_path(heading: Clause) -> str:
    """Return the section path a heading opens (its parents' path plus its title)."""
    title = plain_text(heading.text)
    return SECTION_SEPARATOR.join(part for part in (heading.section, title) if part)


def _section_renames(changes: list[Change]) -> dict[str, str]:
    """Map old section paths to new ones, from the changed headings of a comparison."""
    return {
        _heading_path(change.old): _heading_path(change.new)
        for change in changes
        if change.old and change.new and change.old.kind == change.new.kind == "heading"
    }


def _section(change: Change, renames: dict[str, str]) -> str:
    """Return the section a change is listed under.

    That is the new clause's section (a changed heading opens its own section), or for a
    removed clause its old section under its new name when a heading was renamed.
    """
    clause = _main_clause(change)
    path = _heading_path(clause) if clause.kind == "heading" else clause.section
    if change.new is not None:
        return path
    prefix = max(
        (old for old in renames if path == old or path.startswith(old + SECTION_SEPARATOR)),
        key=len,
        default=None,
    )
    return path if prefix is None else renames[prefix] + path[len(prefix) :]


def _main_clause(change: Change) -> Clause:
    """Return the clause a change is about: the new one, or the old one if removed."""
    clause = change.new if change.new is not None else change.old
    assert clause is not None, "a change has an old or a new clause"
    return clause


def _segments(change: Change) -> list[tuple[int, str]]:
    """Return the main text of a change as diff segments ``(op, text)``."""
    if change.diff is not None:
        return change.diff
    if change.kind == "added" or change.old is None:
        return [(1, change.new.text if change.new else "")]
    if change.kind == "removed" or change.new is None:
        return [(-1, change.old.text)]
    if change.kind == "split":
        return [(0, change.old.text)]
    if change.old.text != change.new.text and change.kind in ("cosmetic", "moved"):
        return word_diff(change.old.text, change.new.text)
    return [(0, change.new.text)]


def _note(change: Change) -> str:
    """Return the explanatory note of a change (plain text, may quote archived text)."""
    kind = _main_clause(change).kind.replace("_", " ")
    if change.kind == "moved" and change.old and change.new:
        if change.old.section != change.new.section:
            return f"{kind}, moved from “{change.old.section or TOP_SECTION}”"
        return f"{kind}, moved within the section"
    if change.kind == "split":
        return f"{kind}, split into {len(change.new_parts)} clauses"
    if change.kind == "merged":
        return f"{kind}, merged from {len(change.old_parts)} clauses"
    return kind


def _parts(change: Change) -> tuple[Clause, ...]:
    """Return the parts listed under a split or merged change."""
    return change.new_parts if change.kind == "split" else change.old_parts


def _summary_line(summary: dict) -> str:
    """Return a one-line human summary of the counts."""
    counts = [f"{summary.get(kind, 0)} {kind}" for kind in _LABELS if summary.get(kind)]
    return (
        f"{', '.join(counts) or 'no changes'}; "
        f"+{summary.get('words_added', 0)} / -{summary.get('words_removed', 0)} words; "
        f"significance {summary.get('significance', 0)}"
    )


def render_markdown(comparison: Comparison, *, show_cosmetic: bool = False) -> str:
    """Render a comparison as markdown grouped by section.

    Deleted words are ``~~struck~~``, inserted words ``**[+bold in brackets+]**``.
    """
    lines = ["# Policy changes", "", _summary_line(comparison.summary)]
    for section, changes in _visible_groups(comparison, show_cosmetic):
        lines += ["", f"## {section or TOP_SECTION}", ""]
        for change in changes:
            body = "".join(_markdown_segment(op, text) for op, text in _segments(change))
            lines.append(f"- **{_LABELS[change.kind]}** ({_note(change)}): {_indent(body, '  ')}")
            lines += [
                f"  {n}. {_indent(part.text, '     ')}" for n, part in enumerate(_parts(change), 1)
            ]
    return "\n".join(lines) + "\n"


def _markdown_segment(op: int, text: str) -> str:
    """Render one diff segment as markdown, keeping outer whitespace outside the marks."""
    core = text.strip()
    if op == 0 or not core:
        return text if op != -1 else ""
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    marked = f"~~{core}~~" if op == -1 else f"**[+{core}+]**"
    return f"{lead}{marked}{trail}"


def _indent(text: str, prefix: str) -> str:
    """Indent continuation lines of ``text`` so it stays inside its list item."""
    return text.replace("\n", "\n" + prefix)


def render_html(comparison: Comparison, *, show_cosmetic: bool = False, title: str = "") -> str:
    """Render a comparison as a self-contained HTML page (inline CSS, no scripts)."""
    heading = html.escape(title or "Policy changes")
    summary = html.escape(_summary_line(comparison.summary))
    body = [f"<h1>{heading}</h1>", f'<p class="summary">{summary}</p>']
    for section, changes in _visible_groups(comparison, show_cosmetic):
        body.append(f"<section>\n<h2>{html.escape(section or TOP_SECTION)}</h2>\n<ul>")
        body += [_html_change(change) for change in changes]
        body.append("</ul>\n</section>")
    if not comparison.changes:
        body.append("<p>No changes.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_change(change: Change) -> str:
    """Render one change as an HTML list item."""
    text = "".join(_html_segment(op, piece) for op, piece in _segments(change))
    parts = "".join(f"<li>{html.escape(part.text)}</li>" for part in _parts(change))
    return (
        f'<li class="change {change.kind}"><span class="label">{_LABELS[change.kind]}</span>'
        f'<span class="note">{html.escape(_note(change))}</span>'
        f'<div class="text">{text}</div>'
        + (f'<ol class="parts">{parts}</ol>' if parts else "")
        + "</li>"
    )


def _html_segment(op: int, text: str) -> str:
    """Render one diff segment as escaped HTML inside ``<ins>``/``<del>`` when edited."""
    escaped = html.escape(text)
    if op == 1:
        return f"<ins>{escaped}</ins>"
    if op == -1:
        return f"<del>{escaped}</del>"
    return escaped


def render_terminal(
    comparison: Comparison, console: Console, *, show_cosmetic: bool = False
) -> None:
    """Print a comparison to a rich console, in colour, grouped by section.

    Besides colours, inserted words are shown as ``{+words+}`` and deleted ones as
    ``[-words-]`` (git's word-diff notation), so the output reads without colour too.
    """
    console.print(Text("Policy changes", style="bold"))
    console.print(Text(_summary_line(comparison.summary), style="dim"))
    for section, changes in _visible_groups(comparison, show_cosmetic):
        console.print()
        console.print(Text(section or TOP_SECTION, style="bold underline"))
        for change in changes:
            console.print(_terminal_change(change))


def _terminal_change(change: Change) -> Text:
    """Build the rich text of one change (archived text never parsed as markup)."""
    line = Text()
    line.append(f"{_LABELS[change.kind]:<9}", style=_TERMINAL_STYLES[change.kind])
    line.append(f" ({_note(change)}) ", style="dim")
    for op, piece in _segments(change):
        if op == 0:
            line.append(piece)
        elif op == 1:
            line.append(f"{{+{piece}+}}", style="bold green")
        else:
            line.append(f"[-{piece}-]", style="red strike")
    for number, part in enumerate(_parts(change), 1):
        line.append(f"\n          {number}. ", style="dim")
        line.append(part.text)
    return line


def revision_summary(revision: Mapping[str, Any]) -> str:
    """``3 added, 1 modified`` for a stored revision (its counts per kind); ``first version``
    for a policy's first."""
    if revision["from_version"] is None:
        return "first version"
    counts = [f"{revision[kind]} {kind}" for kind in KINDS if revision.get(kind)]
    return ", ".join(counts) or "no clause changed"
