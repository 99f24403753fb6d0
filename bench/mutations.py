"""Mutation suite: known single edits of real policies, and how well ``compare`` reports them.

Each policy of the shared corpus (``../shared/corpus/*/*.md``, the first line, which names
the capture, dropped) is split into clauses and rendered back to markdown from its clauses
(one block per clause, blank lines between, tables rebuilt), so that every clause of the
old and the new version is known exactly. Then one edit at a time is applied to that
list of clauses, and the comparison of the two renderings must report exactly that edit
and nothing else:

========================  ==========  ======================================================
mutation                  kind        edit
========================  ==========  ======================================================
``add``                   added       a paragraph or list item taken from *another* policy
``remove``                removed     a paragraph or list item deleted
``reword``                modified    1-3 words replaced, inserted or deleted (at most a
                                      quarter of a clause of 8+ words)
``rename-section``        modified    a section heading (not the page title) given new words
``move-within``           moved       a clause moved inside its section
``move-across``           moved       a clause moved into another section
``move-reword``           moved       a clause moved inside its section and reworded
``split``                 split       a clause cut in two at a sentence boundary
``merge``                 merged      two consecutive clauses of a section joined
``cosmetic``              cosmetic    case, quote style, punctuation, markup, whitespace,
                                      a link target or a "last updated" date
========================  ==========  ======================================================

The edited clauses have a unique key in their version (an edit of one of two identical
clauses cannot say which one it touched), split and merged parts have 5+ words, and a
moved clause jumps over clauses with at least 1.5 times its words (otherwise "the others
moved" is an equally small description of the edit). A mutation whose rendering does not
split back into the intended clauses is skipped.

Scoring, per kind: a reported change of the expected kind on exactly the expected clauses
(old and new positions) is a true positive; any other reported change is a false positive
of its kind; an expected change not reported is a false negative. The lineage
(``Comparison.pairs``) is checked against the clauses' known ancestry too.

Run ``python bench/mutations.py`` for the table (``--help`` for the sample size).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tracker`` and ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.clauses import Clause, clause_key, plain_text, split_clauses, words
from tracker.diff import KINDS, Change, Comparison, compare

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

EXPECTED_KIND = {
    "add": "added",
    "remove": "removed",
    "reword": "modified",
    "rename-section": "modified",
    "move-within": "moved",
    "move-across": "moved",
    "move-reword": "moved",
    "split": "split",
    "merge": "merged",
    "cosmetic": "cosmetic",
}
MUTATIONS = tuple(EXPECTED_KIND)
REWORDING = ("reword", "rename-section", "move-reword")
EDITABLE = ("paragraph", "list_item")
MIN_PART_WORDS = 5
MIN_REWORD_WORDS = 8
MOVE_MARGIN = 1.5
ATTEMPTS = 30

_ALPHA = re.compile(r"[A-Za-z]+")
_SPACE_SPLIT = re.compile(r"(\s+)")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!?]) (?=[A-Z])")
_DATE_CLAUSE = re.compile(r"updated|effective|copyright|©|revised", re.IGNORECASE)
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Block:
    """A clause to render: its kind, text and the old positions it descends from."""

    kind: str
    text: str
    origins: tuple[int, ...]


@dataclass(frozen=True)
class Mutation:
    """One known edit of one policy, with the change ``compare`` must report."""

    document: str
    name: str
    old: str
    new: str
    kind: str
    old_positions: tuple[int, ...]
    new_positions: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    diff: bool  # whether the change must carry a word diff (its wording changed)


@dataclass(frozen=True)
class Edit:
    """The result of applying a mutation to a list of blocks."""

    blocks: list[Block]
    old_positions: tuple[int, ...]
    new_positions: tuple[int, ...]


@dataclass
class Pool:
    """Material for edits: real words and clauses from the whole corpus."""

    vocabulary: list[str]
    clauses: dict[str, list[tuple[str, str]]]  # document -> (kind, text) of its clauses

    def foreign(self, document: str, rng: random.Random) -> tuple[str, str]:
        """Return a random paragraph/list item of 5+ words from another document."""
        others = sorted(name for name in self.clauses if name != document and self.clauses[name])
        return rng.choice(self.clauses[rng.choice(others)])

    def word(self, rng: random.Random, avoid: Iterable[str] = ()) -> str:
        """Return a random corpus word (4+ letters) not in ``avoid`` (compared case-folded)."""
        banned = {w.casefold() for w in avoid}
        while True:
            candidate = rng.choice(self.vocabulary)
            if candidate not in banned:
                return candidate


@dataclass
class Score:
    """Counts of a mutation run (see the module docstring)."""

    true_positives: Counter = field(default_factory=Counter)
    false_positives: Counter = field(default_factory=Counter)
    false_negatives: Counter = field(default_factory=Counter)
    exact: Counter = field(default_factory=Counter)  # mutation name -> exactly right
    total: Counter = field(default_factory=Counter)  # mutation name -> count
    lineage_exact: int = 0
    failures: list[tuple[Mutation, list[str]]] = field(default_factory=list)

    def precision(self, kind: str) -> float:
        """Return the precision for ``kind`` (1.0 when nothing of that kind was reported)."""
        reported = self.true_positives[kind] + self.false_positives[kind]
        return self.true_positives[kind] / reported if reported else 1.0

    def recall(self, kind: str) -> float:
        """Return the recall for ``kind`` (1.0 when nothing of that kind was expected)."""
        expected = self.true_positives[kind] + self.false_negatives[kind]
        return self.true_positives[kind] / expected if expected else 1.0


def load_corpus(corpus: Path = CORPUS) -> dict[str, str]:
    """Return ``{"domain/timestamp": markdown}`` of the corpus, capture line dropped."""
    documents = {}
    for path in sorted(corpus.glob("*/*.md")):
        body = path.read_text(encoding="utf-8").split("\n", 1)[1]
        documents[f"{path.parent.name}/{path.stem}"] = body.lstrip("\n")
    return documents


def blocks_of(markdown: str) -> list[Block]:
    """Return the clauses of ``markdown`` as blocks descending from themselves."""
    return [Block(c.kind, c.text, (c.position,)) for c in split_clauses(markdown)]


def render(blocks: list[Block]) -> str:
    """Render blocks as markdown: one block per clause, tables rebuilt with a delimiter row."""
    out: list[str] = []
    for index, block in enumerate(blocks):
        if block.kind == "table_row":
            if index and blocks[index - 1].kind == "table_row":
                out[-1] += "\n" + block.text
            else:
                cells = len(_CELL_SPLIT.split(block.text.strip()[1:-1]))
                out.append(block.text + "\n|" + " --- |" * cells)
        elif block.kind == "list_item":
            out.append("- " + block.text)
        else:
            out.append(block.text)
    return "\n\n".join(out) + "\n"


def round_trips(blocks: list[Block]) -> bool:
    """Tell whether the rendering of ``blocks`` splits back into exactly these clauses."""
    clauses = split_clauses(render(blocks))
    return [(c.kind, c.text) for c in clauses] == [(b.kind, b.text) for b in blocks]


def build_pool(documents: dict[str, str]) -> Pool:
    """Collect the vocabulary and the editable clauses of every document."""
    vocabulary: set[str] = set()
    clauses: dict[str, list[tuple[str, str]]] = {}
    for name, markdown in documents.items():
        found = split_clauses(markdown)
        clauses[name] = [
            (c.kind, c.text)
            for c in found
            if c.kind in EDITABLE and len(words(c.text)) >= MIN_PART_WORDS and "\n" not in c.text
        ]
        for clause in found:
            vocabulary.update(w for w in _ALPHA.findall(clause.text.lower()) if len(w) >= 4)
    return Pool(sorted(vocabulary), clauses)


class _Document:
    """A policy's clauses with the lookups the mutators need."""

    def __init__(self, name: str, blocks: list[Block]) -> None:
        """Index ``blocks`` (which must round-trip) of document ``name``."""
        self.name = name
        self.blocks = blocks
        self.clauses: list[Clause] = split_clauses(render(blocks))
        self.keys = Counter(c.key for c in self.clauses)

    def targets(self, kinds: tuple[str, ...] = EDITABLE, min_words: int = 1) -> list[int]:
        """Positions of clauses of ``kinds`` with a unique key and at least ``min_words``."""
        return [
            c.position
            for c in self.clauses
            if c.kind in kinds
            and self.keys[c.key] == 1
            and len(words(c.text)) >= min_words
            and "\n" not in c.text
        ]

    def new_key(self, text: str) -> bool:
        """Tell whether ``text`` has a key no clause of the document has."""
        return clause_key(text) not in self.keys

    def inside_table(self, index: int) -> bool:
        """Tell whether inserting before ``index`` would cut a table in two."""
        return (
            0 < index < len(self.blocks)
            and self.blocks[index - 1].kind == "table_row"
            and self.blocks[index].kind == "table_row"
        )


Mutator = Callable[[_Document, random.Random, Pool], Edit | None]


def _replace(blocks: list[Block], index: int, *new: Block) -> list[Block]:
    """Return ``blocks`` with the block at ``index`` replaced by ``new`` blocks."""
    return blocks[:index] + list(new) + blocks[index + 1 :]


def _add(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Insert a clause taken from another policy."""
    _, text = pool.foreign(doc.name, rng)
    index = rng.randrange(1, len(doc.blocks) + 1)
    if doc.inside_table(index) or not doc.new_key(text):
        return None
    kind = "list_item" if doc.blocks[index - 1].kind == "list_item" else "paragraph"
    blocks = doc.blocks[:index] + [Block(kind, text, ())] + doc.blocks[index:]
    return Edit(blocks, (), (index,))


def _remove(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Delete a paragraph or list item."""
    targets = doc.targets()
    if not targets:
        return None
    index = rng.choice(targets)
    return Edit(doc.blocks[:index] + doc.blocks[index + 1 :], (index,), ())


def _reword(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Replace, insert or delete 1-3 consecutive words of a clause of 8+ words."""
    targets = [i for i in doc.targets(min_words=MIN_REWORD_WORDS) if _rewordable(doc, i)]
    if not targets:
        return None
    index = rng.choice(targets)
    block = doc.blocks[index]
    text = _reworded(block.text, rng, pool)
    if text is None or not doc.new_key(text):
        return None
    edited = Block(block.kind, text, block.origins)
    return Edit(_replace(doc.blocks, index, edited), (index,), (index,))


def _rewordable(doc: _Document, index: int) -> bool:
    """Tell whether a clause can be reworded: 8+ words and no date to keep."""
    text = doc.blocks[index].text
    return len(words(text)) >= MIN_REWORD_WORDS and not _DATE_CLAUSE.search(text)


def _reworded(text: str, rng: random.Random, pool: Pool) -> str | None:
    """Return ``text`` with 1-3 adjacent words replaced, inserted or deleted, or ``None``.

    At most a quarter of the clause's words change, with corpus words it does not contain.
    """
    tokens = _SPACE_SPLIT.split(text)
    alpha = [k for k, token in enumerate(tokens) if _ALPHA.fullmatch(token)]
    budget = min(3, len(words(text)) // 4)
    if len(alpha) < 4 or budget < 1:
        return None
    count = rng.randint(1, budget)
    start = rng.randrange(len(alpha) - count + 1)
    span = alpha[start : start + count]
    if span[-1] - span[0] != 2 * (count - 1):  # the words must be adjacent
        return None
    operation = rng.choice(("replace", "insert", "delete"))
    fresh = " ".join(pool.word(rng, avoid=_ALPHA.findall(text)) for _ in range(count))
    if operation == "replace":
        tokens[span[0] : span[-1] + 1] = [fresh]
    elif operation == "insert":
        tokens[span[0]] = f"{tokens[span[0]]} {fresh}"
    else:
        tokens[span[0] : span[-1] + 2] = []
    edited = "".join(tokens).strip()
    return None if words(edited) == words(text) else edited


def _rename_section(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Give a section heading (not the page title) new words."""
    targets = [i for i in doc.targets(kinds=("heading",)) if i > 0]
    if not targets:
        return None
    index = rng.choice(targets)
    block = doc.blocks[index]
    marks = block.text.split(" ", 1)[0]
    title = " ".join(
        pool.word(rng, avoid=_ALPHA.findall(block.text)) for _ in range(rng.randint(1, 4))
    )
    text = f"{marks} {title.capitalize()}"
    if not doc.new_key(text):
        return None
    return Edit(
        _replace(doc.blocks, index, Block("heading", text, block.origins)), (index,), (index,)
    )


def _section_after(doc: _Document, index: int) -> str:
    """Return the section a clause inserted before block ``index`` would sit in."""
    before = doc.clauses[index - 1]
    if before.kind == "heading":
        return " > ".join(p for p in (before.section, plain_text(before.text)) if p)
    return before.section


def _move(
    doc: _Document, rng: random.Random, pool: Pool, *, across: bool, reword: bool = False
) -> Edit | None:
    """Move a clause inside its section or into another one, and maybe reword it too."""
    targets = [i for i in doc.targets() if not reword or _rewordable(doc, i)]
    if not targets:
        return None
    index = rng.choice(targets)
    weight = len(words(doc.blocks[index].text))
    destinations = [
        d
        for d in range(1, len(doc.blocks) + 1)
        if d not in (index, index + 1)
        and not doc.inside_table(d)
        and (_section_after(doc, d) != doc.clauses[index].section) == across
    ]
    rng.shuffle(destinations)
    for destination in destinations:
        low, high = sorted((index + 1, destination))
        jumped = doc.blocks[low:high] if destination > index else doc.blocks[destination:index]
        if sum(len(words(b.text)) for b in jumped) >= MOVE_MARGIN * weight:
            moved = doc.blocks[index]
            if reword:
                text = _reworded(moved.text, rng, pool)
                if text is None or not doc.new_key(text):
                    return None
                moved = Block(moved.kind, text, moved.origins)
            rest = doc.blocks[:index] + doc.blocks[index + 1 :]
            at = destination if destination < index else destination - 1
            return Edit(rest[:at] + [moved] + rest[at:], (index,), (at,))
    return None


def _split(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Cut a clause in two at a sentence boundary (both parts of 5+ words)."""
    candidates = []
    for index in doc.targets(min_words=2 * MIN_PART_WORDS):
        text = doc.blocks[index].text
        for cut in _SENTENCE_END.finditer(text):
            first, second = text[: cut.start()], text[cut.end() :]
            if min(len(words(first)), len(words(second))) >= MIN_PART_WORDS:
                candidates.append((index, first, second))
    if not candidates:
        return None
    index, first, second = rng.choice(candidates)
    if not (doc.new_key(first) and doc.new_key(second)):
        return None
    block = doc.blocks[index]
    parts = Block(block.kind, first, block.origins), Block(block.kind, second, block.origins)
    return Edit(_replace(doc.blocks, index, *parts), (index,), (index, index + 1))


def _merge(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Join two consecutive clauses of the same kind and section (both of 5+ words)."""
    targets = set(doc.targets(min_words=MIN_PART_WORDS))
    pairs = [
        i
        for i in sorted(targets)
        if i + 1 in targets
        and doc.clauses[i].kind == doc.clauses[i + 1].kind
        and doc.clauses[i].section == doc.clauses[i + 1].section
    ]
    if not pairs:
        return None
    index = rng.choice(pairs)
    first, second = doc.blocks[index], doc.blocks[index + 1]
    text = f"{first.text} {second.text}"
    if not doc.new_key(text):
        return None
    merged = Block(first.kind, text, first.origins + second.origins)
    blocks = doc.blocks[:index] + [merged] + doc.blocks[index + 2 :]
    return Edit(blocks, (index, index + 1), (index,))


def _cosmetic(doc: _Document, rng: random.Random, pool: Pool) -> Edit | None:
    """Change a clause without changing its wording (see :func:`_cosmetic_variants`)."""
    targets = doc.targets(kinds=(*EDITABLE, "heading"))
    if not targets:
        return None
    index = rng.choice(targets)
    block = doc.blocks[index]
    variants = _cosmetic_variants(block.text, rng)
    if not variants:
        return None
    text = rng.choice(variants)
    if text == block.text:
        return None
    return Edit(
        _replace(doc.blocks, index, Block(block.kind, text, block.origins)), (index,), (index,)
    )


def _cosmetic_variants(text: str, rng: random.Random) -> list[str]:
    """Return wording-preserving edits of ``text`` that apply to it."""
    tokens = _SPACE_SPLIT.split(text)
    alpha = [k for k, token in enumerate(tokens) if _ALPHA.fullmatch(token)]
    variants = []

    def with_token(k: int, value: str) -> str:
        return "".join(tokens[:k] + [value] + tokens[k + 1 :])

    if alpha:
        k = rng.choice(alpha)
        variants.append(
            with_token(k, tokens[k].upper() if tokens[k].islower() else tokens[k].lower())
        )
        variants.append(with_token(k, f"**{tokens[k]}**"))
        if k < len(tokens) - 1:
            variants.append(with_token(k, tokens[k] + ","))
        variants.append(text.replace(" ", "  ", 1) if " " in text else text)
    if "'" in text or '"' in text:
        variants.append(text.replace("'", "\u2019").replace('"', "\u201c", 1))
    if "," in text:
        variants.append(text.replace(",", "", 1))
    link = _LINK_TARGET.search(text)
    if link:
        variants.append(
            text[: link.start(1)] + link.group(1).rstrip("/") + "/new" + text[link.end(1) :]
        )
    year = _YEAR.search(text)
    if year and _DATE_CLAUSE.search(text):
        changed = str(int(year.group()) + 1)
        variants.append(text[: year.start()] + changed + text[year.end() :])
    return [variant for variant in variants if variant != text]


MUTATORS: dict[str, Mutator] = {
    "add": _add,
    "remove": _remove,
    "reword": _reword,
    "rename-section": _rename_section,
    "move-within": lambda doc, rng, pool: _move(doc, rng, pool, across=False),
    "move-across": lambda doc, rng, pool: _move(doc, rng, pool, across=True),
    "move-reword": lambda doc, rng, pool: _move(doc, rng, pool, across=False, reword=True),
    "split": _split,
    "merge": _merge,
    "cosmetic": _cosmetic,
}


def apply(
    name: str, blocks: list[Block], rng: random.Random, pool: Pool, document: str = ""
) -> Edit | None:
    """Apply mutation ``name`` to ``blocks``; ``None`` if no valid edit was found.

    Tries up to :data:`ATTEMPTS` random edits; the result always round-trips.
    """
    doc = _Document(document, blocks)
    for _ in range(ATTEMPTS):
        edit = MUTATORS[name](doc, rng, pool)
        if edit is not None and round_trips(edit.blocks):
            return edit
    return None


def generate(
    documents: dict[str, str], *, per_mutation: int, seed: int = 0, pool: Pool | None = None
) -> list[Mutation]:
    """Return ``per_mutation`` seeded mutations of each kind for each document.

    Documents whose clauses do not round-trip through :func:`render` are skipped.
    """
    pool = pool or build_pool(documents)
    mutations = []
    seen = set()
    for name, markdown in sorted(documents.items()):
        blocks = blocks_of(markdown)
        if not blocks or not round_trips(blocks):
            continue
        old = render(blocks)
        for mutation in MUTATIONS:
            for n in range(per_mutation):
                rng = random.Random(f"{seed}:{name}:{mutation}:{n}")
                edit = apply(mutation, blocks, rng, pool, name)
                if edit is None or (new := render(edit.blocks)) in seen:
                    continue
                seen.add(new)
                pairs = sorted(
                    (origin, j) for j, block in enumerate(edit.blocks) for origin in block.origins
                )
                mutations.append(
                    Mutation(
                        name,
                        mutation,
                        old,
                        new,
                        EXPECTED_KIND[mutation],
                        edit.old_positions,
                        edit.new_positions,
                        tuple(sorted(pairs, key=lambda pair: (pair[1], pair[0]))),
                        mutation in REWORDING,
                    )
                )
    return mutations


def change_positions(change: Change) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return the old and new positions of the clauses a change is about."""
    olds = change.old_parts or ((change.old,) if change.old else ())
    news = change.new_parts or ((change.new,) if change.new else ())
    return tuple(c.position for c in olds), tuple(c.position for c in news)


def score(mutations: Iterable[Mutation], scored: Score | None = None) -> Score:
    """Compare each mutation's versions and count hits, misses and extra changes."""
    result = scored or Score()
    for mutation in mutations:
        comparison = compare(mutation.old, mutation.new)
        record(mutation, comparison, result)
    return result


def record(mutation: Mutation, comparison: Comparison, result: Score) -> None:
    """Add one mutation's comparison to ``result``."""
    expected = (mutation.kind, mutation.old_positions, mutation.new_positions)
    found = False
    extra = []
    for change in comparison.changes:
        if (
            not found
            and (change.kind, *change_positions(change)) == expected
            and (change.diff is not None) == mutation.diff
        ):
            found = True
        else:
            extra.append(change.kind)
    if found:
        result.true_positives[mutation.kind] += 1
    else:
        result.false_negatives[mutation.kind] += 1
    result.false_positives.update(extra)
    result.total[mutation.name] += 1
    exact = found and not extra
    result.exact[mutation.name] += exact
    lineage = tuple(comparison.pairs) == mutation.pairs
    result.lineage_exact += lineage
    if not exact or not lineage:
        result.failures.append((mutation, [c.kind for c in comparison.changes]))


def report(result: Score, *, seconds: float, documents: int) -> str:
    """Return the human-readable tables of a scored run."""
    mutations = sum(result.total.values())
    lines = [
        f"mutation suite: {mutations} mutations of {documents} corpus policies in {seconds:.1f} s",
        "",
        f"{'kind':<10} {'expected':>8} {'reported':>8} {'precision':>9} {'recall':>7}",
    ]
    for kind in KINDS:
        expected = result.true_positives[kind] + result.false_negatives[kind]
        reported = result.true_positives[kind] + result.false_positives[kind]
        lines.append(
            f"{kind:<10} {expected:>8} {reported:>8} "
            f"{result.precision(kind):>9.3f} {result.recall(kind):>7.3f}"
        )
    lines += ["", f"{'mutation':<15} {'count':>5} {'exactly right':>13}"]
    for name in MUTATIONS:
        total = result.total[name]
        rate = result.exact[name] / total if total else 1.0
        lines.append(f"{name:<15} {total:>5} {rate:>13.3f}")
    lineage = result.lineage_exact / mutations if mutations else 1.0
    lines += ["", f"lineage (Comparison.pairs) exactly right: {lineage:.3f}"]
    return "\n".join(lines)


def main() -> None:
    """Run the mutation suite over the corpus and print precision and recall per kind."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--per-mutation", type=int, default=12, help="mutations per kind and policy"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-failures", type=int, default=0, metavar="N")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found: {CORPUS}")
    documents = load_corpus()
    start = time.perf_counter()
    mutations = generate(documents, per_mutation=args.per_mutation, seed=args.seed)
    result = score(mutations)
    print(report(result, seconds=time.perf_counter() - start, documents=len(documents)))
    for mutation, kinds in result.failures[: args.show_failures]:
        print(
            f"\n{mutation.document} {mutation.name} {mutation.old_positions} -> "
            f"{mutation.new_positions}: reported {kinds}"
        )


if __name__ == "__main__":
    main()
