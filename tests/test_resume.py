"""A crawl killed with SIGKILL and started again: nothing lost, nothing duplicated."""

import os
import signal
import subprocess
import time
from pathlib import Path

import sqlite_utils
from archive import PywbArchive
from conftest import POLICYTRAIL, PRIVACY_URL, TERMS_URL, run_policytrail


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """The database's content, without ids and fetch times, comparable across databases."""
    database = sqlite_utils.Database(db)
    return {
        "captures": sorted(
            database.execute(
                "SELECT p.name, c.url, c.timestamp, c.status, c.outcome, c.reason, "
                "c.redirect_to, v.sha256 FROM captures c JOIN policies p ON p.id = c.policy_id "
                "LEFT JOIN versions v ON v.id = c.version_id"
            ).fetchall()
        ),
        "versions": sorted(
            database.execute(
                "SELECT sha256, first_seen, last_seen, capture_count FROM versions"
            ).fetchall()
        ),
        "revisions": sorted(
            database.execute(
                "SELECT r.date, v.sha256, r.added, r.removed, r.modified, r.moved "
                "FROM revisions r JOIN versions v ON v.id = r.to_version"
            ).fetchall()
        ),
        "clauses": [database.execute("SELECT count(*) FROM clauses").fetchone()],
        "changes": [database.execute("SELECT count(*) FROM changes").fetchone()],
    }


def stored_fetches(db: Path) -> set[str]:
    """The capture paths whose bytes are stored."""
    rows = sqlite_utils.Database(db).execute(
        "SELECT c.timestamp, c.url FROM captures c JOIN raw_captures r ON r.capture_id = c.id"
    )
    return {f"{timestamp}id_/{url}" for timestamp, url in rows}


def test_a_killed_crawl_resumes_without_loss_or_duplicates(
    pywb: PywbArchive, crawled_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "killed.db"
    for args in (
        ("add", PRIVACY_URL, "--name", "privacy"),
        ("add", TERMS_URL, "--name", "terms", "--kind", "terms"),
    ):
        assert run_policytrail(*args, db=db).returncode == 0
    crawl = subprocess.Popen(
        [
            str(POLICYTRAIL),
            "crawl",
            "--archive",
            pywb.url,
            "--captures-per-second",
            "3",
            "--cdx-per-minute",
            "0",
        ],
        env={**os.environ, "POLICYTRAIL_DB": str(db)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and crawl.poll() is None:
        if db.exists() and len(stored_fetches(db)) >= 5:
            break
        time.sleep(0.05)
    assert crawl.poll() is None, "the crawl ended before it could be killed"
    crawl.send_signal(signal.SIGKILL)
    crawl.wait()
    before_restart = stored_fetches(db)
    assert 5 <= len(before_restart) < len(stored_fetches(crawled_db))
    requests_so_far = len(pywb.requests())

    result = run_policytrail("crawl", "--archive", pywb.url, "--no-limits", db=db)
    assert result.returncode == 0, result.stderr

    assert snapshot(db) == snapshot(crawled_db)
    refetched = [
        request
        for request in pywb.requests()[requests_so_far:]
        if any(request.endswith(path) for path in before_restart)
    ]
    assert refetched == []
    statuses = [row["status"] for row in sqlite_utils.Database(db).table("runs").rows]
    assert statuses == ["interrupted", "finished"]
