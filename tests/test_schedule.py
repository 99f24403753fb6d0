"""Unattended crawls: the crawl lock, cron schedules, deadlines and webhook notifications."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils
from conftest import run_policytrail
from fault_archive import Fault, FaultArchive
from test_crawl_faults import policy_archive, tracking_db

from tracker.schedule import CrawlLock, ScheduleError, check_schedule


@pytest.fixture
def archive() -> Iterator[FaultArchive]:
    """A fault archive holding three captures of one policy, each reworded."""
    server = policy_archive(3)
    yield server
    server.stop()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database tracking the fault archive's policy."""
    return tracking_db(tmp_path / "schedule.db")


def runs(db: Path) -> list[dict]:
    """The runs table."""
    return list(sqlite_utils.Database(db).table("runs").rows_where(order_by="id"))


def test_a_second_crawl_on_the_same_database_is_refused(db: Path, archive: FaultArchive) -> None:
    with CrawlLock(db):
        result = run_policytrail("crawl", "--archive", archive.url, db=db)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: another crawl is running on this database")
    assert archive.hits() == []
    assert run_policytrail("crawl", "--archive", archive.url, db=db).returncode == 0


def test_cron_schedules_are_checked() -> None:
    assert check_schedule("0 3 * * *") == "0 3 * * *"
    with pytest.raises(ScheduleError, match="not a cron schedule"):
        check_schedule("every night")


def test_a_schedule_runs_crawls_one_after_another(db: Path, archive: FaultArchive) -> None:
    result = run_policytrail(
        "crawl",
        "--archive",
        archive.url,
        "--schedule",
        "* * * * * */2",
        "--max-runs",
        "2",
        "--json",
        db=db,
    )
    assert result.returncode == 0, result.stderr
    first, second = runs(db)
    assert (first["status"], second["status"]) == ("finished", "finished")
    assert second["started_at"] >= first["ended_at"]
    assert (first["fetched"], second["fetched"], second["skipped"]) == (3, 0, 1)


def test_a_crawl_past_its_deadline_stops_and_the_next_goes_on(
    db: Path, archive: FaultArchive
) -> None:
    for capture in archive.captures[1:]:
        archive.add_fault(capture.timestamp, Fault(delay=4))
    result = run_policytrail("crawl", "--archive", archive.url, "--deadline", "1.5", db=db)
    assert result.returncode == 1
    assert "stopped at its deadline" in result.stderr
    assert runs(db)[0]["status"] == "closespider_timeout"
    result = run_policytrail("crawl", "--archive", archive.url, db=db)
    assert result.returncode == 0, result.stderr
    stored = sqlite_utils.Database(db).execute("SELECT count(*) FROM captures").fetchone()[0]
    assert stored == 3


def test_new_changes_are_posted_to_a_webhook(db: Path, archive: FaultArchive) -> None:
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        result = run_policytrail("crawl", "--archive", archive.url, "--notify", hook, db=db)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    (payload,) = received
    assert payload["run"]["status"] == "finished"
    revisions = payload["revisions"]
    assert [r["date"][:4] for r in revisions] == ["2011", "2012"]
    assert all(r["policy"] == "faulty" for r in revisions)
    assert revisions[0]["changes"][0]["kind"] == "modified"


def test_an_unreachable_webhook_is_an_error(db: Path, archive: FaultArchive) -> None:
    result = run_policytrail(
        "crawl", "--archive", archive.url, "--notify", "http://127.0.0.1:9/nothing", db=db
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: could not notify http://127.0.0.1:9/nothing")
