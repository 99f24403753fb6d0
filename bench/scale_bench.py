"""The store at the Princeton study's scale: build a synthetic database, time what users ask.

    .venv/bin/python bench/scale_bench.py                 # 10% and 100%: 100,000 policies
    .venv/bin/python bench/scale_bench.py --scales 0.1    # only 10,000 policies

At scale 1 the database holds 100,000 policies, 1,000,000 captures and 300,000 versions (with
their clauses, raw captures for one capture of each version, revisions, and clause changes for
a tenth of the revisions), built through the real schema (``db.Store`` runs the migrations) with
bulk inserts; the full-text index is rebuilt once at the end instead of row by row.

It reports the size on disk and the median time of ``history``, ``diff`` (``compare_dates``),
``blame`` and ``search`` (a word of one policy, and a word common to many), and the time to
plan an incremental crawl of every policy (the wayback spider's start-up reading of the
database). With two scales it prints each figure's growth: anything that grows faster than the
data does is a bug.
"""

import argparse
import hashlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.spiders.wayback import WaybackSpider  # noqa: E402
from db import Store  # noqa: E402
from db.dates import timestamp_to_iso  # noqa: E402

POLICIES = 100_000
CAPTURES_PER_POLICY = 10
VERSIONS_PER_POLICY = 3
CLAUSES_PER_VERSION = 5
WORDS = [f"w{n:04d}" for n in range(2000)]
COMMON = "data"
SECTIONS = ("Information we collect", "How we use it", "Sharing", "Your rights", "Contact")
#: Triggers that keep the full-text indexes in step, dropped during the load.
FTS_TABLES = ("clauses", "versions")


def clause_text(rng: random.Random, policy_id: int, position: int) -> str:
    """A synthetic clause: the policy's own word, a common word sometimes, random words."""
    words = rng.choices(WORDS, k=rng.randint(8, 14))
    if rng.random() < 0.2:
        words.append(COMMON)
    return f"{' '.join(words)} co{policy_id} p{position}."


def build(path: Path, policies: int, *, seed: int = 7) -> float:
    """Create the synthetic database at ``path``; return the seconds it took."""
    started = time.perf_counter()
    Store(path).close()  # the real schema, every migration applied
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND ("
        + " OR ".join(f"tbl_name = '{table}'" for table in FTS_TABLES)
        + ")"
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    rng = random.Random(seed)
    with conn:
        _insert_rows(conn, rng, policies)
    with conn:
        for table in FTS_TABLES:
            conn.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')")
        for _, sql in triggers:
            conn.execute(sql)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _insert_rows(conn: sqlite3.Connection, rng: random.Random, policies: int) -> None:
    """Insert every table's rows, one policy after another, in batches."""
    batch: dict[str, list[tuple]] = {}
    statements = {
        "policies": "INSERT INTO policies (id, name, kind, url, added_at) VALUES (?, ?, ?, ?, ?)",
        "policy_urls": "INSERT INTO policy_urls (policy_id, url, added_at, found_via, "
        "listed_until) VALUES (?, ?, ?, ?, ?)",
        "versions": "INSERT INTO versions (id, policy_id, sha256, title, markdown, words, "
        "first_seen, last_seen, capture_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "clauses": "INSERT INTO clauses (id, version_id, position, kind, section, text, key, "
        "ancestor_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        "captures": "INSERT INTO captures (id, policy_id, url, timestamp, captured_at, status, "
        "mimetype, digest, length, outcome, version_id, fetched_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "raw_captures": "INSERT INTO raw_captures (capture_id, headers, size, body_zlib) "
        "VALUES (?, ?, ?, ?)",
        "revisions": "INSERT INTO revisions (id, policy_id, from_version, to_version, date, "
        "added, removed, modified, moved, split, merged, cosmetic, words_added, words_removed, "
        "significance, technical, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "changes": "INSERT INTO changes (revision_id, seq, kind, section, old_text, new_text, "
        "old_position, new_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    }

    def flush() -> None:
        for table, rows in batch.items():
            conn.executemany(statements[table], rows)
        batch.clear()

    for policy_id in range(1, policies + 1):
        for table, row in _policy_rows(rng, policy_id):
            batch.setdefault(table, []).append(row)
        if policy_id % 2000 == 0:
            flush()
    flush()


def _policy_rows(rng: random.Random, policy_id: int) -> Iterator[tuple[str, tuple]]:
    """The rows of one policy: its URL, 3 versions with clauses, 10 captures, revisions."""
    url = f"http://www.site{policy_id}.example/privacy"
    yield "policies", (policy_id, f"site{policy_id}-privacy", "privacy", url, "2024-01-01")
    yield "policy_urls", (policy_id, url, "2024-01-01", "added", "20231201000000")
    first_version = (policy_id - 1) * VERSIONS_PER_POLICY + 1
    years = sorted(rng.sample(range(2005, 2024), CAPTURES_PER_POLICY))
    stamps = [f"{year}{rng.randint(1, 12):02d}15120000" for year in years]
    # Captures 0-2 show version 1, 3-6 version 2, 7-9 version 3.
    spans = [(0, 3), (3, 7), (7, 10)]
    texts: list[list[str]] = []
    for n, (start, end) in enumerate(spans):
        version_id = first_version + n
        previous = texts[-1] if texts else None
        reworded = rng.randrange(CLAUSES_PER_VERSION)  # each version changes a clause at least
        clauses = [
            previous[position]
            if previous and position != reworded and rng.random() < 0.7
            else clause_text(rng, policy_id, position)
            for position in range(CLAUSES_PER_VERSION)
        ]
        texts.append(clauses)
        markdown = "\n\n".join(
            f"## {SECTIONS[position]}\n\n{text}" for position, text in enumerate(clauses)
        )
        first, last = timestamp_to_iso(stamps[start]), timestamp_to_iso(stamps[end - 1])
        yield "versions", (
            version_id, policy_id, hashlib.sha256(markdown.encode()).hexdigest(), "Privacy",
            markdown, len(markdown.split()), first, last, end - start,
        )  # fmt: skip
        for position, text in enumerate(clauses):
            clause_id = version_id * CLAUSES_PER_VERSION + position
            ancestor = clause_id - CLAUSES_PER_VERSION if previous else None
            key = hashlib.sha1(text.encode()).hexdigest()[:16]
            yield "clauses", (
                clause_id, version_id, position, "paragraph", SECTIONS[position], text, key,
                ancestor,
            )  # fmt: skip
        for index in range(start, end):
            capture_id = (policy_id - 1) * CAPTURES_PER_POLICY + index + 1
            yield "captures", (
                capture_id, policy_id, url, stamps[index], timestamp_to_iso(stamps[index]), 200,
                "text/html", f"D{version_id}", 4000, "version", version_id, "2024-01-01",
            )  # fmt: skip
            if index == start:
                body = markdown.encode()
                yield "raw_captures", (capture_id, "{}", len(body), zlib.compress(body, 1))
        revision_id = version_id
        from_version = version_id - 1 if previous else None
        changed = sum(1 for a, b in zip(previous or [], clauses, strict=False) if a != b)
        yield "revisions", (
            revision_id, policy_id, from_version, version_id, first, 0, 0, changed, 0, 0, 0,
            0, 10 * changed, 10 * changed, 0.1 * changed, 0, "2024-01-01",
        )  # fmt: skip
        if previous and revision_id % 10 == 0:
            for seq, (old, new) in enumerate(zip(previous, clauses, strict=True)):
                if old != new:
                    yield (
                        "changes",
                        (revision_id, seq, "modified", SECTIONS[seq], old, new, seq, seq),
                    )


def median_seconds(action: Callable[[], object], runs: int) -> float:
    """The median wall time of ``runs`` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(path: Path, policies: int, *, samples: int = 200, seed: int = 11) -> dict[str, float]:
    """Time the store's queries on random policies, and the crawl's start-up reading."""
    rng = random.Random(seed)
    store = Store(path)
    picks = iter([rng.randint(1, policies) for _ in range(samples * 4)])
    figures = {
        "history": median_seconds(lambda: store.history(next(picks)), samples),
        "diff": median_seconds(lambda: store.compare_dates(next(picks)), samples),
        "blame": median_seconds(lambda: store.blame(next(picks)), samples),
    }
    own_words = iter([f"co{rng.randint(1, policies)}" for _ in range(20)])
    figures["search (one policy's word)"] = median_seconds(
        lambda: store.search(next(own_words)), 20
    )
    common = iter([f"{COMMON} {word}" for word in rng.sample(WORDS, 20)])
    figures["search (common words)"] = median_seconds(lambda: store.search(next(common)), 20)
    store.close()
    spider = WaybackSpider(archive="https://web.archive.org")
    started = time.perf_counter()
    store = Store(path)
    _, listings = spider.read_database(store)
    store.close()
    figures["plan incremental crawl (all policies)"] = time.perf_counter() - started
    assert len(listings) == policies
    return figures


def main() -> None:
    """Build and measure at each scale; print the figures and their growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.1,1", help="comma-separated, 1 = 100,000 policies")
    parser.add_argument("--dir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    scales = [float(scale) for scale in args.scales.split(",")]
    folder = args.dir or Path(tempfile.mkdtemp(prefix="policytrail-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for scale in scales:
        policies = int(POLICIES * scale)
        path = folder / f"scale-{scale:g}.db"
        for stale in folder.glob(f"{path.name}*"):
            stale.unlink()
        seconds = build(path, policies)
        size = sum(p.stat().st_size for p in folder.glob(f"{path.name}*"))
        counts = {
            table: sqlite3.connect(path).execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("policies", "captures", "versions", "clauses", "revisions", "changes")
        }
        figures = measure(path, policies)
        results[scale] = {"build_s": seconds, "size_mb": size / 1e6, "counts": counts, **figures}
        print(f"\nscale {scale:g}: {counts}")
        print(f"  built in {seconds:.1f} s, {size / 1e6:,.0f} MB on disk ({path})")
        for name, value in figures.items():
            print(f"  {name:40} {value * 1000:10.2f} ms")
    if len(scales) == 2:
        small, large = (results[scale] for scale in scales)
        data = scales[1] / scales[0]
        print(f"\ngrowth from scale {scales[0]:g} to {scales[1]:g} (data x{data:g}):")
        for name in ("size_mb", "build_s", *figures):
            ratio = large[name] / small[name]
            verdict = "faster than the data: a bug" if ratio > data * 1.5 else "ok"
            print(f"  {name:40} x{ratio:8.2f}  {verdict}")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
