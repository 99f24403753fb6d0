"""The SQLite store: policies, captures, versions and revisions, idempotent throughout."""

import random
import sqlite3

import pytest

from db import PolicyNotFound, Store, StoreError
from db.dates import InvalidDate, end_of, timestamp_to_iso
from db.store import policy_name_for

V1 = "# Privacy\n\n## Sharing\n\nWe will not sell your data.\n\n## Contact\n\nWrite to us.\n"
V2 = V1.replace("will not sell", "may share")
V3 = V2 + "\n## Your rights\n\nYou may ask for a copy of your data.\n"


def capture(policy_id: int, timestamp: str, **fields: object) -> dict:
    """A capture row as the crawler gives it."""
    return {
        "policy_id": policy_id,
        "url": "http://www.example.com/privacy",
        "timestamp": timestamp,
        "status": 200,
        "outcome": "version",
        **fields,
    }


def test_adding_a_policy_twice_changes_nothing(store: Store) -> None:
    first = store.add_policy("www.example.com/privacy")
    again = store.add_policy("http://www.example.com/privacy", name="other")
    assert first["created"] and not again["created"]
    assert first["id"] == again["id"]
    assert first["name"] == "example.com-privacy"
    assert store.db["policies"].count == 1
    assert store.policy_urls(first["id"]) == ["http://www.example.com/privacy"]


def test_a_name_taken_by_another_url_is_refused(store: Store) -> None:
    store.add_policy("http://a.example/privacy", name="p")
    with pytest.raises(StoreError, match="already exists"):
        store.add_policy("http://b.example/privacy", name="p")


@pytest.mark.parametrize("bad", ["not a url", "ftp://x.example/", "http://localhost"])
def test_bad_urls_are_refused(store: Store, bad: str) -> None:
    with pytest.raises(StoreError, match="not a web page URL"):
        store.add_policy(bad)


def test_unknown_policies_raise(store: Store) -> None:
    with pytest.raises(PolicyNotFound, match="no tracked policy 'nope'"):
        store.policy("nope")
    with pytest.raises(PolicyNotFound):
        store.policy(42)


def test_default_names() -> None:
    assert policy_name_for("https://www.example.com/legal/privacy.html") == (
        "example.com-legal-privacy"
    )
    assert policy_name_for("http://example.com") == "example.com"


def test_saving_a_capture_twice_keeps_one_row_and_one_version(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    first = store.save_capture(capture(pid, "20040101000000"), body=b"<p>x</p>", markdown=V1)
    again = store.save_capture(capture(pid, "20040101000000"), body=b"<p>x</p>", markdown=V1)
    assert first == again
    assert store.db["captures"].count == 1
    assert store.db["versions"].count == 1
    assert store.db["raw_captures"].count == 1
    assert store.raw_capture(first)[0] == b"<p>x</p>"


def test_a_settled_capture_is_never_downgraded_to_failed(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    store.save_capture(capture(pid, "20040101000000"), markdown=V1)
    store.save_capture(capture(pid, "20040101000000", outcome="failed", reason="timeout"))
    assert store.db["captures"].get(1)["outcome"] == "version"


def test_failed_captures_are_not_settled_until_fetched(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    store.save_capture(capture(pid, "20040101000000", outcome="failed", reason="timeout"))
    assert store.settled_captures(pid) == set()
    store.save_capture(capture(pid, "20040101000000"), markdown=V1)
    assert store.settled_captures(pid) == {("http://www.example.com/privacy", "20040101000000")}
    assert store.db["captures"].get(1)["reason"] is None


def test_unknown_outcomes_are_refused(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    with pytest.raises(StoreError, match="unknown capture outcome"):
        store.save_capture(capture(pid, "20040101000000", outcome="ok"))


def test_identical_texts_share_a_version_with_dates_and_counts(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    for timestamp, text in [
        ("20040101000000", V1),
        ("20050101000000", V1),
        ("20060101000000", V2),
        ("20070101000000", V2),
        ("20080101000000", V2),
    ]:
        store.save_capture(capture(pid, timestamp), markdown=text)
    store.refresh(pid)
    versions = list(store.db["versions"].rows_where(order_by="id"))
    assert [(v["first_seen"], v["last_seen"], v["capture_count"]) for v in versions] == [
        ("2004-01-01T00:00:00Z", "2005-01-01T00:00:00Z", 2),
        ("2006-01-01T00:00:00Z", "2008-01-01T00:00:00Z", 3),
    ]
    clauses = list(store.db["clauses"].rows_where("version_id = 1", order_by="position"))
    assert [c["kind"] for c in clauses][:2] == ["heading", "heading"]


def test_revisions_do_not_depend_on_arrival_order(tmp_path) -> None:
    timeline = [
        ("20040101000000", V1),
        ("20050101000000", V2),
        ("20060101000000", V2),
        ("20070101000000", V3),
    ]
    results = []
    for seed in range(3):
        store = Store(tmp_path / f"{seed}.db")
        pid = store.add_policy("http://www.example.com/privacy")["id"]
        shuffled = timeline[:]
        random.Random(seed).shuffle(shuffled)
        for timestamp, text in shuffled:
            store.save_capture(capture(pid, timestamp), markdown=text)
            store.refresh(pid)
        history = store.history(pid)
        results.append([(r["date"], r["added"], r["removed"], r["modified"]) for r in history])
        store.close()
    assert results[0] == results[1] == results[2]
    assert [row[0][:4] for row in results[0]] == ["2004", "2005", "2007"]
    assert results[0][1][3] == 1  # will not sell -> may share: one modified clause
    assert results[0][2][1] == 2  # heading and paragraph added


def test_refresh_twice_adds_nothing(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    store.save_capture(capture(pid, "20040101000000"), markdown=V1)
    store.save_capture(capture(pid, "20050101000000"), markdown=V3)
    assert store.refresh(pid) == 2
    counts = (store.db["revisions"].count, store.db["changes"].count)
    assert store.refresh(pid) == 0
    assert (store.db["revisions"].count, store.db["changes"].count) == counts


def test_the_version_in_force_at_a_date(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    store.save_capture(capture(pid, "20040615000000"), markdown=V1)
    store.save_capture(capture(pid, "20100315000000"), markdown=V2)
    store.refresh(pid)
    assert store.version_at(pid, "2004")["markdown"] == V1
    assert store.version_at(pid, "2010-03")["markdown"] == V2
    assert store.version_at(pid, "2010-03-14")["markdown"] == V1
    assert store.version_at(pid)["markdown"] == V2
    with pytest.raises(
        StoreError, match="policy example.com-privacy has no stored version at 2003"
    ):
        store.version_at(pid, "2003")


def test_comparing_dates_defaults_to_the_latest_change(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    for timestamp, text in [("2004", V1), ("2005", V2), ("2006", V3)]:
        store.save_capture(capture(pid, timestamp + "0101000000"), markdown=text)
    store.refresh(pid)
    old, new, comparison = store.compare_dates(pid)
    assert (old["markdown"], new["markdown"]) == (V2, V3)
    assert {c.kind for c in comparison.changes} == {"added"}
    old, new, comparison = store.compare_dates(pid, start="2004", end="2005")
    assert [c.kind for c in comparison.changes] == ["modified"]


def test_dates() -> None:
    assert timestamp_to_iso("20180525101500") == "2018-05-25T10:15:00Z"
    assert end_of("2018") == "2018-12-31T23:59:59Z"
    assert end_of("2016-02") == "2016-02-29T23:59:59Z"
    assert end_of("2018-05-25") == "2018-05-25T23:59:59Z"
    assert end_of("20180525101500") == "2018-05-25T10:15:00Z"
    for bad in ("yesterday", "2018-13", "2018-02-30", ""):
        with pytest.raises(InvalidDate):
            end_of(bad)


def test_the_database_uses_wal_and_a_schema_version(store: Store) -> None:
    connection = sqlite3.connect(store.path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] >= 1
    reopened = Store(store.path)
    assert reopened.db.table_names() == store.db.table_names()


def test_clauses_and_versions_are_searchable(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    store.save_capture(capture(pid, "20040101000000"), markdown=V1)
    store.save_capture(capture(pid, "20050101000000"), markdown=V2)
    hits = list(store.db.table("clauses").search("sell"))
    assert [hit["text"] for hit in hits] == ["We will not sell your data."]
    assert len(list(store.db.table("versions").search("sharing"))) == 2


def test_search_gives_each_wording_with_its_spells_in_force(store: Store) -> None:
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    for timestamp, text in [("2004", V1), ("2005", V2), ("2006", V1), ("2007", V3)]:
        store.save_capture(capture(pid, timestamp + "0101000000"), markdown=text)
    store.refresh(pid)
    (sell,) = store.search("sell")
    assert sell["text"] == "We will not sell your data."
    assert sell["in_force"] == [
        ("2004-01-01T00:00:00Z", "2005-01-01T00:00:00Z"),
        ("2006-01-01T00:00:00Z", "2007-01-01T00:00:00Z"),
    ]
    (write,) = store.search('"write to us"')
    assert write["in_force"] == [("2004-01-01T00:00:00Z", None)]
    assert store.search("share OR sell", policy_id=pid)[0]["policy"] == "example.com-privacy"
    assert store.search('unbalanced "quote') == []
    assert store.search("nothing-like-this") == []


LIFE = [
    ("2004", "# P\n\n## Sharing\n\nWe will not sell your data.\n\n## Contact\n\nWrite to us.\n"),
    (
        "2006",
        "# P\n\n## Sharing\n\nWe may share your data with partners.\n\n## Contact\n\n"
        "Write to us.\n",
    ),
    ("2008", "# P\n\n## Contact\n\nWrite to us.\n\nWe may share your data with partners.\n"),
    ("2010", "# P\n\n## Contact\n\nWrite to us at privacy@example.com.\n"),
]


def lived(store: Store) -> int:
    """A policy whose sharing clause is reworded, moved, then removed."""
    pid = store.add_policy("http://www.example.com/privacy")["id"]
    for year, text in LIFE:
        store.save_capture(capture(pid, year + "0101000000"), markdown=text)
    store.refresh(pid)
    return pid


def test_each_clause_is_linked_to_its_ancestor(store: Store) -> None:
    pid = lived(store)
    rows = list(
        store.db.query(
            "SELECT c.text, a.text AS ancestor FROM clauses c "
            "JOIN clauses a ON a.id = c.ancestor_id ORDER BY c.id"
        )
    )
    assert {
        "text": "We may share your data with partners.",
        "ancestor": "We will not sell your data.",
    } in rows
    assert {"text": "Write to us at privacy@example.com.", "ancestor": "Write to us."} in rows
    first = store.db.execute(
        "SELECT count(*) FROM clauses c JOIN versions v ON v.id = c.version_id "
        "WHERE v.first_seen LIKE '2004%' AND c.ancestor_id IS NOT NULL"
    ).fetchone()[0]
    assert first == 0
    assert pid


def test_blame_dates_each_clause_and_its_wording(store: Store) -> None:
    pid = lived(store)
    version, rows = store.blame(pid, "2009")
    assert version["first_seen"].startswith("2008")
    sharing = next(r for r in rows if r["text"].startswith("We may share"))
    assert (sharing["first_seen"][:4], sharing["changed"][:4]) == ("2004", "2006")
    contact = next(r for r in rows if r["text"] == "Write to us.")
    assert (contact["first_seen"][:4], contact["changed"][:4]) == ("2004", "2004")
    _, latest = store.blame(pid)
    contact = next(r for r in latest if r["text"].startswith("Write to us"))
    assert (contact["first_seen"][:4], contact["changed"][:4]) == ("2004", "2010")


def test_a_clause_history_follows_rewording_move_and_removal(store: Store) -> None:
    pid = lived(store)
    best, events = store.clause_history(pid, "we will not sell your data")
    assert best["text"] == "We will not sell your data."
    assert [(e["event"], e["date"][:4]) for e in events] == [
        ("appeared", "2004"),
        ("reworded", "2006"),
        ("moved", "2008"),
        ("removed", "2010"),
    ]
    reworded = events[1]
    assert (-1, "will not sell") in reworded["diff"] or any(
        op == -1 and "not sell" in text for op, text in reworded["diff"]
    )
    with pytest.raises(StoreError, match="no clause of this policy resembles"):
        store.clause_history(pid, "zebra quantum")
