"""Speed of the clause-level comparison against the word-level diffs it replaces.

Workloads, built from the real policies of ``../shared/corpus`` with the edits of
:mod:`bench.mutations` (seeded, so every run compares the same texts):

* **pair**: a 50 KB policy (corpus policies, largest first, concatenated) and a version of
  it with about 5% of its words changed by a mix of edits: mostly rewordings, plus added,
  removed, moved, split, merged and cosmetic clauses;
* **history**: a 40-version policy: the same 50 KB policy, each version three random edits
  after the previous one; all 39 consecutive pairs compared;
* **scattered** (stress, for honesty): 5% of the words of the 50 KB policy replaced at
  random, so that nearly every clause is modified.

Each is timed as the median of several runs, with the library's caches cleared before
each run, against, in the same run and over the same texts:

* ``difflib``: ``SequenceMatcher(None, old_words, new_words, autojunk=False).get_opcodes()``
  over the whitespace-separated words (what a naive word diff does);
* ``dmp``: a raw word-level diff-match-patch diff of the two whole texts (each word with
  its trailing whitespace mapped to one character, ``diff_main`` then
  ``diff_cleanupSemantic``; the library's default 1 s timeout), which aligns nothing.

``compare`` is the whole comparison: splitting both versions, alignment, and the word diff
of every modified clause. Ratios above 1 mean ``compare`` is faster.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tracker`` and ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diff_match_patch import diff_match_patch

from bench.mutations import CORPUS, Block, Pool, apply, blocks_of, build_pool, load_corpus, render
from tracker import clauses, diff
from tracker.diff import compare

POLICY_SIZE = 50_000
CHANGED_SHARE = 0.05
VERSIONS = 40
EDITS_PER_VERSION = 3
EDIT_MIX = {
    "reword": 10,
    "add": 3,
    "remove": 2,
    "move-within": 1,
    "move-across": 1,
    "split": 1,
    "merge": 1,
    "cosmetic": 1,
}

_DMP_WORD = re.compile(r"\S+\s*|\s+")


def clear_caches() -> None:
    """Empty the library's memo caches, so each timed run starts cold."""
    clauses.clause_key.cache_clear()
    clauses._split.cache_clear()
    diff._word_counts.cache_clear()
    diff._key_words.cache_clear()


def base_policy(documents: dict[str, str]) -> list[Block]:
    """Return the clauses of corpus policies, largest first, up to about 50 KB rendered."""
    blocks: list[Block] = []
    for name in sorted(documents, key=lambda n: (-len(documents[n]), n)):
        for block in blocks_of(documents[name]):
            if len(render(blocks)) >= POLICY_SIZE:
                return blocks
            blocks.append(block)
    return blocks


def edited(blocks: list[Block], pool: Pool, rng: random.Random, count: int) -> list[Block]:
    """Apply ``count`` random edits of :data:`EDIT_MIX` one after another."""
    names = list(EDIT_MIX)
    weights = list(EDIT_MIX.values())
    done = 0
    while done < count:
        edit = apply(rng.choices(names, weights)[0], blocks, rng, pool)
        if edit is not None:
            blocks = [Block(b.kind, b.text, (j,)) for j, b in enumerate(edit.blocks)]
            done += 1
    return blocks


def changed_share(old: str, new: str) -> float:
    """Return the share of words deleted or inserted (difflib over words)."""
    old_words, new_words = old.split(), new.split()
    matcher = SequenceMatcher(None, old_words, new_words, autojunk=False)
    return 1 - matcher.ratio()


def five_percent_version(blocks: list[Block], pool: Pool, rng: random.Random) -> list[Block]:
    """Edit ``blocks`` until about :data:`CHANGED_SHARE` of the words have changed."""
    old = render(blocks)
    new_blocks = blocks
    while changed_share(old, render(new_blocks)) < CHANGED_SHARE:
        new_blocks = edited(new_blocks, pool, rng, 5)
    return new_blocks


def scattered(markdown: str, rng: random.Random) -> str:
    """Replace :data:`CHANGED_SHARE` of the words of ``markdown`` at random places."""
    tokens = re.split(r"(\s+)", markdown)
    plain = [k for k, token in enumerate(tokens) if token.isalpha()]
    for k in rng.sample(plain, int(CHANGED_SHARE * len(markdown.split()))):
        tokens[k] = "changed"
    return "".join(tokens)


def difflib_words(old: str, new: str) -> None:
    """The difflib baseline: a word-level ``SequenceMatcher`` (no autojunk)."""
    SequenceMatcher(None, old.split(), new.split(), autojunk=False).get_opcodes()


def dmp_words(old: str, new: str) -> None:
    """The diff-match-patch baseline: word mode over the whole texts, semantic cleanup."""
    dmp = diff_match_patch()
    codes: dict[str, str] = {}

    def encode(text: str) -> str:
        return "".join(
            codes.setdefault(w, chr(0x100 + len(codes))) for w in _DMP_WORD.findall(text)
        )

    diffs = dmp.diff_main(encode(old), encode(new), False)
    dmp.diff_cleanupSemantic(diffs)


def compare_texts(old: str, new: str) -> None:
    """The clause-level comparison, word diffs included."""
    compare(old, new)


def median_time(function: Callable[[], None], runs: int) -> float:
    """Return the median wall time of ``function`` over ``runs`` cold-cache runs (seconds)."""
    times = []
    for _ in range(runs):
        clear_caches()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(label: str, pairs: list[tuple[str, str]], runs: int) -> None:
    """Time compare and both baselines over ``pairs`` and print the medians and ratios."""

    def over_all(function: Callable[[str, str], None]) -> Callable[[], None]:
        return lambda: [function(old, new) for old, new in pairs] and None

    ours = median_time(over_all(compare_texts), runs)
    slow = median_time(over_all(difflib_words), runs)
    raw = median_time(over_all(dmp_words), runs)
    print(
        f"{label}: compare {ours * 1000:.1f} ms | difflib {slow * 1000:.1f} ms "
        f"-> {slow / ours:.1f}x faster | dmp {raw * 1000:.1f} ms -> {raw / ours:.1f}x faster"
    )


def main() -> None:
    """Build the workloads and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found: {CORPUS}")
    documents = load_corpus()
    pool = build_pool(documents)
    rng = random.Random(args.seed)
    blocks = base_policy(documents)
    old = render(blocks)
    new = render(five_percent_version(blocks, pool, rng))
    history = [old]
    version = blocks
    for _ in range(VERSIONS - 1):
        version = edited(version, pool, rng, EDITS_PER_VERSION)
        history.append(render(version))
    noisy = scattered(old, rng)
    print(
        f"policy: {len(old.encode()) / 1000:.1f} KB, {len(old.split())} words, "
        f"{len(clauses.split_clauses(old))} clauses; pair: {changed_share(old, new):.1%} "
        f"of words changed; history: {VERSIONS} versions; scattered: "
        f"{changed_share(old, noisy):.1%} changed; medians of {args.runs} runs"
    )
    bench("pair (5% changed)", [(old, new)], args.runs)
    bench(f"history ({VERSIONS} versions)", list(zip(history, history[1:], strict=False)), 3)
    bench("scattered (stress)", [(old, noisy)], args.runs)


if __name__ == "__main__":
    main()
