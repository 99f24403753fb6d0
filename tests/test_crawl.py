"""The crawl against a real pywb archive of the sample site, end to end into SQLite."""

import json
import zlib
from pathlib import Path

import sqlite_utils
from conftest import (
    MOVED_URL,
    PRIVACY_URL,
    SAMPLE_SITE,
    TERMS_URL,
    run_policytrail,
    sample_captures,
)

from tracker.normalize import normalize

DATA_TABLES = (
    "policies",
    "policy_urls",
    "captures",
    "raw_captures",
    "versions",
    "clauses",
    "revisions",
    "changes",
)


def table_rows(db: Path) -> dict[str, list[dict]]:
    """Every row of the tables that hold data (not the search index, not the runs log)."""
    database = sqlite_utils.Database(db)
    return {name: list(database.table(name).rows) for name in DATA_TABLES}


def test_every_cdx_row_is_recorded_once(crawled_db: Path) -> None:
    database = sqlite_utils.Database(crawled_db)
    rows = list(database.query("SELECT url, timestamp, status, outcome FROM captures"))
    expected = {(c["url"], c["timestamp"]) for c in sample_captures()}
    assert {(r["url"], r["timestamp"]) for r in rows} == expected
    assert len(rows) == len(expected)
    outcomes = {(r["url"], r["timestamp"]): r for r in rows}
    for capture in sample_captures():
        row = outcomes[(capture["url"], capture["timestamp"])]
        assert row["status"] == capture["status"]
        want = {200: "version", 301: "redirect", 404: "http-error"}[capture["status"]]
        assert row["outcome"] == want, capture


def test_raw_captures_are_kept_compressed_and_byte_identical(crawled_db: Path) -> None:
    database = sqlite_utils.Database(crawled_db)
    stored = {
        (row["url"], row["timestamp"]): zlib.decompress(row["body_zlib"])
        for row in database.query(
            "SELECT c.url, c.timestamp, r.body_zlib FROM captures c "
            "JOIN raw_captures r ON r.capture_id = c.id"
        )
    }
    fetched = [c for c in sample_captures() if c["status"] in (200, 301)]
    bodies = {(c["url"], (SAMPLE_SITE / c["file"]).read_bytes()) for c in fetched}
    assert len(stored) == len(bodies)  # identical re-captures are stored once
    for (url, timestamp), body in stored.items():
        capture = next(c for c in fetched if (c["url"], c["timestamp"]) == (url, timestamp))
        assert body == (SAMPLE_SITE / capture["file"]).read_bytes()


def test_identical_recaptures_are_not_fetched_twice(crawled_db: Path) -> None:
    database = sqlite_utils.Database(crawled_db)
    copies = list(
        database.query(
            "SELECT c.timestamp FROM captures c LEFT JOIN raw_captures r ON r.capture_id = c.id "
            "WHERE c.outcome = 'version' AND r.capture_id IS NULL ORDER BY c.timestamp"
        )
    )
    assert [row["timestamp"] for row in copies] == ["20040902174405", "20160303120938"]


def test_each_run_is_recorded(crawled_db: Path) -> None:
    (run,) = sqlite_utils.Database(crawled_db).table("runs").rows
    assert run["status"] == "finished"
    assert (run["policies"], run["listed"], run["failed"]) == (2, len(sample_captures()), 0)
    assert run["new_versions"] >= 10
    assert run["ended_at"] >= run["started_at"]


def test_the_policy_is_followed_to_its_new_url(crawled_db: Path) -> None:
    database = sqlite_utils.Database(crawled_db)
    urls = list(database.query("SELECT url, found_via FROM policy_urls ORDER BY rowid"))
    assert {"url": MOVED_URL, "found_via": "redirect"} in urls
    redirect = next(database.query("SELECT * FROM captures WHERE outcome = 'redirect'"))
    assert redirect["url"] == PRIVACY_URL
    assert redirect["redirect_to"] == MOVED_URL
    moved = database.execute(
        "SELECT count(*) FROM captures c JOIN policies p ON p.id = c.policy_id "
        "WHERE p.name = 'privacy' AND c.url = ?",
        [MOVED_URL],
    ).fetchone()[0]
    assert moved == sum(1 for c in sample_captures() if c["url"] == MOVED_URL)


def test_versions_are_the_distinct_normalized_texts(crawled_db: Path) -> None:
    database = sqlite_utils.Database(crawled_db)
    for name, urls in (("privacy", (PRIVACY_URL, MOVED_URL)), ("terms", (TERMS_URL,))):
        texts = {
            normalize(
                (SAMPLE_SITE / c["file"]).read_bytes(),
                headers={"Content-Type": c["content_type"]},
                url=c["url"],
            ).markdown
            for c in sample_captures()
            if c["url"] in urls and c["status"] == 200
        }
        versions = list(
            database.query(
                "SELECT v.* FROM versions v JOIN policies p ON p.id = v.policy_id WHERE p.name = ?",
                [name],
            )
        )
        assert {v["markdown"] for v in versions} == texts
        assert sum(v["capture_count"] for v in versions) == sum(
            1 for c in sample_captures() if c["url"] in urls and c["status"] == 200
        )


def test_identical_recaptures_share_a_version(crawled_db: Path) -> None:
    database = sqlite_utils.Database(crawled_db)
    by_ts = {
        row["timestamp"]: row["version_id"]
        for row in database.query("SELECT timestamp, version_id FROM captures")
    }
    assert by_ts["20040902174405"] == by_ts["20040315093112"]
    assert by_ts["20160303120938"] == by_ts["20150519081126"]


def test_history_has_one_row_per_distinct_version(crawled_db: Path) -> None:
    result = run_policytrail("history", "privacy", "--json", db=crawled_db)
    assert result.returncode == 0, result.stderr
    revisions = json.loads(result.stdout)
    database = sqlite_utils.Database(crawled_db)
    versions = database.execute(
        "SELECT count(*) FROM versions WHERE policy_id = "
        "(SELECT id FROM policies WHERE name = 'privacy')"
    ).fetchone()[0]
    assert len(revisions) == versions >= 8
    assert [r["date"] for r in revisions] == sorted(r["date"] for r in revisions)
    assert revisions[0]["from_version"] is None


def test_the_gdpr_section_shows_as_added(crawled_db: Path) -> None:
    result = run_policytrail(
        "diff",
        "privacy",
        "--from",
        "2017",
        "--to",
        "2018-12-31",
        "--format",
        "json",
        db=crawled_db,
    )
    assert result.returncode == 0, result.stderr
    changes = json.loads(result.stdout)["changes"]
    added = [c for c in changes if c["kind"] == "added"]
    assert any("GDPR" in c["new"]["text"] for c in added if c["new"]["kind"] == "heading")
    assert all(c["kind"] == "added" for c in changes)


def test_will_not_sell_becomes_may_share(crawled_db: Path) -> None:
    result = run_policytrail(
        "diff",
        "privacy",
        "--from",
        "2014-12",
        "--to",
        "2015-12",
        "--format",
        "json",
        db=crawled_db,
    )
    changes = json.loads(result.stdout)["changes"]
    assert [c["kind"] for c in changes] == ["modified"]
    deleted = " ".join(text for op, text in changes[0]["diff"] if op == -1)
    inserted = " ".join(text for op, text in changes[0]["diff"] if op == 1)
    assert "will not sell" in deleted.replace("  ", " ") or "not sell" in deleted
    assert "share" in inserted


def test_crawling_again_adds_nothing(crawled_copy: Path, sample_archive: str) -> None:
    before = table_rows(crawled_copy)
    result = run_policytrail("crawl", "--archive", sample_archive, "--no-limits", db=crawled_copy)
    assert result.returncode == 0, result.stderr
    assert table_rows(crawled_copy) == before


def test_an_unreachable_archive_is_one_line_and_exit_1(crawled_copy: Path) -> None:
    from archive import free_port

    archive = f"http://127.0.0.1:{free_port()}/web"
    result = run_policytrail("crawl", "--archive", archive, db=crawled_copy)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("Error: cannot reach the archive")
