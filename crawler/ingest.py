"""The single writer of a crawl shared through Redis: store what the workers send.

Workers (``policytrail crawl --redis URL``) push capture items to a Redis list; :func:`ingest`
(``policytrail ingest --redis URL``) takes them in order and stores them with
:class:`~crawler.pipelines.CaptureRecorder`, the same code a one-process crawl stores with, so
SQLite only ever has one writer. When the run is over it settles what is left: captures whose
worker vanished are recorded as failed (the next crawl fetches them), the crawled policies are
brought up to date, and the run is recorded in the ``runs`` table. Only a run that lost nothing
marks how far each policy URL was listed.

Only one writer at a time: it holds a lock in Redis, refreshed by a background thread, so a
new run cannot begin while it stores.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from crawler.items import CaptureItem
from crawler.pipelines import CaptureRecorder
from crawler.redis_run import LOST, NoRunToJoin, RedisCrawlState, RedisRun
from crawler.serialize import item_from_json
from db import Store

logger = logging.getLogger(__name__)


class IngestBusy(Exception):
    """Another writer is storing this Redis's crawl; the message is meant for people."""


@dataclass
class IngestResult:
    """What the writer stored, and how the run ended (its ``runs`` row's status)."""

    run_id: str
    status: str
    stored: int
    lost: int
    stats: dict[str, int] = field(default_factory=dict)

    def count(self, name: str) -> int:
        """One of the run's statistics (``listed``, ``fetched``, ``outcome/failed``...)."""
        return int(self.stats.get(name, 0))


class _Lock:
    """The writer's lock in Redis, kept alive by a thread while the writer works."""

    def __init__(self, server: redis.Redis, key: str, ttl: float) -> None:
        self.server = server
        self.key = key
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.token = uuid.uuid4().hex
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._keep, daemon=True)

    def __enter__(self) -> "_Lock":
        if not self.server.set(self.key, self.token, nx=True, px=self.ttl_ms):
            raise IngestBusy("another policytrail ingest is storing this crawl")
        self.thread.start()
        return self

    def _keep(self) -> None:
        while not self.stopped.wait(self.ttl_ms / 3000):
            self.server.pexpire(self.key, self.ttl_ms)

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()
        if self.server.get(self.key) == self.token.encode():
            self.server.delete(self.key)


def ingest(
    db_path: str,
    redis_url: str,
    *,
    wait: float = 600.0,
    poll: float = 0.2,
    batch: int = 200,
    lock_ttl: float = 30.0,
    on_stored: Callable[[int], None] | None = None,
) -> IngestResult:
    """Store the items of the crawl running on ``redis_url`` in the database until it is over.

    Wait up to ``wait`` seconds for a run to begin (:class:`~crawler.redis_run.NoRunToJoin`
    if none does). ``on_stored`` is called with the number of captures stored so far after each
    batch. Return what was stored and how the run ended: ``finished``, ``incomplete`` (a
    worker vanished with captures: they are recorded as failed) or ``failed`` (CDX queries
    failed).
    """
    run = RedisRun.from_url(redis_url)
    state = RedisCrawlState(run)
    with _Lock(run.server, run.keys.key("ingest"), lock_ttl):
        status = run.status()
        deadline = time.monotonic() + wait
        while status.state != "running":
            if time.monotonic() >= deadline:
                raise NoRunToJoin(
                    f"no crawl to store after {wait:.0f} s: start one with policytrail crawl "
                    "--redis URL"
                )
            time.sleep(poll)
            status = run.status()
        store = Store(db_path)
        try:
            writer = _Writer(run, state, CaptureRecorder(store), batch, on_stored)
            writer.recorder.start_run(run.config().get("archive", ""))
            while True:
                over = run.status().over
                stored = writer.drain()
                if over:
                    break
                if not stored:
                    time.sleep(poll)
            return writer.finish(status.run_id)
        finally:
            store.close()


class _Writer:
    """Stores items from the run's list in order, then settles the run."""

    def __init__(
        self,
        run: RedisRun,
        state: RedisCrawlState,
        recorder: CaptureRecorder,
        batch: int,
        on_stored: Callable[[int], None] | None,
    ) -> None:
        self.run = run
        self.state = state
        self.recorder = recorder
        self.batch = batch
        self.on_stored = on_stored
        self.stored = 0

    def drain(self) -> int:
        """Store every item queued now; return how many.

        A copy whose twin is not stored yet (sent by another worker, still on its way) stays
        pending: it is stored when the run is settled.
        """
        total = 0
        key = self.run.keys.items
        while batch := self.run.server.lrange(key, 0, self.batch - 1):
            items = [item_from_json(data) for data in batch]
            saved = [item for item in items if not self.recorder.is_orphan_copy(item)]
            self._save(saved)
            self.run.server.ltrim(key, len(batch), -1)
            self.state.stored(saved)
            total += len(batch)
        return total

    def _save(self, items: list[CaptureItem]) -> None:
        """Store captures and count their outcomes in the run."""
        outcomes: dict[str, int] = {}
        for item in items:
            outcome = self.recorder.save(item)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for outcome, count in outcomes.items():
            self.run.count(f"outcome/{outcome}", count)
        self.stored += len(items)
        if self.on_stored and items:
            self.on_stored(self.stored)

    def finish(self, run_id: str) -> IngestResult:
        """Settle the run: pending captures are copies of stored bytes or lost; record it."""
        pending = self.state.pending()
        lost = [
            replace(capture, outcome="failed", reason=LOST)
            for capture in pending
            if self.recorder.is_orphan_copy(capture)
        ]
        lost_keys = {(c.policy_id, c.url, c.timestamp) for c in lost}
        copies = [c for c in pending if (c.policy_id, c.url, c.timestamp) not in lost_keys]
        self._save(copies + lost)
        self.state.stored(pending)
        if lost:
            logger.warning("%d captures were lost with a worker: recorded as failed", len(lost))
        stats = self.run.stats()
        summary: dict[str, Any] = self.recorder.finish(
            reason="incomplete" if lost else "finished",
            policy_ids=self.state.policy_ids(),
            completed_listings=self.state.completed_listings(),
            counts=stats,
        )
        status = "failed" if stats.get("cdx_failed") else "incomplete" if lost else "finished"
        stats = {**stats, **summary}
        self.run.finish(run_id, {"status": status, "lost": len(lost), **stats})
        return IngestResult(run_id, status, self.stored, len(lost), stats)
