"""Rebuilding versions from stored raw captures after a normalizer change."""

from pathlib import Path

import pytest
import sqlite_utils

import tracker.renormalize
from db import Store
from tracker.normalize import Normalized, normalize
from tracker.renormalize import renormalize

DATA = ("captures", "versions", "clauses", "revisions", "changes")


def rows(db: Path) -> dict[str, list[dict]]:
    """The rows of the tables renormalize may touch."""
    database = sqlite_utils.Database(db)
    return {name: list(database.table(name).rows) for name in DATA}


def fetched(db: Path) -> int:
    """The privacy policy's captures whose bytes are stored and were normalized."""
    return (
        sqlite_utils.Database(db)
        .execute(
            "SELECT count(*) FROM captures c JOIN raw_captures r ON r.capture_id = c.id "
            "JOIN policies p ON p.id = c.policy_id "
            "WHERE p.name = 'privacy' AND c.outcome IN ('version', 'not-a-version')"
        )
        .fetchone()[0]
    )


def test_the_same_normalizer_changes_nothing(crawled_copy: Path) -> None:
    before = rows(crawled_copy)
    store = Store(crawled_copy)
    report = renormalize(store, store.policy("privacy")["id"])
    store.close()
    assert report.captures == fetched(crawled_copy) >= 10
    assert (report.texts_changed, report.new_revisions, report.versions_removed) == (0, 0, 0)
    assert rows(crawled_copy) == before


def without_title(body: bytes, **kwargs: object) -> Normalized:
    """A normalizer that leaves out the page title (which redesigns change)."""
    result = normalize(body, **kwargs)  # type: ignore[arg-type]
    if not result.markdown:
        return result
    return Normalized(result.markdown.split("\n", 2)[2], result.title, None)


def test_a_new_normalizer_rebuilds_versions_and_marks_new_revisions_technical(
    crawled_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(crawled_copy)
    pid = store.policy("privacy")["id"]
    crawled = {row["date"] for row in store.history(pid)}
    monkeypatch.setattr(tracker.renormalize, "normalize", without_title)
    report = renormalize(store, pid)
    untitled = {row["date"] for row in store.history(pid)}
    assert report.texts_changed == report.captures == fetched(crawled_copy)
    assert report.versions_removed >= 1
    assert untitled < crawled  # title-only redesigns are no longer revisions
    assert all(row["technical"] == 0 for row in store.history(pid))

    monkeypatch.setattr(tracker.renormalize, "normalize", normalize)
    report = renormalize(store, pid)
    history = store.history(pid)
    assert {row["date"] for row in history} == crawled
    assert report.new_revisions >= len(crawled - untitled)
    technical = {row["date"] for row in history if row["technical"]}
    assert technical == crawled - untitled
    orphans = store.db.execute(
        "SELECT count(*) FROM versions WHERE id NOT IN (SELECT version_id FROM captures "
        "WHERE version_id IS NOT NULL)"
    ).fetchone()[0]
    assert orphans == 0
    store.close()
