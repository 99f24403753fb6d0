"""Tests of the clause-level comparison and the word diff."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.clauses import split_clauses
from tracker.diff import KINDS, Change, compare, is_cosmetic, word_diff

POLICY = """# Example Privacy Policy

Last updated: January 5, 2021

This policy explains how Example Corp handles personal information when you use our services.

## Information we collect

We collect information you give us directly when you create an account or contact support.

- Contact details such as your name, postal address and email address.
- Payment information processed by our payment provider on our behalf.
- Device identifiers, browser type and operating system version.
- Approximate location derived from your IP address.

We also receive information about you from advertising partners and public sources.

## How we use information

We use your information to provide, maintain and improve the services you request.

We send service announcements and, with your consent, marketing emails about new features.

We analyse usage trends to understand which features are popular and to fix bugs.

## Sharing

We share information with vendors who process it for us under written contracts.

We may disclose information when required by law or to protect the rights of others.

We do not sell your personal information to third parties for money.

## Cookies

| Cookie | Purpose | Lifetime |
| --- | --- | --- |
| session_id | keeps you signed in | session |
| _ga | audience measurement by Google Analytics | two years |
| ads_pref | remembers your advertising choices | one year |

You can block cookies in your browser settings, but some features may stop working.

## Data retention

We keep account data for as long as your account remains active.

Backups are deleted automatically within ninety days after account closure.

## Your rights

Depending on where you live, you may have the following rights:

1. The right to access the personal information we hold about you.
2. The right to correct inaccurate or incomplete information.
3. The right to delete your information, subject to legal exceptions.
4. The right to object to processing based on legitimate interests.

To exercise these rights, write to our [privacy team](https://example.com/privacy-form).

## Children

Our services are not directed to children under thirteen and we do not knowingly collect their data.

## Contact

Questions about this policy can be sent to privacy@example.com or to our postal address.

© 2021 Example Corp. All rights reserved.
"""

MODIFIED_OLD = "We keep account data for as long as your account remains active."
MODIFIED_NEW = (
    "We keep account data for as long as your account remains active and two years after."
)


def _edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence of ``old`` in ``text``."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _move_line(text: str, line: str, before: str) -> str:
    """Move the paragraph ``line`` so that it sits right before ``before``."""
    without = _edit(text, line + "\n\n", "")
    return _edit(without, before, line + "\n\n" + before)


def _kinds(changes: list[Change]) -> list[str]:
    """Return the kinds of the changes."""
    return [change.kind for change in changes]


def test_policy_fixture_has_about_forty_clauses():
    assert 38 <= len(split_clauses(POLICY)) <= 50


def test_identical_documents_have_no_changes():
    comparison = compare(POLICY, POLICY)
    assert comparison.changes == []
    assert comparison.summary == {
        **dict.fromkeys(KINDS, 0),
        "words_added": 0,
        "words_removed": 0,
        "significance": 0.0,
    }


def test_rewrapped_and_renumbered_document_has_no_changes():
    old = "# T\n\nOne two\nthree.\n\n1. first\n2. second\n"
    new = "# T\n\nOne two three.\n\n3. first\n7. second\n"
    assert compare(old, new).changes == []


def test_added():
    new = _edit(POLICY, "## Children", "We log every request for security audits.\n\n## Children")
    [change] = compare(POLICY, new).changes
    assert change.kind == "added"
    assert change.old is None
    assert change.new.text == "We log every request for security audits."
    assert change.new.section == "Example Privacy Policy > Your rights"


def test_removed():
    new = _edit(POLICY, "- Approximate location derived from your IP address.\n", "")
    [change] = compare(POLICY, new).changes
    assert (change.kind, change.new) == ("removed", None)
    assert change.old.text == "Approximate location derived from your IP address."
    assert change.old.kind == "list_item"


def test_modified_with_word_diff():
    new = _edit(POLICY, MODIFIED_OLD, MODIFIED_NEW)
    [change] = compare(POLICY, new).changes
    assert change.kind == "modified"
    assert (change.old.text, change.new.text) == (MODIFIED_OLD, MODIFIED_NEW)
    assert change.diff == [
        (0, "We keep account data for as long as your account remains active"),
        (1, " and two years after"),
        (0, "."),
    ]


def test_word_change_inside_sentence():
    old_text = "We do not sell your personal information to third parties for money."
    new_text = "We may sell your personal information to selected third parties for money."
    new = _edit(POLICY, old_text, new_text)
    [change] = compare(POLICY, new).changes
    assert change.kind == "modified"
    assert change.diff == [
        (0, "We "),
        (-1, "do not"),
        (1, "may"),
        (0, " sell your personal information to"),
        (1, " selected"),
        (0, " third parties for money."),
    ]


def test_moved_within_section():
    line = "We analyse usage trends to understand which features are popular and to fix bugs."
    new = _move_line(POLICY, line, "We use your information to provide")
    [change] = compare(POLICY, new).changes
    assert change.kind == "moved"
    assert change.old.text == change.new.text == line
    assert change.new.position < change.old.position
    assert change.diff is None


def test_moved_across_sections():
    line = "We keep account data for as long as your account remains active."
    new = _move_line(POLICY, line, "We do not sell your personal")
    [change] = compare(POLICY, new).changes
    assert change.kind == "moved"
    assert change.old.section == "Example Privacy Policy > Data retention"
    assert change.new.section == "Example Privacy Policy > Sharing"


def test_moved_and_modified():
    line = "We keep account data for as long as your account remains active."
    edited = "We keep account data for as long as your account remains open."
    new = _edit(_move_line(POLICY, line, "We do not sell your personal"), line, edited)
    [change] = compare(POLICY, new).changes
    assert change.kind == "moved"
    assert change.diff == [
        (0, "We keep account data for as long as your account remains "),
        (-1, "active"),
        (1, "open"),
        (0, "."),
    ]


def test_split():
    whole = (
        "We send service announcements and, with your consent, marketing emails about new features."
    )
    parts = (
        "We send service announcements.\n\n"
        "With your consent, we also send marketing emails about new features."
    )
    [change] = compare(POLICY, _edit(POLICY, whole, parts)).changes
    assert change.kind == "split"
    assert change.old.text == whole
    assert [part.text for part in change.new_parts] == [
        "We send service announcements.",
        "With your consent, we also send marketing emails about new features.",
    ]
    assert change.new == change.new_parts[0]
    assert change.old_parts == ()
    inserted = "".join(text for op, text in change.diff if op == 1)
    assert "also" in inserted


def test_merged():
    first = "We keep account data for as long as your account remains active."
    second = "Backups are deleted automatically within ninety days after account closure."
    merged = f"{first} {second}"
    new = _edit(POLICY, f"{first}\n\n{second}", merged)
    [change] = compare(POLICY, new).changes
    assert change.kind == "merged"
    assert change.new.text == merged
    assert [part.text for part in change.old_parts] == [first, second]
    assert change.old == change.old_parts[0]
    assert change.diff is None


def test_split_list_item():
    old = "# T\n\n- We collect your name and email address. We use them to send newsletters.\n"
    new = "# T\n\n- We collect your name and email address.\n- We use them to send newsletters.\n"
    [change] = compare(old, new).changes
    assert change.kind == "split"
    assert len(change.new_parts) == 2


def test_cosmetic_date_only():
    new = _edit(POLICY, "Last updated: January 5, 2021", "Last updated: 3rd March 2023")
    [change] = compare(POLICY, new).changes
    assert change.kind == "cosmetic"
    assert change.new.text == "Last updated: 3rd March 2023"
    assert change.diff is None


def test_cosmetic_copyright_year():
    new = _edit(POLICY, "© 2021 Example Corp.", "© 2024 Example Corp.")
    assert _kinds(compare(POLICY, new).changes) == ["cosmetic"]


def test_cosmetic_link_target_only():
    new = _edit(POLICY, "https://example.com/privacy-form", "https://example.com/forms/privacy")
    [change] = compare(POLICY, new).changes
    assert change.kind == "cosmetic"
    assert "forms/privacy" in change.new.text


def test_cosmetic_markup_quotes_punctuation_and_case():
    old = '# T\n\nWe don\'t sell data, ever.\n\nOur "partners" help.\n\nWe use cookies.\n'
    new = "# T\n\nWe **don’t** sell data ever.\n\nOur “partners” help.\n\nWE USE COOKIES.\n"
    assert _kinds(compare(old, new).changes) == ["cosmetic"] * 3


def test_number_change_is_not_cosmetic_outside_date_clauses():
    new = _edit(POLICY, "within ninety days", "within 90 days")
    assert _kinds(compare(POLICY, new).changes) == ["modified"]
    old = "# T\n\nWe keep logs for 30 days.\n"
    assert _kinds(compare(old, old.replace("30", "90")).changes) == ["modified"]


def test_renamed_heading_is_one_change():
    new = _edit(POLICY, "## Information we collect", "## Personal data we gather")
    [change] = compare(POLICY, new).changes
    assert change.kind == "modified"
    assert change.new.text == "## Personal data we gather"
    assert change.new.kind == "heading"


def test_renamed_heading_unrelated_words_is_one_change():
    new = _edit(POLICY, "## Sharing", "## Disclosures to others")
    [change] = compare(POLICY, new).changes
    assert change.kind == "modified"
    assert (change.old.text, change.new.text) == ("## Sharing", "## Disclosures to others")


def test_duplicate_clauses_pair_in_order():
    old = "# T\n\n## A\n\nSee below.\n\n## B\n\nSee below.\n"
    new = "# T\n\n## A\n\nSee below.\n\n## B\n\nNew text here.\n\nSee below.\n"
    [change] = compare(old, new).changes
    assert change.kind == "added"
    assert change.new.text == "New text here."


def test_removed_duplicate_is_reported_once():
    old = "# T\n\nSame.\n\nMiddle.\n\nSame.\n"
    new = "# T\n\nSame.\n\nMiddle.\n"
    [change] = compare(old, new).changes
    assert (change.kind, change.old.position) == ("removed", 3)


def test_dissimilar_replacement_is_removed_plus_added():
    old = "# T\n\nWe keep cookies for one year.\n"
    new = "# T\n\nAll disputes go to arbitration in Delaware.\n"
    assert _kinds(compare(old, new).changes) == ["removed", "added"]


def test_changes_in_document_order_with_removed_in_place():
    new = _edit(POLICY, "- Approximate location derived from your IP address.\n", "")
    new = _edit(new, "## Cookies", "We never share health data.\n\n## Cookies")
    new = _edit(new, MODIFIED_OLD, MODIFIED_NEW)
    new = _edit(new, "This policy explains", "This notice explains")
    changes = compare(POLICY, new).changes
    assert _kinds(changes) == ["modified", "removed", "added", "modified"]
    assert changes[0].new.text.startswith("This notice")
    assert changes[2].new.text == "We never share health data."


def test_summary_counts_and_words():
    new = _edit(POLICY, MODIFIED_OLD, MODIFIED_NEW)
    new = _edit(new, "## Children", "We log every request for security audits.\n\n## Children")
    new = _edit(new, "- Approximate location derived from your IP address.\n", "")
    new = _edit(new, "Last updated: January 5, 2021", "Last updated: March 1, 2022")
    summary = compare(POLICY, new).summary
    assert {kind: summary[kind] for kind in KINDS} == {
        **dict.fromkeys(KINDS, 0),
        "modified": 1,
        "added": 1,
        "removed": 1,
        "cosmetic": 1,
    }
    assert summary["words_added"] == 4 + 7  # "and two years after" + the added clause
    assert summary["words_removed"] == 7
    assert 0 < summary["significance"] < 0.05


def test_total_rewrite_has_significance_one():
    summary = compare("# A\n\nAlpha beta gamma.\n", "# B\n\nDelta epsilon.\n").summary
    assert summary["significance"] == 1.0


# One known edit of each kind, applied to the realistic policy; exactly that is reported.
MUTATIONS = {
    "added": lambda p: _edit(p, "## Children", "We may record support calls.\n\n## Children"),
    "removed": lambda p: _edit(
        p, "| ads_pref | remembers your advertising choices | one year |\n", ""
    ),
    "modified": lambda p: _edit(p, "improve the services", "improve and advertise the services"),
    "moved": lambda p: _move_line(
        p,
        "We also receive information about you from advertising partners and public sources.",
        "## Data retention",
    ),
    "split": lambda p: _edit(
        p,
        "We collect information you give us directly when you create an account "
        "or contact support.",
        "We collect information you give us directly when you create an account.\n\n"
        "We also collect information when you contact support.",
    ),
    "merged": lambda p: _edit(
        p,
        "We share information with vendors who process it for us under written contracts.\n\n"
        "We may disclose information",
        "We share information with vendors who process it for us under written contracts, "
        "and we may disclose information",
    ),
    "cosmetic": lambda p: _edit(p, "3. The right to delete", "3. The right to **delete**"),
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_single_mutation_reports_exactly_that_change(kind):
    comparison = compare(POLICY, MUTATIONS[kind](POLICY))
    assert _kinds(comparison.changes) == [kind]
    assert comparison.summary[kind] == 1


def test_all_mutations_together():
    new = POLICY
    for mutate in MUTATIONS.values():
        new = mutate(new)
    comparison = compare(POLICY, new)
    assert Counter(_kinds(comparison.changes)) == Counter(list(MUTATIONS))
    positions = [c.new.position for c in comparison.changes if c.new is not None]
    assert positions == sorted(positions)


def test_word_diff_round_trips():
    old = "We collect your name, email and phone number."
    new = "We collect your full name and phone number, but not email."
    diff = word_diff(old, new)
    assert "".join(text for op, text in diff if op <= 0) == old
    assert "".join(text for op, text in diff if op >= 0) == new
    assert all(op in (-1, 0, 1) for op, _ in diff)


def test_word_diff_works_on_whole_words():
    assert word_diff("We share data.", "We sell data.") == [
        (0, "We "),
        (-1, "share"),
        (1, "sell"),
        (0, " data."),
    ]
    assert word_diff("", "") == []
    assert word_diff("", "New.") == [(1, "New.")]


def test_is_cosmetic():
    assert is_cosmetic("See [us](http://a).", "See [us](http://b).")
    assert is_cosmetic("Effective date: May 1, 2020.", "Effective date: June 2, 2021.")
    assert not is_cosmetic("We keep data 30 days.", "We keep data 60 days.")
    assert not is_cosmetic("Effective May 1, 2020.", "Effective May 1, 2020, we sell data.")


def test_empty_documents():
    assert compare("", "").changes == []
    assert _kinds(compare("", "# T\n\nHello there.\n").changes) == ["added", "added"]
    assert _kinds(compare("# T\n\nHello there.\n", "").changes) == ["removed", "removed"]


SENTENCES = [
    "We collect your name.",
    "We collect your name and email.",
    "We share data with partners.",
    "We never sell data.",
    "You may opt out at any time.",
    "Cookies help us remember you.",
    "Contact us by email.",
]
BLOCKS = st.one_of(
    st.sampled_from(SENTENCES),
    st.sampled_from(SENTENCES).map(lambda s: "- " + s),
    st.sampled_from(["## Data", "## Rights", "## Cookies"]),
    st.lists(st.sampled_from(SENTENCES), min_size=2, max_size=3).map(" ".join),
)
DOCS = st.lists(BLOCKS, max_size=12).map(lambda blocks: "# Policy\n\n" + "\n\n".join(blocks))


@settings(max_examples=150, deadline=None)
@given(DOCS, DOCS)
def test_every_clause_is_accounted_for_exactly_once(old_doc, new_doc):
    comparison = compare(old_doc, new_doc)
    old_seen = Counter()
    new_seen = Counter()
    for change in comparison.changes:
        assert change.kind in KINDS
        old_seen.update(c.position for c in (change.old_parts or [change.old]) if c is not None)
        new_seen.update(c.position for c in (change.new_parts or [change.new]) if c is not None)
    assert all(count == 1 for count in [*old_seen.values(), *new_seen.values()])
    old_clauses, new_clauses = split_clauses(old_doc), split_clauses(new_doc)
    unchanged_old = [c.text for c in old_clauses if c.position not in old_seen]
    unchanged_new = [c.text for c in new_clauses if c.position not in new_seen]
    assert unchanged_old == unchanged_new
    new_positions = [c.new.position for c in comparison.changes if c.new is not None]
    assert new_positions == sorted(new_positions)


@settings(max_examples=150, deadline=None)
@given(DOCS)
def test_self_comparison_is_empty(doc):
    assert compare(doc, doc).changes == []


@given(st.text(max_size=80), st.text(max_size=80))
def test_word_diff_reconstructs_both_texts(old, new):
    diff = word_diff(old, new)
    assert "".join(text for op, text in diff if op <= 0) == old
    assert "".join(text for op, text in diff if op >= 0) == new
    assert all(text for _, text in diff)


def test_a_new_page_title_is_cosmetic_but_a_new_body_heading_is_not() -> None:
    old = "# Acme - Privacy\n\n## Data\n\nWe keep your orders for six years.\n"
    new = "# Privacy | Acme Online Shop\n\n## Data we hold\n\nWe keep your orders for six years.\n"
    kinds = {change.new.text: change.kind for change in compare(old, new).changes if change.new}
    assert kinds == {"# Privacy | Acme Online Shop": "cosmetic", "## Data we hold": "modified"}


def test_a_lone_reworded_clause_between_unchanged_ones_is_modified() -> None:
    old = (
        "# P\n\nWe pass your name to the courier.\n\n"
        "We will not sell your personal information to third parties.\n\n"
        "We may disclose it if the law requires.\n"
    )
    new = old.replace("will not sell", "may share").replace("to third parties", "with partners")
    (change,) = compare(old, new).changes
    assert change.kind == "modified"
    assert (-1, "will not sell") in change.diff and (1, "may share") in change.diff
    unrelated = old.replace(
        "We will not sell your personal information to third parties.",
        "Our offices close at five on Fridays.",
    )
    assert [c.kind for c in compare(old, unrelated).changes] == ["removed", "added"]


def test_pairs_link_every_matched_clause_to_its_ancestor() -> None:
    old = "# T\n\nKeep me.\n\nWe sell data.\n\nGone soon.\n\nTail.\n"
    new = "# T\n\nBrand new.\n\nKeep me.\n\nWe rent data.\n\nTail.\n"
    comparison = compare(old, new)
    assert comparison.pairs == [(0, 0), (1, 2), (2, 3), (4, 4)]
    assert _kinds(comparison.changes) == ["added", "modified", "removed"]


def test_pairs_of_split_merge_and_move() -> None:
    split = compare(POLICY, MUTATIONS["split"](POLICY))
    (change,) = split.changes
    whole = change.old.position
    parts = [part.position for part in change.new_parts]
    assert [(i, j) for i, j in split.pairs if j in parts] == [(whole, j) for j in parts]
    assert len(split.pairs) == len(split_clauses(POLICY)) + 1

    merged = compare(POLICY, MUTATIONS["merged"](POLICY))
    (change,) = merged.changes
    olds = [part.position for part in change.old_parts]
    assert [(i, j) for i, j in merged.pairs if j == change.new.position] == [
        (i, change.new.position) for i in olds
    ]

    moved = compare(POLICY, MUTATIONS["moved"](POLICY))
    (change,) = moved.changes
    assert (change.old.position, change.new.position) in moved.pairs
    assert [j for _, j in moved.pairs] == sorted(j for _, j in moved.pairs)
    assert len(moved.pairs) == len(split_clauses(POLICY))


def test_pairs_of_identical_documents_are_the_identity() -> None:
    count = len(split_clauses(POLICY))
    assert compare(POLICY, POLICY).pairs == [(k, k) for k in range(count)]


def test_a_short_lead_sentence_split_off_a_long_paragraph_is_a_split() -> None:
    lead = "We respect your privacy."
    body = (
        "This policy describes which personal information our shop collects when you "
        "browse, buy or write to us, why we collect it, how long we keep it, with whom "
        "we share it and which rights you have over it under the applicable law."
    )
    (change,) = compare(f"# T\n\n{lead} {body}\n", f"# T\n\n{lead}\n\n{body}\n").changes
    assert change.kind == "split"
    assert [part.text for part in change.new_parts] == [lead, body]
    (change,) = compare(f"# T\n\n{lead}\n\n{body}\n", f"# T\n\n{lead} {body}\n").changes
    assert change.kind == "merged"


def test_an_edit_next_to_an_added_clause_is_not_a_split() -> None:
    old = "# T\n\nWe collect your name and email.\n"
    new = "# T\n\nWe collect your name and email address.\n\nWe collect your name.\n"
    assert _kinds(compare(old, new).changes) == ["modified", "added"]
