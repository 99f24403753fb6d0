"""Accuracy of the clause-level comparison on known edits of the real corpus policies.

A deterministic, seeded sample of the mutation suite of ``bench/mutations.py`` (which
documents the edits and the scoring); ``make bench`` runs a larger sample.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mutations import (  # noqa: E402
    CORPUS,
    EXPECTED_KIND,
    MUTATIONS,
    generate,
    load_corpus,
    score,
)
from tracker.diff import KINDS  # noqa: E402

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")

GOAL = 0.95


@pytest.fixture(name="mutations", scope="module")
def fixture_mutations():
    return generate(load_corpus(), per_mutation=3, seed=4)


@pytest.fixture(name="result", scope="module")
def fixture_result(mutations):
    return score(mutations)


def test_corpus_is_the_real_one():
    assert ROOT.parent / "shared" / "corpus" == CORPUS
    assert len(load_corpus()) >= 20


def test_the_sample_covers_every_mutation_and_kind(mutations):
    names = {mutation.name for mutation in mutations}
    assert names == set(MUTATIONS)
    assert set(EXPECTED_KIND.values()) == set(KINDS)
    assert len(mutations) >= 400


def test_the_sample_is_deterministic(mutations):
    again = generate(load_corpus(), per_mutation=3, seed=4)
    assert [(m.document, m.name, m.new) for m in again] == [
        (m.document, m.name, m.new) for m in mutations
    ]


def test_every_mutation_changes_the_text(mutations):
    assert all(mutation.old != mutation.new for mutation in mutations)


@pytest.mark.parametrize("kind", KINDS)
def test_precision_and_recall_per_kind(result, kind):
    failures = [
        (m.document, m.name, m.old_positions, m.new_positions, kinds)
        for m, kinds in result.failures
        if m.kind == kind
    ][:5]
    assert result.precision(kind) >= GOAL, failures
    assert result.recall(kind) >= GOAL, failures


def test_lineage_of_every_clause(result):
    assert result.lineage_exact >= GOAL * sum(result.total.values())
