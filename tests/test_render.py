"""Tests of the comparison renderers."""

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from tracker.diff import compare
from tracker.render import (
    FORMAT_VERSION,
    comparison_to_dict,
    render_html,
    render_markdown,
    render_terminal,
)

OLD = """# Privacy Policy

Last updated: January 1, 2020

## Data we collect

We collect your name and email address. We use them to send newsletters.

## Your rights

You can ask us to delete your data at any time.

Markup like [bold]this[/bold] stays literal.

We never sell your data.

Old clause that goes away entirely.
"""

NEW = """# Privacy Policy

Last updated: March 3, 2021

## Data we collect

We collect your name and email address.

We use them to send newsletters.

## Your choices

You can ask us to delete your personal data at any time.

Markup like [bold]this[/bold] stays literal <script>alert(1)</script>.

We may sell your data.

Brand new clause with a " onerror=alert(2) attribute.
"""


@pytest.fixture(name="comparison")
def _comparison():
    """The comparison of OLD and NEW."""
    return compare(OLD, NEW)


def test_fixture_has_the_expected_kinds(comparison):
    assert [c.kind for c in comparison.changes] == [
        "cosmetic",
        "split",
        "modified",
        "modified",
        "modified",
        "modified",
        "removed",
        "added",
    ]


def test_dict_shape(comparison):
    data = comparison_to_dict(comparison)
    assert data["format_version"] == FORMAT_VERSION == 1
    assert data["summary"] == comparison.summary
    assert json.loads(json.dumps(data)) == data
    assert len(data["changes"]) == len(comparison.changes)
    for change in data["changes"]:
        assert set(change) == {"kind", "old", "new", "diff", "old_parts", "new_parts"}
        for clause in [change["old"], change["new"], *change["old_parts"], *change["new_parts"]]:
            assert clause is None or set(clause) == {"text", "section", "position", "kind"}


def test_dict_values(comparison):
    changes = comparison_to_dict(comparison)["changes"]
    removed = changes[6]
    assert removed["new"] is None
    assert removed["old"] == {
        "text": "Old clause that goes away entirely.",
        "section": "Privacy Policy > Your rights",
        "position": 8,
        "kind": "paragraph",
    }
    modified = changes[5]
    assert modified["diff"] == [[0, "We "], [-1, "never"], [1, "may"], [0, " sell your data."]]
    split = changes[1]
    assert [part["text"] for part in split["new_parts"]] == [
        "We collect your name and email address.",
        "We use them to send newsletters.",
    ]
    assert split["old_parts"] == []
    assert changes[0]["diff"] is None


def test_markdown(comparison):
    text = render_markdown(comparison)
    assert text.startswith("# Policy changes\n")
    assert "## Privacy Policy > Data we collect\n" in text
    assert "## Privacy Policy > Your choices\n" in text
    assert "- **Modified** (paragraph): We ~~never~~**[+may+]** sell your data." in text
    assert "- **Removed** (paragraph): ~~Old clause that goes away entirely.~~" in text
    assert "  1. We collect your name and email address.\n  2. We use them" in text
    assert "Last updated" not in text


def test_markdown_shows_cosmetic_on_request(comparison):
    text = render_markdown(comparison, show_cosmetic=True)
    assert "- **Cosmetic** (paragraph): Last updated:" in text


def test_markdown_sections_group_in_document_order(comparison):
    headings = re.findall(r"^## (.*)$", render_markdown(comparison), flags=re.MULTILINE)
    assert headings == ["Privacy Policy > Data we collect", "Privacy Policy > Your choices"]


def test_html_escapes_archived_text(comparison):
    page = render_html(comparison, title='<b>Example</b> "policy"')
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '" onerror=' not in page
    assert "&quot; onerror=alert(2)" in page
    assert "<title>&lt;b&gt;Example&lt;/b&gt; &quot;policy&quot;</title>" in page


def test_html_is_self_contained_with_word_diff(comparison):
    page = render_html(comparison)
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert not re.search(r"<(link|img|iframe)\b|src=", page)
    assert "We <del>never</del><ins>may</ins> sell your data." in page
    assert "Last updated" not in page
    assert "Last updated" in render_html(comparison, show_cosmetic=True)


def test_html_escapes_section_names():
    page = render_html(compare("# A\n\n## <img>\n\nx\n", "# A\n\n## <img>\n\ny z\n"))
    assert "<h2>A &gt; &lt;img&gt;</h2>" in page


def test_terminal_output(comparison):
    console = Console(record=True, width=100)
    render_terminal(comparison, console)
    text = console.export_text()
    assert "Privacy Policy > Your choices" in text
    assert "We [-never-]{+may+} sell your data." in text
    assert "Markup like [bold]this[/bold] stays literal" in text
    assert "Last updated" not in text
    assert "Removed" in text and "Added" in text


def test_terminal_uses_colour(comparison):
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor")
    render_terminal(comparison, console, show_cosmetic=True)
    styled = console.export_text(styles=True, clear=False)
    assert "\x1b[" in styled
    assert "Last updated" in console.export_text()


def test_no_changes_renders_cleanly():
    comparison = compare(OLD, OLD)
    assert "no changes" in render_markdown(comparison)
    assert "No changes." in render_html(comparison)
    console = Console(record=True, width=100)
    render_terminal(comparison, console)
    assert "no changes" in console.export_text()


def test_documented_example_matches_the_code():
    doc = (Path(__file__).parent.parent / "docs" / "comparison-json.md").read_text()
    old, new = re.findall(r"```markdown\n(.*?)```", doc, flags=re.DOTALL)
    [example] = re.findall(r"```json\n(.*?)```", doc, flags=re.DOTALL)
    assert comparison_to_dict(compare(old, new)) == json.loads(example)
