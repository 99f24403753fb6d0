"""A crawl spread over workers through a real Redis, with one writer into SQLite.

Workers run as ``scrapy crawl wayback -s REDIS_URL=...`` (what ``policytrail crawl --redis``
runs) and the writer as the ``policytrail ingest`` command, each in its own process.
"""

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlite_utils
from archive import PywbArchive, free_port
from conftest import PRIVACY_URL, TERMS_URL, run_policytrail
from fault_archive import Capture, FaultArchive
from test_crawl_faults import page
from test_resume import snapshot, stored_fetches

from crawler.items import CaptureItem
from crawler.limits import Rate, RedisLimits
from crawler.redis_run import LOST, RunKeys
from crawler.serialize import dumps, item_from_json, item_to_json, loads

ROOT = Path(__file__).resolve().parent.parent
SCRAPY = Path(sys.executable).parent / "scrapy"
UNLIMITED = {"ARCHIVE_CDX_PER_MINUTE": "0", "ARCHIVE_CAPTURES_PER_SECOND": "0"}
#: Workers given up for gone after 2 s without a heartbeat.
FAST = {"REDIS_WORKER_TTL": "2", "REDIS_IDLE_POLL": "0.2", "LOG_LEVEL": "INFO"}
KEYS = RunKeys("wayback")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (run: make system-deps)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis server, emptied for this test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


def start_crawl(
    redis_url: str, *args: str, db: Path | None = None, **settings: str
) -> subprocess.Popen:
    """Start ``scrapy crawl wayback`` on the shared run: a seeder with a database, else a
    worker."""
    command = [str(SCRAPY), "crawl", "wayback", "-s", f"REDIS_URL={redis_url}"]
    if db is None:
        command += ["-a", "worker=1"]
    else:
        command += ["-s", f"POLICYTRAIL_DB={db}"]
    for name, value in {**FAST, **settings}.items():
        command += ["-s", f"{name}={value}"]
    return subprocess.Popen(
        [*command, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def start_ingest(redis_url: str, db: Path) -> subprocess.Popen:
    """Start the ``policytrail ingest`` command (its click command, in its own process)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tracker.ingest import ingest; ingest()",
            "--redis",
            redis_url,
            "--db",
            str(db),
            "--json",
            "--wait",
            "60",
        ],  # fmt: skip
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 90) -> tuple[int, str]:
    """Wait for a process; return its exit code and standard error."""
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def fetched(stderr: str) -> int:
    """How many captures a crawl process fetched, from Scrapy's closing statistics."""
    found = re.search(r"'policytrail/fetched': (\d+)", stderr)
    return int(found.group(1)) if found else 0


def new_policy_db(path: Path) -> Path:
    """A database tracking the sample site's two policies, not crawled yet."""
    for args in (
        ("add", PRIVACY_URL, "--name", "privacy"),
        ("add", TERMS_URL, "--name", "terms", "--kind", "terms"),
    ):
        assert run_policytrail(*args, db=path).returncode == 0
    return path


def test_three_workers_store_exactly_what_one_process_stores(
    pywb: PywbArchive, crawled_db: Path, redis_url: str, tmp_path: Path
) -> None:
    db = new_policy_db(tmp_path / "shared.db")
    ingest = start_ingest(redis_url, db)
    # Workers first: they wait for the run; a rate shares the captures out among them.
    workers = [start_crawl(redis_url) for _ in range(2)]
    seeder = start_crawl(
        redis_url, "-a", f"archive={pywb.url}", db=db,
        ARCHIVE_CAPTURES_PER_SECOND="15", ARCHIVE_CDX_PER_MINUTE="0",
    )  # fmt: skip
    results = [finish(process) for process in (seeder, *workers)]
    assert [code for code, _ in results] == [0, 0, 0], [err[-3000:] for _, err in results]
    code, _ = finish(ingest)
    assert code == 0, ingest.stderr

    assert snapshot(db) == snapshot(crawled_db)
    assert stored_fetches(db) == stored_fetches(crawled_db)
    shares = [fetched(stderr) for _, stderr in results]
    assert sum(shares) == len(stored_fetches(crawled_db))
    assert sum(1 for share in shares if share) >= 2, shares  # the work was shared out
    database = sqlite_utils.Database(db)
    assert [row["status"] for row in database.table("runs").rows] == ["finished"]
    marks = {row["url"]: row["listed_until"] for row in database.table("policy_urls").rows}
    expected = sqlite_utils.Database(crawled_db).table("policy_urls").rows
    assert marks == {row["url"]: row["listed_until"] for row in expected}
    assert redis.Redis.from_url(redis_url).hget(KEYS.run, "state") == b"finished"

    # Crawled again through Redis, nothing is fetched and nothing changes.
    requests_before = len(pywb.requests())
    ingest = start_ingest(redis_url, db)
    seeder = start_crawl(redis_url, "-a", f"archive={pywb.url}", db=db, **UNLIMITED)
    assert finish(seeder)[0] == 0
    assert finish(ingest)[0] == 0
    assert snapshot(db) == snapshot(crawled_db)
    assert not [r for r in pywb.requests()[requests_before:] if "id_/" in r]


def test_a_killed_worker_loses_nothing(
    pywb: PywbArchive, crawled_db: Path, redis_url: str, tmp_path: Path
) -> None:
    db = new_policy_db(tmp_path / "killed.db")
    server = redis.Redis.from_url(redis_url)
    ingest = start_ingest(redis_url, db)
    rate = {"ARCHIVE_CAPTURES_PER_SECOND": "4", "ARCHIVE_CDX_PER_MINUTE": "0"}
    victim = start_crawl(redis_url, **rate)
    survivor = start_crawl(redis_url, **rate)
    seeder = start_crawl(redis_url, "-a", f"archive={pywb.url}", db=db, **rate)
    victim_key = KEYS.worker(f"{socket.gethostname()}:{victim.pid}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = len(stored_fetches(db)) if db.exists() else 0
        holding = int(server.get(victim_key) or 0)
        if stored >= 3 and holding and server.zcard(KEYS.requests):
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the worker ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert finish(seeder)[0] == 0
    assert finish(survivor)[0] == 0
    finish(ingest)

    # Every capture the run took on is stored, or recorded as failed for the next crawl.
    database = sqlite_utils.Database(db)
    lost = [row for row in database.table("captures").rows if row["reason"] == LOST]
    assert all(row["outcome"] == "failed" for row in lost)
    assert server.hlen(KEYS.key("pending")) == 0
    assert lost, "the killed worker held captures"
    (run,) = database.table("runs").rows
    assert run["status"] == "incomplete"
    assert json.loads(run["failures"]) == {"lost": len(lost)}
    # Nothing is marked as listed: the next crawl lists everything again.
    assert {row["listed_until"] for row in database.table("policy_urls").rows} == {None}
    before_next = stored_fetches(db)
    requests_so_far = len(pywb.requests())

    result = run_policytrail("crawl", "--archive", pywb.url, "--no-limits", db=db)
    assert result.returncode == 0, result.stderr
    assert snapshot(db) == snapshot(crawled_db)
    again = [
        r for r in pywb.requests()[requests_so_far:] if any(r.endswith(p) for p in before_next)
    ]
    assert again == []


def test_workers_share_one_rate_limit(redis_url: str, tmp_path: Path) -> None:
    url = "http://www.rated.example/privacy"
    archive = FaultArchive(
        captures=[
            Capture(url, f"20{10 + n // 12:02d}{n % 12 + 1:02d}01000000", page(n))
            for n in range(20)
        ]  # fmt: skip
    ).start()
    try:
        db = tmp_path / "rated.db"
        assert run_policytrail("add", url, "--name", "rated", db=db).returncode == 0
        ingest = start_ingest(redis_url, db)
        rate = {"ARCHIVE_CAPTURES_PER_SECOND": "5", "ARCHIVE_CDX_PER_MINUTE": "0"}
        workers = [start_crawl(redis_url, **rate) for _ in range(2)]
        seeder = start_crawl(redis_url, "-a", f"archive={archive.url}", db=db, **rate)
        results = [finish(process) for process in (seeder, *workers)]
        assert [code for code, _ in results] == [0, 0, 0]
        assert finish(ingest)[0] == 0
        times = sorted(hit.at for hit in archive.hits() if hit.target != "cdx")
    finally:
        archive.stop()
    assert len(times) == 20
    assert sum(1 for _, stderr in results if fetched(stderr)) >= 2  # all shared one bucket
    # A bucket of 5 a second with a burst of 1: any n requests span at least (n - 1) / 5 s,
    # less a little for the time between a token and the request's arrival.
    for first in range(len(times)):
        for last in range(first + 1, len(times)):
            assert times[last] - times[first] >= (last - first) / 5 - 0.1, (first, last)


def test_redis_limits_are_one_bucket_and_one_pause_for_every_worker(redis_url: str) -> None:
    server = redis.Redis.from_url(redis_url)
    ten = Rate(10.0)
    workers = [RedisLimits(server, lambda host, kind: ten, prefix="test") for _ in range(3)]
    waits = [workers[n % 3].reserve("archive.example", "capture") for n in range(6)]
    assert waits[0] == 0
    for before, after in zip(waits, waits[1:], strict=False):
        assert after == pytest.approx(before + 0.1, abs=0.02)
    assert workers[0].reserve("archive.example", "cdx") == 0  # a bucket per kind
    # A rate the seeder publishes wins over each worker's own.
    workers[0].publish("other.example", "capture", Rate(0.5))
    assert workers[1].reserve("other.example", "capture") == 0
    assert workers[2].reserve("other.example", "capture") == pytest.approx(2.0, abs=0.02)
    workers[0].pause("archive.example", 2.0)
    workers[1].pause("archive.example", 0.5)  # never shortens a pause
    assert 1.8 < workers[2].pause_left("archive.example") <= 2.0
    assert workers[2].pause_left("other.example") == 0


def test_requests_and_items_cross_redis_as_json_not_pickle() -> None:
    capture = CaptureItem(
        policy_id=3, url="http://www.example.com/privacy", timestamp="20200101000000",
        outcome="version", status=200, digest="ABC", body=bytes(range(256)),
        headers={"Content-Type": "text/html; charset=windows-1252"},
    )  # fmt: skip
    request = {
        "url": "http://a/web/2020id_/x",
        "body": b"",
        "headers": {b"Accept": [b"*/*"]},
        "cb_kwargs": {"capture": capture},
        "meta": {"policytrail_kind": "capture"},
    }
    encoded = dumps(request)
    assert b"pickle" not in encoded and encoded.startswith(b"{")
    decoded = loads(encoded)
    assert decoded["cb_kwargs"]["capture"] == capture
    assert decoded["headers"] == {"Accept": [b"*/*"]}
    assert item_from_json(item_to_json(capture)) == capture
    with pytest.raises(ValueError):
        item_from_json('{"url": "not a capture"}')


def test_a_worker_needs_a_run_to_join(redis_url: str) -> None:
    worker = start_crawl(redis_url, REDIS_JOIN_WAIT="1")
    code, stderr = finish(worker, timeout=60)
    assert code == 1
    assert "no crawl to join" in stderr
    assert redis.Redis.from_url(redis_url).scard(KEYS.key("workers")) == 0


def test_a_second_seeder_does_not_reset_a_run_in_progress(redis_url: str, tmp_path: Path) -> None:
    server = redis.Redis.from_url(redis_url)
    server.hset(KEYS.run, mapping={"id": "x", "state": "running", "seeded": "1", "config": "{}"})
    server.sadd(KEYS.key("workers"), "elsewhere:1")
    server.set(KEYS.worker("elsewhere:1"), 1, px=5000)
    db = new_policy_db(tmp_path / "busy.db")
    code, stderr = finish(start_crawl(redis_url, "-a", "archive=http://127.0.0.1:9/web", db=db))
    assert code == 1
    assert "a crawl is still running on this Redis" in stderr
    assert server.hget(KEYS.run, "id") == b"x"
