"""The database schema, as numbered migrations applied in order.

The applied migration count is kept in SQLite's ``PRAGMA user_version``, so opening an older
database upgrades it in place and opening a current one does nothing.
"""

from collections.abc import Callable

import sqlite_utils


def _create_tables(db: sqlite_utils.Database) -> None:
    """Migration 1: the tables of the first release."""
    db.table("policies").create(
        {
            "id": int,
            "name": str,
            "kind": str,
            "url": str,
            "added_at": str,
        },
        pk="id",
        not_null={"name", "url"},
    )
    db.table("policies").create_index(["name"], unique=True)
    db.table("policy_urls").create(
        {"policy_id": int, "url": str, "added_at": str, "found_via": str},
        pk=("policy_id", "url"),
        foreign_keys=[("policy_id", "policies", "id")],
    )
    db.table("policy_urls").create_index(["url"])
    db.table("versions").create(
        {
            "id": int,
            "policy_id": int,
            "sha256": str,
            "title": str,
            "markdown": str,
            "words": int,
            "first_seen": str,
            "last_seen": str,
            "capture_count": int,
        },
        pk="id",
        foreign_keys=[("policy_id", "policies", "id")],
    )
    db.table("versions").create_index(["policy_id", "sha256"], unique=True)
    db.table("captures").create(
        {
            "id": int,
            "policy_id": int,
            "url": str,
            "timestamp": str,
            "captured_at": str,
            "status": int,
            "mimetype": str,
            "digest": str,
            "length": int,
            "outcome": str,
            "reason": str,
            "redirect_to": str,
            "version_id": int,
            "fetched_at": str,
        },
        pk="id",
        foreign_keys=[("policy_id", "policies", "id"), ("version_id", "versions", "id")],
    )
    db.table("captures").create_index(["policy_id", "url", "timestamp"], unique=True)
    db.table("captures").create_index(["policy_id", "captured_at"])
    db.table("captures").create_index(["version_id"])
    db.table("raw_captures").create(
        {"capture_id": int, "headers": str, "size": int, "body_zlib": bytes},
        pk="capture_id",
        foreign_keys=[("capture_id", "captures", "id")],
    )
    db.table("clauses").create(
        {
            "id": int,
            "version_id": int,
            "position": int,
            "kind": str,
            "section": str,
            "text": str,
            "key": str,
        },
        pk="id",
        foreign_keys=[("version_id", "versions", "id")],
    )
    db.table("clauses").create_index(["version_id", "position"], unique=True)
    db.table("clauses").create_index(["key"])
    db.table("revisions").create(
        {
            "id": int,
            "policy_id": int,
            "from_version": int,
            "to_version": int,
            "date": str,
            "added": int,
            "removed": int,
            "modified": int,
            "moved": int,
            "split": int,
            "merged": int,
            "cosmetic": int,
            "words_added": int,
            "words_removed": int,
            "significance": float,
        },
        pk="id",
        foreign_keys=[
            ("policy_id", "policies", "id"),
            ("from_version", "versions", "id"),
            ("to_version", "versions", "id"),
        ],
    )
    db.table("revisions").create_index(["policy_id", "date", "to_version"], unique=True)
    db.table("changes").create(
        {
            "id": int,
            "revision_id": int,
            "seq": int,
            "kind": str,
            "section": str,
            "old_text": str,
            "new_text": str,
            "old_position": int,
            "new_position": int,
            "diff": str,
        },
        pk="id",
        foreign_keys=[("revision_id", "revisions", "id")],
    )
    db.table("changes").create_index(["revision_id", "seq"], unique=True)
    db.table("changes").create_index(["kind"])


def _enable_search(db: sqlite_utils.Database) -> None:
    """Migration 2: full-text search over clauses and versions, kept in sync by triggers."""
    db.table("clauses").enable_fts(["text", "section"], create_triggers=True, tokenize="porter")
    db.table("versions").enable_fts(["title", "markdown"], create_triggers=True, tokenize="porter")


def _create_runs(db: sqlite_utils.Database) -> None:
    """Migration 3: one row per crawl run, with what it did."""
    db.table("runs").create(
        {
            "id": int,
            "started_at": str,
            "ended_at": str,
            "status": str,
            "archive": str,
            "policies": int,
            "listed": int,
            "fetched": int,
            "skipped": int,
            "failed": int,
            "failures": str,
            "new_versions": int,
            "new_revisions": int,
            "error": str,
        },
        pk="id",
    )
    db.table("runs").create_index(["started_at"])


def _add_listed_until(db: sqlite_utils.Database) -> None:
    """Migration 4: how far each policy URL's captures have been listed and settled."""
    db.table("policy_urls").add_column("listed_until", str)


def _create_sites(db: sqlite_utils.Database) -> None:
    """Migration 5: sites whose policies ``discover`` looks for on their home pages."""
    db.table("sites").create(
        {"domain": str, "added_at": str, "discovered_at": str, "found": str}, pk="domain"
    )


def _add_technical(db: sqlite_utils.Database) -> None:
    """Migration 6: revisions that only a new normalizer made, not the policy's owner."""
    db.table("revisions").add_column("technical", int, not_null_default=0)


def _add_recorded_at(db: sqlite_utils.Database) -> None:
    """Migration 7: when each revision was recorded, for feeds and notifications."""
    db.table("revisions").add_column("recorded_at", str)
    db.table("revisions").create_index(["recorded_at"])


def _add_ancestors(db: sqlite_utils.Database) -> None:
    """Migration 8: each clause's ancestor in the version before, so its whole life is known."""
    # A plain ALTER TABLE: declaring the foreign key would make sqlite-utils rebuild the table,
    # which drops the full-text search triggers.
    db.table("clauses").add_column("ancestor_id", int)
    db.table("clauses").create_index(["ancestor_id"])


def _unique_policy_urls(db: sqlite_utils.Database) -> None:
    """Migration 9: a URL belongs to one policy."""
    db.execute("DROP INDEX IF EXISTS idx_policy_urls_url")
    db.table("policy_urls").create_index(["url"], unique=True)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _create_tables,
    _enable_search,
    _create_runs,
    _add_listed_until,
    _create_sites,
    _add_technical,
    _add_recorded_at,
    _add_ancestors,
    _unique_policy_urls,
]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every migration the database has not seen yet; return the schema version."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        with db.conn:
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
