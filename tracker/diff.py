"""Clause-level comparison of two versions of a policy, with word-level diffs.

Alignment of the clauses of the old and the new version (see :func:`compare`):

1. **Identical clauses** are matched by :attr:`Clause.key`: first an in-order alignment of
   the key sequences (``difflib.SequenceMatcher`` over whole clauses, cheap: a few hundred
   items), then the remaining equal keys are paired in document order (duplicates pair
   first-with-first, surplus copies stay unmatched).
2. **Changed clauses** are paired by similarity: the Dice coefficient of their bags of
   case-folded words, ``2 * |A ∩ B| / (|A| + |B|)``, must reach :data:`SIMILARITY_THRESHOLD`
   (0.5: at least half of the words are shared, i.e. the clause was edited rather than
   replaced; the measure is order-insensitive, cheap and bounds ``difflib`` ratio over
   words from above, in the spirit of wikidiff2's word-similarity pairing of changed
   paragraphs; date words are left out of "last updated"-style clauses). Fast path first:
   a gap between identical anchors with as many old as new free clauses, all pairwise
   similar in order, is paired in order (clauses edited in place). Otherwise candidates
   are restricted to clauses sharing a not-too-common word (an
   inverted index) plus near neighbours in the same gap between identical anchors, so the
   cost stays near-linear even for a total rewrite. Pairs are chosen greedily by score,
   preferring the same gap (a small bonus) and the same section (a smaller one); the
   bonuses only break near-ties, never lift a pair over the threshold.
3. **Splits and merges**: an old clause whose words are covered by 2-3 *consecutive* new
   clauses together (set Dice >= :data:`JOIN_THRESHOLD`, each part mostly made of the
   whole's words and contributing words of the whole the other parts lack; or, for parts
   of very unequal length, the parts' words read in order matching the whole's, see
   :func:`_join_similarity`) is ``split``; symmetrically ``merged``. Joins compete with
   plain pairs in the same greedy selection, with a :data:`JOIN_PRIORITY` bonus (a valid
   join explains more clauses than a pair).
4. **Renamed headings**: unmatched old and new headings in the same gap between anchors,
   with the same count and levels, are paired even when dissimilar (``## Data`` ->
   ``## Information we collect``), so a renamed section is one change. Contents match by
   key regardless of their section.
5. **Moves**: among the 1:1 pairs, the heaviest increasing subsequence of new positions
   (weighted by clause length in words) stays in place; the other pairs are ``moved``.

All matched clauses, unchanged ones included, form :attr:`Comparison.pairs` (lineage).
Each pair is then classified: same text -> no change; same key or same wording up to
punctuation/markup/link targets (or a date-only edit of a "last updated"/"effective"/
copyright clause, or a new page title, which redesigns rewrite) -> ``cosmetic``; otherwise
``modified`` with a word diff.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import accumulate

from diff_match_patch import diff_match_patch

from tracker.clauses import Clause, split_clauses, words

KINDS = ("added", "removed", "modified", "moved", "split", "merged", "cosmetic")

SIMILARITY_THRESHOLD = 0.5
#: A lone clause replaced by a lone clause of the same kind between unchanged neighbours is an
#: edit when it keeps this much of its wording ("We will not sell your personal information"
#: -> "We may share your personal information": 0.44); unrelated sentences of one policy share
#: little beyond function words (typically under 0.25).
IN_PLACE_THRESHOLD = 0.35
JOIN_THRESHOLD = 0.75
JOIN_PRIORITY = 0.1
PART_CONTAINMENT = 0.6
PART_CONTRIBUTION = 0.1
SAME_GAP_BONUS = 0.1
SAME_SECTION_BONUS = 0.05
MAX_CANDIDATES = 12
NEIGHBOURHOOD = 6
UNCAPPED_POOL = 200
DIFF_TIMEOUT = 0.5
#: Token strings up to this total length are diffed exactly (no timeout); diff-match-patch
#: then skips its half-match heuristic, which in pure Python costs more than it saves on
#: clause-sized texts. Longer ones keep the :data:`DIFF_TIMEOUT` cap.
EXACT_DIFF_TOKENS = 2000
MOVED_WORD_WEIGHT = 0.25

_TOKEN = re.compile(r"\w+|\s+|\S")
_WORD = re.compile(r"[^\W_]+")
_DATE_CONTEXT = re.compile(  # no leading \b: lets the regex engine skip by first character
    r"(?:last\s+(?:updated|modified|revised|changed|reviewed)\b"
    r"|(?:updated|revised|modified)\s+(?:on|as\s+of)\b|effective\b.{0,30}?\d{4}"
    r"|(?:©|\(c\)|copyright\b)\s*(?:©|\(c\))?\s*\d{4})",
    re.IGNORECASE,
)
_DATE_HINTS = (
    "updated",
    "modified",
    "revised",
    "changed",
    "reviewed",
    "effective",
    "copyright",
    "©",
    "(c)",
)
_DATE_WORD = re.compile(
    r"\d+(?:st|nd|rd|th)?|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)


@dataclass(frozen=True)
class Change:
    """One difference between two versions.

    Attributes:
        kind: one of :data:`KINDS`.
        old: the old clause (``None`` for ``added``); for ``merged``, the first old part.
        new: the new clause (``None`` for ``removed``); for ``split``, the first new part.
        diff: word-level diff ``(op, text)`` with op -1 (deleted), 0 (kept), 1 (inserted)
            for ``modified``, for ``moved`` clauses whose wording also changed, and for
            ``split``/``merged`` whose wording changed (against the parts joined by a
            space); ``None`` otherwise.
        old_parts: for ``merged``, the old clauses that were merged, in order; else ``()``.
        new_parts: for ``split``, the new clauses the old one became, in order; else ``()``.
    """

    kind: str
    old: Clause | None
    new: Clause | None
    diff: list[tuple[int, str]] | None = None
    old_parts: tuple[Clause, ...] = ()
    new_parts: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`.

    Attributes:
        changes: changes in document order of the new version; removed clauses sit
            right after the new-version position of the old clause preceding them.
        summary: counts per kind (every kind of :data:`KINDS`, zeros included),
            ``words_added``/``words_removed`` (words of added/removed clauses plus words
            inserted/deleted inside diffs) and ``significance``: changed words over all
            words of both versions, moved clauses counting for a quarter of their words,
            clipped to [0, 1] and rounded to 4 decimals (0 = nothing but cosmetic changes).
        pairs: the lineage of the clauses: ``(old position, new position)`` of every
            matched clause, unchanged ones included, sorted by new position (then old).
            A clause of a ``split`` is paired with each of its new parts, each old part of
            a ``merged`` with the new clause; ``added`` and ``removed`` clauses have no
            pair. A new clause is thus paired with its ancestor(s) in the old version.
    """

    changes: list[Change]
    summary: dict
    pairs: list[tuple[int, int]] = field(default_factory=list)


def word_diff(old: str, new: str) -> list[tuple[int, str]]:
    """Return a word-level diff of two texts as ``(op, text)`` tuples.

    The common prefix and suffix (cut at whitespace) are set aside first, as
    diff-match-patch itself does. The rest is cut into word, whitespace-run and single
    punctuation tokens; each distinct token is mapped to one character (like
    diff-match-patch's line mode), the character strings are diffed,
    ``diff_cleanupSemantic`` merges tiny equalities, and the result is mapped back by
    token counts. Concatenating the texts of ops 0/-1 gives ``old``, of ops 0/1 ``new``.
    """
    if old == new:
        return [(0, old)] if old else []
    dmp = diff_match_patch()
    head = _whitespace_cut(old, dmp.diff_commonPrefix(old, new))
    old_rest, new_rest = old[head:], new[head:]
    tail = dmp.diff_commonSuffix(old_rest, new_rest)
    tail = len(old_rest) - _first_whitespace(old_rest, len(old_rest) - tail)
    old_mid, new_mid = old_rest[: len(old_rest) - tail], new_rest[: len(new_rest) - tail]
    result = [(0, old[:head]), *_token_diff(dmp, old_mid, new_mid), (0, old_rest[len(old_mid) :])]
    return _merge_equalities(result)


def _whitespace_cut(text: str, length: int) -> int:
    """Shorten a common-prefix ``length`` so the prefix ends right after whitespace."""
    return max(text.rfind(" ", 0, length), text.rfind("\n", 0, length)) + 1


def _first_whitespace(text: str, start: int) -> int:
    """Return the index of the first whitespace at or after ``start`` (``len`` if none)."""
    found = [index for index in (text.find(" ", start), text.find("\n", start)) if index >= 0]
    return min(found, default=len(text)) if start < len(text) else len(text)


def _token_diff(dmp: diff_match_patch, old: str, new: str) -> list[tuple[int, str]]:
    """Diff two texts token by token with diff-match-patch (see :func:`word_diff`)."""
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    codes: dict[str, str] = {" ": " "}
    old_chars, new_chars = _encode(old_tokens, codes), _encode(new_tokens, codes)
    exact = len(old_chars) + len(new_chars) <= EXACT_DIFF_TOKENS
    dmp.Diff_Timeout = 0 if exact else DIFF_TIMEOUT
    diffs = dmp.diff_main(old_chars, new_chars, False)
    dmp.diff_cleanupSemantic(diffs)
    old_ends, new_ends = _ends(old_tokens), _ends(new_tokens)
    result = []
    i = j = 0
    for op, chars in diffs:
        if op == 1:
            result.append((op, new[new_ends[j] : new_ends[j + len(chars)]]))
        else:
            result.append((op, old[old_ends[i] : old_ends[i + len(chars)]]))
            i += len(chars)
        if op != -1:
            j += len(chars)
    return result


def _merge_equalities(diff: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop empty segments and join adjacent segments of the same op."""
    merged: list[tuple[int, str]] = []
    for op, text in diff:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


def _encode(tokens: list[str], codes: dict[str, str]) -> str:
    """Encode tokens one character each, extending the token->character map.

    Tokens get CJK ideographs (letters for diff-match-patch's boundary heuristics) and a
    single space stays a space, so semantic cleanup snaps edits to word boundaries.
    """
    for token in dict.fromkeys(tokens):
        if token not in codes:
            index = len(codes) - 1
            codes[token] = chr(0x4E00 + index if index < 0x5200 else 0x20000 + index - 0x5200)
    return "".join(map(codes.__getitem__, tokens))


def _ends(tokens: list[str]) -> list[int]:
    """Return the character offsets at which each token starts, plus the text length."""
    return [0, *accumulate(map(len, tokens))]


def compare(old_markdown: str, new_markdown: str) -> Comparison:
    """Compare two versions of a policy clause by clause (see the module docstring)."""
    old, new = split_clauses(old_markdown), split_clauses(new_markdown)
    identical = _match_identical(old, new)
    gaps = _Gaps(_in_order(identical, new))
    old_bags = {i: _bag(old[i]) for i in set(range(len(old))) - {i for i, _ in identical}}
    new_bags = {j: _bag(new[j]) for j in set(range(len(new))) - {j for _, j in identical}}
    groups = _match_in_place(old, new, old_bags, new_bags, gaps)
    _discard(groups, old_bags, new_bags)
    groups += _match_similar(old, new, old_bags, new_bags, gaps)
    _discard(groups, old_bags, new_bags)
    free_old, free_new = sorted(old_bags), sorted(new_bags)
    renamed = _match_renamed_headings(old, new, free_old, free_new, gaps)
    pairs = identical + renamed + [(o[0], n[0]) for o, n in groups if len(o) == len(n) == 1]
    joins = [(o, n) for o, n in groups if len(o) + len(n) > 2]
    changes = _build_changes(old, new, pairs, joins)
    lineage = pairs + [(i, j) for olds, news in joins for i in olds for j in news]
    return Comparison(changes, _summarize(changes, old, new), sorted(lineage, key=_by_new))


def _by_new(pair: tuple[int, int]) -> tuple[int, int]:
    """Sort key of an (old, new) pair: new position first."""
    return pair[1], pair[0]


def _match_identical(old: list[Clause], new: list[Clause]) -> list[tuple[int, int]]:
    """Pair clauses with equal keys: in-order blocks first, then leftovers in order."""
    matcher = SequenceMatcher(None, [c.key for c in old], [c.key for c in new], autojunk=False)
    pairs = [
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
    used_old, used_new = {i for i, _ in pairs}, {j for _, j in pairs}
    leftovers: dict[str, list[int]] = defaultdict(list)
    for j, clause in enumerate(new):
        if j not in used_new:
            leftovers[clause.key].append(j)
    for i, clause in enumerate(old):
        if i not in used_old and leftovers.get(clause.key):
            pairs.append((i, leftovers[clause.key].pop(0)))
    return sorted(pairs)


def _in_order(pairs: Iterable[tuple[int, int]], new: list[Clause]) -> list[tuple[int, int]]:
    """Return the increasing subsequence of ``pairs`` with the most words of ``new``.

    Pairs are sorted by old position; the kept ones also increase in new position. Uses a
    Fenwick tree of prefix maxima over new positions: O(n log n).
    """
    ordered = sorted(pairs)
    if all(a[1] < b[1] for a, b in zip(ordered, ordered[1:], strict=False)):
        return ordered  # the common case: nothing moved
    size = len(new) + 1
    tree: list[tuple[int, int]] = [(0, -1)] * (size + 1)
    best: list[tuple[int, int]] = []
    for index, (_, j) in enumerate(ordered):
        prefix, k = (0, -1), j
        while k > 0:
            prefix = max(prefix, tree[k])
            k -= k & -k
        best.append((prefix[0] + len(new[j].key.split()) + 1, prefix[1]))
        k = j + 1
        while k <= size:
            tree[k] = max(tree[k], (best[index][0], index))
            k += k & -k
    kept: list[tuple[int, int]] = []
    index = max(range(len(best)), key=lambda n: best[n][0], default=-1)
    while index >= 0:
        kept.append(ordered[index])
        index = best[index][1]
    return kept[::-1]


class _Gaps:
    """Locate clauses relative to in-order anchor pairs (the stretches between them)."""

    def __init__(self, anchors: list[tuple[int, int]]) -> None:
        """Remember the old and new positions of ``anchors`` (increasing in both)."""
        self.old = [i for i, _ in anchors]
        self.new = [j for _, j in anchors]

    @staticmethod
    def _slot(positions: list[int], position: int) -> tuple[int, int]:
        """Return (gap index, offset after the gap's opening anchor) of ``position``."""
        gap = bisect_left(positions, position)
        return gap, position - (positions[gap - 1] if gap else -1)

    def old_slot(self, i: int) -> tuple[int, int]:
        """Return (gap, offset) of old position ``i``."""
        return self._slot(self.old, i)

    def new_slot(self, j: int) -> tuple[int, int]:
        """Return (gap, offset) of new position ``j``."""
        return self._slot(self.new, j)


def _bag(clause: Clause) -> Counter:
    """Return the word bag used for similarity; date words are left out of date clauses."""
    if _is_date_clause(clause.key):
        return Counter(_without_dates(_words(clause)))
    return Counter(_words(clause))


def _dice(a: Counter, b: Counter) -> float:
    """Return the Dice coefficient of two word bags (1.0 for two empty bags)."""
    total = a.total() + b.total()
    if not total:
        return 1.0
    if len(a) > len(b):
        a, b = b, a
    return 2 * sum(min(count, b[word]) for word, count in a.items() if word in b) / total


def _shared_word_candidates(
    bags: dict[int, Counter], pool: dict[int, Counter], sources: Iterable[int]
) -> dict[int, list[int]]:
    """For each source clause, the pool clauses sharing most not-too-common words with it.

    An inverted index over the pool; words occurring in more than a tenth of a large pool
    are skipped, and at most :data:`MAX_CANDIDATES` candidates are kept per source.
    """
    index: dict[str, list[int]] = defaultdict(list)
    for position, bag in pool.items():
        for word in bag:
            index[word].append(position)
    cap = len(pool) if len(pool) <= UNCAPPED_POOL else max(UNCAPPED_POOL // 4, len(pool) // 10)
    candidates = {}
    for source in sources:
        shared: Counter = Counter()
        for word in bags[source]:
            postings = index.get(word, ())
            if len(postings) <= cap:
                shared.update(postings)
        candidates[source] = [position for position, _ in shared.most_common(MAX_CANDIDATES)]
    return candidates


def _neighbours(
    slots_src: dict[int, tuple[int, int]], slots_dst: dict[int, tuple[int, int]]
) -> dict[int, list[int]]:
    """For each source clause, the pool clauses in the same gap at a similar offset."""
    by_gap: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for position, (gap, offset) in slots_dst.items():
        by_gap[gap].append((offset, position))
    result = {}
    for source, (gap, offset) in slots_src.items():
        result[source] = [
            position for other, position in by_gap[gap] if abs(other - offset) <= NEIGHBOURHOOD
        ]
    return result


def _compatible(a: Clause, b: Clause) -> bool:
    """Tell whether two clauses may be paired: headings only with headings."""
    return (a.kind == "heading") == (b.kind == "heading")


def _discard(
    groups: list[tuple[tuple[int, ...], tuple[int, ...]]],
    old_bags: dict[int, Counter],
    new_bags: dict[int, Counter],
) -> None:
    """Remove the clauses of ``groups`` from the pools of free clauses (their bags)."""
    for olds, news in groups:
        for i in olds:
            old_bags.pop(i, None)
        for j in news:
            new_bags.pop(j, None)


def _match_in_place(
    old: list[Clause],
    new: list[Clause],
    old_bags: dict[int, Counter],
    new_bags: dict[int, Counter],
    gaps: _Gaps,
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pair clauses edited in place: the fast path for the common case.

    In a gap between identical anchors holding as many free old as free new clauses, the
    clauses are paired in order if every pair is compatible and reaches
    :data:`SIMILARITY_THRESHOLD` (:data:`IN_PLACE_THRESHOLD` for a gap of one clause each);
    otherwise the gap is left to :func:`_match_similar`.
    """
    old_by_gap: dict[int, list[int]] = defaultdict(list)
    new_by_gap: dict[int, list[int]] = defaultdict(list)
    for i in sorted(old_bags):
        old_by_gap[gaps.old_slot(i)[0]].append(i)
    for j in sorted(new_bags):
        new_by_gap[gaps.new_slot(j)[0]].append(j)
    groups: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for gap, olds in old_by_gap.items():
        news = new_by_gap.get(gap, [])
        if len(olds) != len(news):
            continue
        pairs = list(zip(olds, news, strict=True))
        threshold = IN_PLACE_THRESHOLD if len(pairs) == 1 else SIMILARITY_THRESHOLD
        if all(
            _compatible(old[i], new[j]) and _dice(old_bags[i], new_bags[j]) >= threshold
            for i, j in pairs
        ):
            groups += [((i,), (j,)) for i, j in pairs]
    return groups


def _match_similar(
    old: list[Clause],
    new: list[Clause],
    old_bags: dict[int, Counter],
    new_bags: dict[int, Counter],
    gaps: _Gaps,
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pair changed clauses by similarity; also detect splits and merges.

    ``old_bags``/``new_bags`` hold the word bags of the free clauses. Returns groups
    ``(old positions, new positions)``: 1:1 pairs, 1:n splits and n:1 merges, chosen
    greedily by score among candidates above their thresholds.
    """
    free_old, free_new = sorted(old_bags), sorted(new_bags)
    old_slots = {i: gaps.old_slot(i) for i in free_old}
    new_slots = {j: gaps.new_slot(j) for j in free_new}
    scorer = _Scorer(old, new, old_slots, new_slots)

    forward = _shared_word_candidates(old_bags, new_bags, free_old)
    near = _neighbours(old_slots, new_slots)
    options: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    for i in free_old:
        for j in dict.fromkeys(forward[i] + near[i]):
            if _compatible(old[i], new[j]):
                similarity = _dice(old_bags[i], new_bags[j])
                if similarity >= SIMILARITY_THRESHOLD:
                    options.append((scorer.score(similarity, (i,), (j,)), (i,), (j,)))
    for i in (i for i in free_old if old[i].kind != "heading"):
        for run in _runs(old_bags[i], forward[i], new, new_bags):
            similarity = _join_similarity(old[i], old_bags[i], [new[j] for j in run], new_bags)
            if similarity:
                options.append((scorer.score(similarity + JOIN_PRIORITY, (i,), run), (i,), run))
    backward = _shared_word_candidates(new_bags, old_bags, free_new)
    for j in (j for j in free_new if new[j].kind != "heading"):
        for run in _runs(new_bags[j], backward[j], old, old_bags):
            similarity = _join_similarity(new[j], new_bags[j], [old[i] for i in run], old_bags)
            if similarity:
                options.append((scorer.score(similarity + JOIN_PRIORITY, run, (j,)), run, (j,)))
    return _select(options)


def _runs(
    whole: Counter, candidates: list[int], clauses: list[Clause], pool: dict[int, Counter]
) -> set[tuple[int, ...]]:
    """Return the runs of 2-3 consecutive free non-heading clauses around the candidates.

    A run needs only one candidate, mostly (:data:`PART_CONTAINMENT` of its distinct
    words) made of the words of ``whole``, as every part of a join is: a short part of a
    split may share too few words with the whole to rank among its candidates, while its
    longer neighbour does.
    """

    def eligible(position: int) -> bool:
        return position in pool and clauses[position].kind != "heading"

    runs = set()
    for candidate in candidates:
        part = pool.get(candidate)
        if not eligible(candidate) or not part:
            continue
        if sum(word in whole for word in part) < PART_CONTAINMENT * len(part):
            continue
        for length in (2, 3):
            for first in range(candidate - length + 1, candidate + 1):
                run = tuple(range(first, first + length))
                if all(map(eligible, run)):
                    runs.add(run)
    return runs


def _join_similarity(
    whole: Clause, whole_bag: Counter, parts: list[Clause], bags: dict[int, Counter]
) -> float:
    """Return how well consecutive ``parts`` together make up ``whole`` (0 if they don't).

    Two tests; a join passes either (the score of the first one passed is returned):

    * **word sets** (a reworded split typically repeats its subject: "We ... We also
      ..."): the Dice coefficient of the whole's words and the union of the parts' words
      reaches :data:`JOIN_THRESHOLD`, each part is mostly (:data:`PART_CONTAINMENT`) made
      of the whole's words and brings words of the whole that no other part has (at least
      one, and :data:`PART_CONTRIBUTION` of the whole's words) -- otherwise it is an edit
      of one clause plus an added/removed one;
    * **word sequence** (a split at a sentence boundary, however unequal the parts, like a
      short lead sentence cut off a long paragraph): the parts' words, read one part after
      the other, match the whole's words in order (``difflib`` ratio >=
      :data:`JOIN_THRESHOLD`), and each part has :data:`PART_CONTAINMENT` of its words in
      the matched blocks, i.e. it is a piece of the whole, not an added clause next to a
      modified one.
    """
    part_bags = [bags[part.position] for part in parts]
    return _set_join(whole_bag, part_bags) or _sequence_join(whole, parts)


def _set_join(whole: Counter, parts: list[Counter]) -> float:
    """Return the word-set score of a join (see :func:`_join_similarity`), or 0."""
    whole_set = set(whole)
    part_sets = [set(part) for part in parts]
    union = set().union(*part_sets)
    if not whole_set or not union:
        return 0.0
    similarity = 2 * len(whole_set & union) / (len(whole_set) + len(union))
    if similarity < JOIN_THRESHOLD:
        return 0.0
    for index, part in enumerate(part_sets):
        shared = part & whole_set
        others = set().union(*(p for k, p in enumerate(part_sets) if k != index))
        if len(shared) < PART_CONTAINMENT * len(part):
            return 0.0
        if len(shared - others) < max(1.0, PART_CONTRIBUTION * len(whole_set)):
            return 0.0
    return similarity


def _sequence_join(whole: Clause, parts: list[Clause]) -> float:
    """Return the word-sequence score of a join (see :func:`_join_similarity`), or 0."""
    whole_words = _words(whole)
    part_words = [_words(part) for part in parts]
    joined = [word for words_ in part_words for word in words_]
    total = len(whole_words) + len(joined)
    if not all(part_words) or 2 * min(len(whole_words), len(joined)) < JOIN_THRESHOLD * total:
        return 0.0
    # Cheap upper bounds first: matched words never exceed the common words of the bags.
    whole_counts = _word_counts(whole.key)
    part_common = [_common(_word_counts(part.key), whole_counts) for part in parts]
    for common, words_ in zip(part_common, part_words, strict=True):
        if common < PART_CONTAINMENT * len(words_):
            return 0.0
    if 2 * _common(Counter(joined), whole_counts) < JOIN_THRESHOLD * total:
        return 0.0
    matcher = SequenceMatcher(None, whole_words, joined, autojunk=False)
    blocks = matcher.get_matching_blocks()
    similarity = 2 * sum(block.size for block in blocks) / total
    if similarity < JOIN_THRESHOLD:
        return 0.0
    start = 0
    for words_ in part_words:
        end = start + len(words_)
        inside = sum(max(0, min(end, b.b + b.size) - max(start, b.b)) for b in blocks)
        if inside < PART_CONTAINMENT * len(words_):
            return 0.0
        start = end
    return similarity


@dataclass
class _Scorer:
    """Scores candidate groups for the greedy selection."""

    old: list[Clause]
    new: list[Clause]
    old_slots: dict[int, tuple[int, int]]
    new_slots: dict[int, tuple[int, int]]

    def score(self, similarity: float, olds: tuple[int, ...], news: tuple[int, ...]) -> float:
        """Return ``similarity`` plus the same-gap and same-section tie-break bonuses."""
        bonus = 0.0
        if self.old_slots[olds[0]][0] == self.new_slots[news[0]][0]:
            bonus += SAME_GAP_BONUS
        if self.old[olds[0]].section == self.new[news[0]].section:
            bonus += SAME_SECTION_BONUS
        return similarity + bonus


def _select(
    options: list[tuple[float, tuple[int, ...], tuple[int, ...]]],
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Greedily keep the best-scoring groups whose clauses are all still free."""
    used_old: set[int] = set()
    used_new: set[int] = set()
    chosen = []
    for _, olds, news in sorted(options, key=lambda o: (-o[0], o[1], o[2])):
        if used_old.isdisjoint(olds) and used_new.isdisjoint(news):
            used_old.update(olds)
            used_new.update(news)
            chosen.append((olds, news))
    return chosen


def _match_renamed_headings(
    old: list[Clause], new: list[Clause], free_old: list[int], free_new: list[int], gaps: _Gaps
) -> list[tuple[int, int]]:
    """Pair leftover headings that sit in the same gap with the same count and levels."""
    old_by_gap: dict[int, list[int]] = defaultdict(list)
    new_by_gap: dict[int, list[int]] = defaultdict(list)
    for i in free_old:
        if old[i].kind == "heading":
            old_by_gap[gaps.old_slot(i)[0]].append(i)
    for j in free_new:
        if new[j].kind == "heading":
            new_by_gap[gaps.new_slot(j)[0]].append(j)
    pairs: list[tuple[int, int]] = []
    for gap, olds in old_by_gap.items():
        news = new_by_gap.get(gap, [])
        if [_level(old[i]) for i in olds] == [_level(new[j]) for j in news]:
            pairs.extend(zip(olds, news, strict=True))
    return pairs


def _level(heading: Clause) -> int:
    """Return the level (number of ``#``) of a heading clause."""
    return len(heading.text) - len(heading.text.lstrip("#"))


def is_cosmetic(old_text: str, new_text: str) -> bool:
    """Tell whether two clause texts differ without a change in wording.

    True when the word sequences (case-folded, markdown, link targets and punctuation
    ignored) are equal, or when both texts are a "last updated"/"effective"/copyright
    clause and differ only in date words (numbers, ordinals, month names).
    """
    return _same_wording(words(old_text), words(new_text), old_text, new_text)


def _same_wording(
    old_words: Sequence[str], new_words: Sequence[str], old_text: str, new_text: str
) -> bool:
    """Implement :func:`is_cosmetic` given the texts' word lists."""
    if old_words == new_words:
        return True
    if not (_is_date_clause(old_text) and _is_date_clause(new_text)):
        return False
    return _without_dates(old_words) == _without_dates(new_words)


def _is_date_clause(text: str) -> bool:
    """Tell whether a text is a "last updated"/"effective <date>"/copyright-year clause."""
    lowered = text.casefold()
    hinted = any(hint in lowered for hint in _DATE_HINTS)
    return hinted and _DATE_CONTEXT.search(lowered) is not None


def _without_dates(tokens: Sequence[str]) -> list[str]:
    """Drop date-like words (numbers, ordinals, month names) from a word list."""
    return [token for token in tokens if not _DATE_WORD.fullmatch(token)]


def _build_changes(
    old: list[Clause],
    new: list[Clause],
    pairs: list[tuple[int, int]],
    joins: list[tuple[tuple[int, ...], tuple[int, ...]]],
) -> list[Change]:
    """Turn the alignment into changes sorted in document order."""
    in_order = _in_order(pairs, new)
    staying = set(in_order)
    keyed: list[tuple[tuple[float, int], Change]] = []
    for i, j in pairs:
        change = _pair_change(old[i], new[j], moved=(i, j) not in staying)
        if change is not None:
            keyed.append(((j, 0), change))
    for olds, news in joins:
        keyed.append(((news[0], 0), _join_change([old[i] for i in olds], [new[j] for j in news])))
    matched_old = {i for i, _ in pairs} | {i for olds, _ in joins for i in olds}
    matched_new = {j for _, j in pairs} | {j for _, news in joins for j in news}
    anchors_old = [i for i, _ in in_order]
    for i in sorted(set(range(len(old))) - matched_old):
        before = bisect_left(anchors_old, i)
        where = in_order[before - 1][1] + 0.5 if before else -0.5
        keyed.append(((where, i), Change("removed", old[i], None)))
    for j in sorted(set(range(len(new))) - matched_new):
        keyed.append(((j, 0), Change("added", None, new[j])))
    return [change for _, change in sorted(keyed, key=lambda item: item[0])]


def _pair_change(old: Clause, new: Clause, *, moved: bool) -> Change | None:
    """Classify a matched pair: no change, cosmetic, modified or moved (with a diff)."""
    if old.text == new.text:
        return Change("moved", old, new) if moved else None
    if old.key == new.key or _same_wording(_words(old), _words(new), old.text, new.text):
        return Change("moved" if moved else "cosmetic", old, new)
    if _is_page_title(old) and _is_page_title(new):
        return Change("cosmetic", old, new, word_diff(old.text, new.text))
    return Change("moved" if moved else "modified", old, new, word_diff(old.text, new.text))


def _is_page_title(clause: Clause) -> bool:
    """Whether a clause is the page's title: the ``# `` heading a version starts with.

    It comes from the HTML ``<title>``, which site redesigns rewrite ("Acme - Privacy" ->
    "Privacy | Acme"); the policy's own wording is in its body.
    """
    return clause.position == 0 and clause.kind == "heading" and clause.text.startswith("# ")


def _join_change(olds: list[Clause], news: list[Clause]) -> Change:
    """Build the ``split`` (one old, several new) or ``merged`` change of a join."""
    old_text = " ".join(clause.text for clause in olds)
    new_text = " ".join(clause.text for clause in news)
    diff = None if is_cosmetic(old_text, new_text) else word_diff(old_text, new_text)
    if len(olds) == 1:
        return Change("split", olds[0], news[0], diff, new_parts=tuple(news))
    return Change("merged", olds[0], news[0], diff, old_parts=tuple(olds))


def _words(clause: Clause) -> tuple[str, ...]:
    """Return the words of a clause (same as ``words(clause.text)``, from its key)."""
    return _key_words(clause.key)


@lru_cache(maxsize=8192)
def _key_words(key: str) -> tuple[str, ...]:
    """Return the words of a clause key (cached: most clauses recur across versions)."""
    return tuple(_WORD.findall(key))


@lru_cache(maxsize=1024)
def _word_counts(key: str) -> Counter:
    """Return the bag of all words of a clause key (cached; callers must not modify it)."""
    return Counter(_key_words(key))


def _common(a: Counter, b: Counter) -> int:
    """Return the size of the intersection of two bags of words."""
    if len(a) > len(b):
        a, b = b, a
    return sum(min(count, b[word]) for word, count in a.items() if word in b)


def _count_words(segments: Iterable[str]) -> int:
    """Count the word tokens in text segments."""
    return sum(len(_WORD.findall(segment)) for segment in segments)


def _summarize(changes: Sequence[Change], old: list[Clause], new: list[Clause]) -> dict:
    """Compute the summary of a comparison (see :class:`Comparison`)."""
    summary: dict = dict.fromkeys(KINDS, 0)
    added = removed = moved = 0
    for change in changes:
        summary[change.kind] += 1
        old_words = len(_words(change.old)) if change.old else 0
        new_words = len(_words(change.new)) if change.new else 0
        if change.kind == "added":
            added += new_words
        elif change.kind == "removed":
            removed += old_words
        elif change.kind == "moved":
            moved += old_words + new_words
        if change.diff:
            added += _count_words(text for op, text in change.diff if op == 1)
            removed += _count_words(text for op, text in change.diff if op == -1)
    total = sum(len(_words(clause)) for clause in old + new)
    changed = added + removed + MOVED_WORD_WEIGHT * moved
    summary["words_added"] = added
    summary["words_removed"] = removed
    summary["significance"] = round(min(1.0, changed / total), 4) if total else 0.0
    return summary
