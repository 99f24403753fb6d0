"""The crawler against a fault-injecting archive: every fault ends stored or recorded as failed."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from conftest import run_policytrail
from fault_archive import Capture, Fault, FaultArchive

URL = "http://www.faulty.example/privacy"
#: Small pauses and backoffs, so faults take seconds, not minutes.
FAST = {
    "ARCHIVE_429_PAUSE": "1.5",
    "RETRY_BACKOFF_BASE": "0.3",
    "DOWNLOAD_TIMEOUT": "2",
    "RETRY_TIMES": "2",
}


def page(n: int) -> bytes:
    """A small policy page, different for each n."""
    return (
        f"<html><head><title>Privacy</title></head><body><main><h1>Privacy policy</h1>"
        f"<p>Version {n}: we keep your order history for {n + 1} years, and then delete it "
        f"from our systems, including from the backups that we make every night.</p>"
        f"<h2>Sharing</h2><p>We never sell your personal information. We pass your address "
        f"to the courier who delivers your order and nothing else to anyone.</p>"
        f"<h2>Contact</h2><p>Write to privacy@faulty.example with any question about this "
        f"policy, and we will answer within a month.</p></main></body></html>"
    ).encode()


def policy_archive(count: int) -> FaultArchive:
    """A started fault archive holding ``count`` yearly captures (from 2010) of one policy,
    each worded differently."""
    return FaultArchive(
        captures=[Capture(URL, f"20{10 + n}0101000000", page(n)) for n in range(count)]
    ).start()


def tracking_db(path: Path) -> Path:
    """A database at ``path`` tracking the faulty policy."""
    assert run_policytrail("add", URL, "--name", "faulty", db=path).returncode == 0
    return path


@pytest.fixture
def archive() -> Iterator[FaultArchive]:
    """A fault archive holding four captures of one policy."""
    server = policy_archive(4)
    yield server
    server.stop()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database tracking the faulty policy."""
    return tracking_db(tmp_path / "faults.db")


def crawl(db: Path, archive: FaultArchive, **settings: str) -> tuple[int, dict]:
    """Crawl the fault archive with fast fault settings; return exit code and summary."""
    args = ["crawl", "--archive", archive.url, "--json"]
    for name, value in {**FAST, **settings}.items():
        args += ["-s", f"{name}={value}"]
    result = run_policytrail(*args, db=db)
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


def captures(db: Path) -> list[dict]:
    """The stored captures in timestamp order."""
    return list(sqlite_utils.Database(db).query("SELECT * FROM captures ORDER BY timestamp"))


def assert_complete(db: Path, archive: FaultArchive) -> None:
    """Every capture of the archive stored exactly once as a version."""
    rows = captures(db)
    assert [r["timestamp"] for r in rows] == sorted(c.timestamp for c in archive.captures)
    assert {r["outcome"] for r in rows} == {"version"}


def test_a_clean_crawl_respects_the_capture_rate(db: Path, archive: FaultArchive) -> None:
    code, summary = crawl(db, archive, ARCHIVE_CAPTURES_PER_SECOND="4")
    assert code == 0
    assert summary["fetched"] == 4
    assert_complete(db, archive)
    times = [hit.at for hit in archive.hits() if hit.target != "cdx"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.2  # 4 a second, with a little clock slack


def test_cdx_queries_have_their_own_bucket(db: Path, archive: FaultArchive) -> None:
    archive.captures.append(Capture(URL, "20150101000000", b"", status=301, location=URL + "2"))
    archive.captures.append(Capture(URL + "2", "20150102000000", page(9)))
    code, _ = crawl(db, archive, ARCHIVE_CDX_PER_MINUTE="60", ARCHIVE_CAPTURES_PER_SECOND="0")
    assert code == 0
    cdx = [hit.at for hit in archive.hits("cdx")]
    assert len(cdx) == 2
    assert cdx[1] - cdx[0] >= 0.95  # one a second, though captures went unthrottled


def test_a_429_pauses_every_request_for_retry_after(db: Path, archive: FaultArchive) -> None:
    archive.add_fault("20110101000000", Fault(status=429, retry_after="2"))
    code, summary = crawl(db, archive, ARCHIVE_CONCURRENCY="4")
    assert code == 0
    assert summary["429_pauses"] == 1
    assert_complete(db, archive)
    hits = archive.hits()
    refused = next(hit for hit in hits if hit.answered == "429")
    after = [hit for hit in hits if hit.at > refused.at]
    assert after, "the crawl went on after the pause"
    assert min(hit.at for hit in after) - refused.at >= 1.9


def test_429s_without_retry_after_pause_longer_each_time(db: Path, archive: FaultArchive) -> None:
    archive.add_fault("20100101000000", Fault(status=429), Fault(status=429))
    code, summary = crawl(db, archive)
    assert code == 0
    assert summary["429_pauses"] == 2
    assert_complete(db, archive)
    hits = archive.hits()
    first, second = (hit for hit in hits if hit.answered == "429")
    retry = next(hit for hit in hits if hit.at > second.at)
    assert second.at - first.at >= 1.45  # the base pause
    assert retry.at - second.at >= 2.9  # doubled
    between = [hit for hit in hits if first.at < hit.at < second.at]
    assert between == [] or all(hit.at - first.at >= 1.45 for hit in between)


def test_5xx_resets_and_truncated_bodies_are_retried_with_backoff(
    db: Path, archive: FaultArchive
) -> None:
    archive.add_fault("20100101000000", Fault(status=503), Fault(status=502))
    archive.add_fault("20110101000000", Fault(reset=True))
    archive.add_fault("20120101000000", Fault(truncate=True))
    code, _ = crawl(db, archive)
    assert code == 0
    assert_complete(db, archive)
    tries = [hit.at for hit in archive.hits("20100101000000")]
    assert len(tries) == 3
    assert tries[1] - tries[0] >= 0.3 and tries[2] - tries[1] >= 0.6
    stored = {r["timestamp"]: r for r in captures(db)}
    body = (
        sqlite_utils.Database(db)
        .execute(
            "SELECT size FROM raw_captures WHERE capture_id = ?", [stored["20120101000000"]["id"]]
        )
        .fetchone()[0]
    )
    assert body == len(page(2))  # the whole body, not the truncated one


def test_a_capture_that_keeps_failing_is_recorded_then_fetched_next_run(
    db: Path, archive: FaultArchive
) -> None:
    archive.add_fault("20120101000000", *[Fault(status=503)] * 3)
    code, summary = crawl(db, archive)
    assert code == 1
    assert summary["outcome/failed"] == 1
    failed = [r for r in captures(db) if r["outcome"] == "failed"]
    assert [(r["timestamp"], r["reason"]) for r in failed] == [
        ("20120101000000", "archive answered HTTP 503")
    ]
    run = sqlite_utils.Database(db).table("runs").get(1)
    assert json.loads(run["failures"]) == {"archive answered HTTP 503": 1}
    code, summary = crawl(db, archive)
    assert code == 0
    assert_complete(db, archive)
    second_run = [hit for hit in archive.hits() if hit.target == "20120101000000"]
    assert len(second_run) == 4  # three tries in the first run, one in the second
    assert [hit.target for hit in archive.hits()].count("20100101000000") == 1


def test_timeouts_end_as_failed_with_their_reason(db: Path, archive: FaultArchive) -> None:
    archive.add_fault("20130101000000", *[Fault(delay=3)] * 3)
    code, _ = crawl(db, archive, DOWNLOAD_TIMEOUT="1")
    assert code == 1
    (failed,) = [r for r in captures(db) if r["outcome"] == "failed"]
    assert failed["timestamp"] == "20130101000000"
    assert "Timeout" in failed["reason"] or "timed out" in failed["reason"]
    assert len(captures(db)) == 4


def test_malformed_cdx_rows_are_skipped_and_counted(db: Path, archive: FaultArchive) -> None:
    archive.add_fault("cdx", Fault(malformed_rows=2))
    code, summary = crawl(db, archive)
    assert code == 0
    assert summary["cdx_malformed"] == 3
    assert_complete(db, archive)


def test_large_results_are_paged_with_resume_keys(db: Path, archive: FaultArchive) -> None:
    archive.captures += [Capture(URL, f"20{14 + n}0601000000", page(10 + n)) for n in range(5)]
    code, summary = crawl(db, archive, CDX_PAGE_SIZE="4")
    assert code == 0
    assert summary["listed"] == 9
    assert len(archive.hits("cdx")) == 3
    assert "resumeKey=4" in archive.hits("cdx")[1].path
    assert_complete(db, archive)


def test_revisits_and_repeated_digests_are_not_fetched(db: Path, archive: FaultArchive) -> None:
    first = archive.captures[0]
    digest = first.row()[5]
    archive.captures.append(
        Capture(URL, "20100601000000", b"", mimetype="warc/revisit", digest=digest)
    )
    archive.captures.append(Capture(URL, "20100701000000", first.body))
    code, summary = crawl(db, archive)
    assert code == 0
    assert summary["outcome/copy"] == 2
    assert archive.hits("20100601000000") == archive.hits("20100701000000") == []
    rows = {r["timestamp"]: r for r in captures(db)}
    assert rows["20100601000000"]["version_id"] == rows["20100101000000"]["version_id"]
    assert rows["20100701000000"]["version_id"] == rows["20100101000000"]["version_id"]


def test_bodies_over_the_size_cap_are_recorded_as_too_large(
    db: Path, archive: FaultArchive
) -> None:
    archive.captures[1].body = page(1) + b"<!-- " + b"x" * 5000 + b" -->"
    code, _ = crawl(db, archive, DOWNLOAD_MAXSIZE="3000")
    assert code == 0
    rows = {r["timestamp"]: r for r in captures(db)}
    assert rows["20110101000000"]["outcome"] == "not-a-version"
    assert rows["20110101000000"]["reason"] == "too large: over 3,000 bytes"
    assert len(archive.hits("20110101000000")) == 1


def test_a_second_run_lists_only_newer_captures(db: Path, archive: FaultArchive) -> None:
    assert crawl(db, archive)[0] == 0
    archive.captures.append(Capture(URL, "20200101000000", page(20)))
    code, summary = crawl(db, archive)
    assert code == 0
    assert "from=20130101000000" in archive.hits("cdx")[1].path
    assert (summary["listed"], summary["skipped"], summary["fetched"]) == (2, 1, 1)
    assert len(captures(db)) == 5


def test_every_half_year_keeps_one_capture_per_interval(db: Path, archive: FaultArchive) -> None:
    archive.captures = [
        Capture(URL, f"2019{month:02d}15000000", page(month)) for month in range(1, 13)
    ]
    result = run_policytrail(
        "crawl", "--archive", archive.url, "--every", "half-year", "--dry-run", "--json", db=db
    )
    assert result.returncode == 0, result.stderr
    (plan,) = json.loads(result.stdout)
    assert (plan["listed"], plan["to_fetch"], plan["requests"]) == (12, 2, 3)
    assert captures(db) == []
    assert [hit.target for hit in archive.hits()] == ["cdx"]
    result = run_policytrail("crawl", "--archive", archive.url, "--every", "half-year", db=db)
    assert result.returncode == 0, result.stderr
    assert [r["timestamp"] for r in captures(db)] == ["20190415000000", "20191015000000"]


def test_a_status_filter_lists_only_matching_captures(db: Path, archive: FaultArchive) -> None:
    archive.captures.append(Capture(URL, "20140101000000", b"gone", status=404))
    result = run_policytrail("crawl", "--archive", archive.url, "--status", "2..", "--json", db=db)
    assert result.returncode == 0, result.stderr
    assert "filter=statuscode%3A2.." in archive.hits("cdx")[0].path
    assert [r["status"] for r in captures(db)] == [200, 200, 200, 200]
    bad = run_policytrail("crawl", "--archive", archive.url, "--status", "2[", db=db)
    assert bad.returncode == 2
    assert "Invalid value for --status: not a regular expression" in bad.stderr


@pytest.mark.parametrize(
    "options",
    [["--from", "2012"], ["--to", "2011"], ["--every", "year"], ["--status", "2.."]],
)
def test_a_filtered_crawl_leaves_the_rest_for_a_plain_one(
    db: Path, archive: FaultArchive, options: list[str]
) -> None:
    archive.captures.append(Capture(URL, "20100601000000", page(7)))
    archive.captures.append(Capture(URL, "20140101000000", b"gone", status=404))
    result = run_policytrail("crawl", "--archive", archive.url, *options, db=db)
    assert result.returncode == 0, result.stderr
    assert len(captures(db)) < len(archive.captures)
    assert crawl(db, archive)[0] == 0
    stored = [row["timestamp"] for row in captures(db)]
    assert stored == sorted(capture.timestamp for capture in archive.captures)


def test_every_interval_keeps_one_capture_across_crawls(db: Path, archive: FaultArchive) -> None:
    archive.captures = [Capture(URL, f"2019{m:02d}15000000", page(m)) for m in range(1, 13)]
    every = ("crawl", "--archive", archive.url, "--every", "half-year")
    assert run_policytrail(*every, db=db).returncode == 0
    archive.captures.append(Capture(URL, "20190401000000", page(40)))
    assert run_policytrail(*every, db=db).returncode == 0
    assert [r["timestamp"] for r in captures(db)] == ["20190415000000", "20191015000000"]
