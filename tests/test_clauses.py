"""Tests of the clause splitter and clause keys."""

from hypothesis import given
from hypothesis import strategies as st

from tracker.clauses import Clause, clause_key, plain_text, split_clauses, words

POLICY = """# Privacy Policy

Last updated: **January 1, 2020**

Intro paragraph that
wraps over two lines.

## What we collect

- Your *name*
- Your email
  address, continued lazily
  - nested item
    1. deeper item
- Your phone

## Cookies

| Cookie | Purpose |
| --- | :--- |
| _ga |   analytics   |
| `sid` | session |

### Opting out

1. Open settings.
2. Clear cookies.

---

# Annex

Final words.
"""


def _by_kind(clauses: list[Clause], kind: str) -> list[str]:
    """Return the texts of the clauses of one kind."""
    return [c.text for c in clauses if c.kind == kind]


def test_positions_are_document_order():
    clauses = split_clauses(POLICY)
    assert [c.position for c in clauses] == list(range(len(clauses)))
    assert clauses[0].text == "# Privacy Policy"
    assert clauses[-1].text == "Final words."


def test_kinds_and_texts():
    clauses = split_clauses(POLICY)
    assert _by_kind(clauses, "heading") == [
        "# Privacy Policy",
        "## What we collect",
        "## Cookies",
        "### Opting out",
        "# Annex",
    ]
    assert _by_kind(clauses, "paragraph") == [
        "Last updated: **January 1, 2020**",
        "Intro paragraph that wraps over two lines.",
        "Final words.",
    ]
    assert _by_kind(clauses, "list_item") == [
        "Your *name*",
        "Your email address, continued lazily",
        "nested item",
        "deeper item",
        "Your phone",
        "Open settings.",
        "Clear cookies.",
    ]


def test_table_rows_header_included_delimiter_dropped_padding_normalized():
    rows = _by_kind(split_clauses(POLICY), "table_row")
    assert rows == ["| Cookie | Purpose |", "| _ga | analytics |", "| `sid` | session |"]


def test_sections():
    by_text = {c.text: c.section for c in split_clauses(POLICY)}
    assert by_text["# Privacy Policy"] == ""
    assert by_text["Last updated: **January 1, 2020**"] == "Privacy Policy"
    assert by_text["## What we collect"] == "Privacy Policy"
    assert by_text["deeper item"] == "Privacy Policy > What we collect"
    assert by_text["| _ga | analytics |"] == "Privacy Policy > Cookies"
    assert by_text["### Opting out"] == "Privacy Policy > Cookies"
    assert by_text["Open settings."] == "Privacy Policy > Cookies > Opting out"
    assert by_text["# Annex"] == ""
    assert by_text["Final words."] == "Annex"


def test_clause_before_any_heading_has_empty_section():
    clauses = split_clauses("Preamble.\n\n## Heading **bold** [link](http://x)\n\nBody.\n")
    assert [(c.kind, c.section) for c in clauses] == [
        ("paragraph", ""),
        ("heading", ""),
        ("paragraph", "Heading bold link"),
    ]


def test_table_without_outer_pipes_and_heading_right_after():
    clauses = split_clauses("a | b\n--|--\n1 | 2\n## Next\ntext\n")
    assert [(c.kind, c.text) for c in clauses] == [
        ("table_row", "| a | b |"),
        ("table_row", "| 1 | 2 |"),
        ("heading", "## Next"),
        ("paragraph", "text"),
    ]


def test_every_clause_key_matches_its_text():
    assert all(c.key == clause_key(c.text) for c in split_clauses(POLICY))


def test_empty_input():
    assert split_clauses("") == []
    assert split_clauses("\n\n---\n\n") == []


def test_key_ignores_whitespace_quotes_dashes_and_case():
    assert clause_key("We  don’t   sell — “ever”.") == clause_key('we don\'t sell - "EVER".')
    assert clause_key("Data\u00a0sharing\u200b") == clause_key("data sharing")


def test_key_ignores_markdown_syntax():
    plain = clause_key("We use cookies, see our policy.")
    assert clause_key("We use **cookies**, see [our policy](https://a.example/p).") == plain
    assert clause_key("We use _cookies_, see our *policy*.") == plain
    assert clause_key("- We use cookies, see our policy.") == plain
    assert clause_key("### We use cookies, see our policy.") == plain
    assert clause_key("12. We use `cookies`, see our policy.") == plain


def test_key_keeps_wording_and_meaningful_underscores():
    assert clause_key("We sell data.") != clause_key("We do not sell data.")
    assert clause_key("We sell data.") != clause_key("We sell data!")
    assert clause_key("| _ga | analytics |") != clause_key("| ga | analytics |")
    assert clause_key("snake_case") == "snake_case"


def test_plain_text_and_words():
    assert plain_text("**Bold** [link](http://x) ![alt](i.png)") == "Bold link alt"
    assert words("Don’t share [your data](http://x.y/z)!") == ["don", "t", "share", "your", "data"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_split_never_crashes_and_positions_are_dense(markdown):
    clauses = split_clauses(markdown)
    assert [c.position for c in clauses] == list(range(len(clauses)))
    assert all(c.kind in {"heading", "paragraph", "list_item", "table_row"} for c in clauses)
