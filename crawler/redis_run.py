"""A crawl shared by workers on many machines, through Redis (with scrapy-redis).

With the ``REDIS_URL`` setting (``policytrail crawl --redis URL``), :class:`RedisAddon` turns
the ``wayback`` crawl into one of many processes that share one run:

- requests go through one scrapy-redis queue (and its dupefilter), popped by whichever worker
  is free; the queue is :class:`TrackedQueue`, which counts what each worker has popped;
- the crawl's memory (settled captures, fetched digests, open listings, counts) is kept in
  Redis by :class:`RedisCrawlState`, so every worker decides as one process would;
- items go to a Redis list (:class:`RedisItemPipeline`, JSON with raw bodies in base64), from
  which one writer, :func:`crawler.ingest.ingest`, stores them in SQLite;
- rate limits and 429 pauses are kept in Redis (:class:`crawler.limits.RedisLimits`), so the
  workers behind one IP stay within the archive's limits together.

One process, the *seeder*, has the database: it starts the run (:meth:`RedisRun.begin`) and
seeds it with what the database knows, then works like the others. *Workers* (``-a worker=1``)
join the run (:meth:`RedisRun.join`) and take its arguments from it.

A run is over when it is seeded, its queue is empty and no live worker holds a request. Each
worker refreshes a heartbeat key holding how many requests it has popped since it was last
idle; the pop and the count change together in one Lua script, so no request is ever outside
both the queue and a count. A worker whose heartbeat lapses (killed, even with SIGKILL) is no
longer waited for: the captures it held stay in the run's ``pending`` hash, and the writer
records them as failed, to be fetched by the next crawl.
"""

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

import redis
from scrapy.crawler import Crawler
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from scrapy.spiders import Spider
from scrapy_redis import connection
from scrapy_redis.pipelines import RedisPipeline
from scrapy_redis.queue import PriorityQueue

from crawler.items import CaptureItem
from crawler.serialize import item_from_json, item_to_json
from crawler.state import Listing, Route

#: Settings for a crawl shared through Redis, applied by :class:`RedisAddon`.
REDIS_SETTINGS: dict[str, Any] = {
    "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
    "SCHEDULER_QUEUE_CLASS": "crawler.redis_run.TrackedQueue",
    "SCHEDULER_QUEUE_KEY": "policytrail:%(spider)s:requests",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    "SCHEDULER_DUPEFILTER_KEY": "policytrail:%(spider)s:dupefilter",
    "SCHEDULER_SERIALIZER": "crawler.serialize",
    # The run outlives each worker: no worker may flush the queue when it stops.
    "SCHEDULER_PERSIST": True,
    "REDIS_ITEMS_KEY": "policytrail:%(spider)s:items",
    #: Seconds without a heartbeat after which a worker counts as gone.
    "REDIS_WORKER_TTL": 30.0,
    #: Seconds a worker waits for a run to join.
    "REDIS_JOIN_WAIT": 120.0,
    #: Seconds between looks at the queue while a worker is idle.
    "REDIS_IDLE_POLL": 0.5,
}

#: The reason given for captures that a worker took and then vanished with.
LOST = "lost: the crawl worker handling it stopped; the next crawl fetches it"


class RunInProgress(Exception):
    """Another run is still going on this Redis; the message is meant for people."""


class NoRunToJoin(Exception):
    """No run appeared for a worker to join; the message is meant for people."""


def worker_name() -> str:
    """This process's name among workers: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _text(value: bytes | str) -> str:
    """A Redis answer as text."""
    return value.decode() if isinstance(value, bytes) else value


def _member(*parts: object) -> str:
    """A Redis set member or hash field made of parts (URLs hold no tabs)."""
    return "\t".join(str(part) for part in parts)


@dataclass(frozen=True)
class RunKeys:
    """The Redis keys of the run of one spider (``policytrail:wayback:...``)."""

    spider: str = "wayback"

    def key(self, name: str) -> str:
        """A key of the run."""
        return f"policytrail:{self.spider}:{name}"

    def worker(self, worker_id: str) -> str:
        """The heartbeat key of one worker."""
        return self.key(f"worker:{worker_id}")

    @property
    def run(self) -> str:
        """Hash: ``id``, ``state`` (``running``/``finished``), ``seeded``, ``config``."""
        return self.key("run")

    @property
    def requests(self) -> str:
        """The scrapy-redis queue (see ``SCHEDULER_QUEUE_KEY``)."""
        return REDIS_SETTINGS["SCHEDULER_QUEUE_KEY"] % {"spider": self.spider}

    @property
    def dupefilter(self) -> str:
        """The scrapy-redis dupefilter (see ``SCHEDULER_DUPEFILTER_KEY``)."""
        return REDIS_SETTINGS["SCHEDULER_DUPEFILTER_KEY"] % {"spider": self.spider}

    @property
    def items(self) -> str:
        """List of items for the writer (see ``REDIS_ITEMS_KEY``)."""
        return REDIS_SETTINGS["REDIS_ITEMS_KEY"] % {"spider": self.spider}

    def run_keys(self) -> list[str]:
        """Every key that belongs to one run (deleted when the next run begins)."""
        names = (
            "run", "policies", "settled", "pending", "known", "waiting", "listed", "open",
            "listed_up_to", "stats",
        )  # fmt: skip
        return [self.key(name) for name in names] + [self.requests, self.dupefilter, self.items]


# Lua scripts: each runs atomically in Redis.

_BEGIN = """
-- KEYS: run, workers, ingest lock, then every key of a run; ARGV: prefix, worker, ttl ms,
-- run id, config json, started at
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'running' then
  for _, wid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    if redis.call('EXISTS', ARGV[1] .. 'worker:' .. wid) == 1 then return 'busy' end
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then return 'busy' end
end
for _, wid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[1] .. 'worker:' .. wid)
end
redis.call('DEL', KEYS[2])
for i = 4, #KEYS do redis.call('UNLINK', KEYS[i]) end
redis.call('HSET', KEYS[1], 'id', ARGV[4], 'state', 'running', 'seeded', '0',
  'config', ARGV[5], 'started_at', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SET', ARGV[1] .. 'worker:' .. ARGV[2], '0', 'PX', ARGV[3])
return 'ok'
"""

_JOIN = """
-- KEYS: run, workers; ARGV: prefix, worker, ttl ms
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SET', ARGV[1] .. 'worker:' .. ARGV[2], '0', 'PX', ARGV[3])
return redis.call('HGET', KEYS[1], 'config')
"""

_STATUS = """
-- KEYS: run, workers, queue; ARGV: prefix. Forgets workers whose heartbeat lapsed.
local run = redis.call('HMGET', KEYS[1], 'state', 'seeded', 'id')
local live, busy = 0, 0
for _, wid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local popped = redis.call('GET', ARGV[1] .. 'worker:' .. wid)
  if not popped then
    redis.call('SREM', KEYS[2], wid)
  else
    live = live + 1
    if tonumber(popped) > 0 then busy = busy + 1 end
  end
end
return {run[1] or '', run[2] or '0', run[3] or '', redis.call('ZCARD', KEYS[3]), live, busy}
"""

_FINISH = """
-- KEYS: run, then the run's other keys; ARGV: run id, summary json
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'finished', 'summary', ARGV[2])
for i = 2, #KEYS do redis.call('UNLINK', KEYS[i]) end
return 1
"""

_POP = """
-- KEYS: queue, worker heartbeat. Pop the first request and count it, or nothing if the
-- worker was given up for gone.
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if #first == 0 then return false end
redis.call('ZREM', KEYS[1], first[1])
redis.call('INCR', KEYS[2])
return first[1]
"""

_ROUTE = """
-- KEYS: known digests, waiting; ARGV: digest key, capture json
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'copy' end
local waiting = redis.call('HGET', KEYS[2], ARGV[1])
if waiting then
  if waiting == '' then waiting = ARGV[2] else waiting = waiting .. '\\n' .. ARGV[2] end
  redis.call('HSET', KEYS[2], ARGV[1], waiting)
  return 'wait'
end
redis.call('HSET', KEYS[2], ARGV[1], '')
return 'fetch'
"""

_RELEASE = """
-- KEYS: known digests, waiting; ARGV: digest key, '1' if fetched
local waiting = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[2] == '1' then redis.call('SADD', KEYS[1], ARGV[1]) end
return waiting or ''
"""

_START_LISTING = """
-- KEYS: listed, open; ARGV: listing
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

_LISTED_PAGE = """
-- KEYS: listed_up_to, open; ARGV: listing, newest, '1' if last
local seen = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and (not seen or ARGV[2] > seen) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[3] == '1' then redis.call('SREM', KEYS[2], ARGV[1]) end
return 1
"""


@dataclass
class RunStatus:
    """Where a run stands, as every worker and the writer see it."""

    state: str
    seeded: bool
    run_id: str
    queued: int
    live_workers: int
    busy_workers: int

    @property
    def over(self) -> bool:
        """Seeded, nothing queued and no live worker holding a request: nothing more comes."""
        return self.state != "running" or (
            self.seeded and self.queued == 0 and self.busy_workers == 0
        )


class RedisRun:
    """One crawl run kept in Redis: its arguments, workers, statistics and memory."""

    def __init__(
        self, server: redis.Redis, *, spider: str = "wayback", worker_ttl: float = 30.0
    ) -> None:
        self.server = server
        self.keys = RunKeys(spider)
        self.ttl_ms = max(1000, int(worker_ttl * 1000))
        self._begin = server.register_script(_BEGIN)
        self._join = server.register_script(_JOIN)
        self._status = server.register_script(_STATUS)
        self._finish = server.register_script(_FINISH)

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, spider: str = "wayback") -> Self:
        """Connect to ``REDIS_URL`` as scrapy-redis does (the spider calls this before add-ons
        apply their settings, so defaults come from :data:`REDIS_SETTINGS`)."""
        return cls(
            connection.get_redis_from_settings(settings),
            spider=spider,
            worker_ttl=settings.getfloat("REDIS_WORKER_TTL", REDIS_SETTINGS["REDIS_WORKER_TTL"]),
        )

    @classmethod
    def from_url(cls, url: str, *, spider: str = "wayback", worker_ttl: float = 30.0) -> Self:
        """Connect to a Redis URL (``redis://host:6379/0``)."""
        return cls(redis.Redis.from_url(url), spider=spider, worker_ttl=worker_ttl)

    @property
    def prefix(self) -> str:
        """The prefix of the run's keys."""
        return self.keys.key("")

    # The run's life ------------------------------------------------------------------------

    def begin(self, config: dict[str, Any], worker_id: str) -> str:
        """Start a new run with these spider arguments, this process its first worker.

        What a previous run left is deleted, unless a worker or the writer of a run still
        going is alive: then raise :class:`RunInProgress`. Return the new run's id.
        """
        run_id = uuid.uuid4().hex[:12]
        answer = self._begin(
            keys=[self.keys.run, self.keys.key("workers"), self.keys.key("ingest")]
            + self.keys.run_keys(),
            args=[
                self.prefix,
                worker_id,
                self.ttl_ms,
                run_id,
                json.dumps(config),
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            ],
        )
        if _text(answer) == "busy":
            raise RunInProgress(
                "a crawl is still running on this Redis: add workers to it with --worker, "
                "or wait until it ends"
            )
        return run_id

    def join(self, worker_id: str, *, wait: float) -> dict[str, Any]:
        """Join the running run as a worker; return its spider arguments.

        Wait up to ``wait`` seconds for one to start, then raise :class:`NoRunToJoin`.
        """
        deadline = time.monotonic() + wait
        while True:
            config = self._join(
                keys=[self.keys.run, self.keys.key("workers")],
                args=[self.prefix, worker_id, self.ttl_ms],
            )
            if config:
                return json.loads(config)
            if time.monotonic() >= deadline:
                raise NoRunToJoin(
                    f"no crawl to join after {wait:.0f} s: start one with policytrail crawl "
                    "--redis URL on the machine with the database"
                )
            time.sleep(0.2)

    def mark_seeded(self) -> None:
        """Record that every starting request is queued: the run may end when its work does."""
        self.server.hset(self.keys.run, "seeded", "1")

    def status(self) -> RunStatus:
        """Where the run stands (workers whose heartbeat lapsed are forgotten)."""
        state, seeded, run_id, queued, live, busy = self._status(
            keys=[self.keys.run, self.keys.key("workers"), self.keys.requests],
            args=[self.prefix],
        )
        return RunStatus(
            _text(state), _text(seeded) == "1", _text(run_id), int(queued), int(live), int(busy)
        )

    def config(self) -> dict[str, Any]:
        """The run's spider arguments."""
        return json.loads(self.server.hget(self.keys.run, "config") or b"{}")

    def heartbeat(self, worker_id: str) -> bool:
        """Keep a worker alive; False if it was given up for gone (it must stop)."""
        return bool(self.server.pexpire(self.keys.worker(worker_id), self.ttl_ms))

    def idle(self, worker_id: str) -> bool:
        """Record that a worker holds no request; False if it was given up for gone."""
        return bool(self.server.set(self.keys.worker(worker_id), 0, xx=True, px=self.ttl_ms))

    def leave(self, worker_id: str) -> None:
        """A worker stops: forget it."""
        self.server.delete(self.keys.worker(worker_id))
        self.server.srem(self.keys.key("workers"), worker_id)

    def finish(self, run_id: str, summary: dict[str, Any]) -> bool:
        """Record that the writer stored everything of run ``run_id``, and free the run's
        memory; False (and nothing done) if another run has begun since."""
        return bool(
            self._finish(
                keys=[
                    self.keys.run,
                    *(key for key in self.keys.run_keys() if key != self.keys.run),
                ],
                args=[run_id, json.dumps(summary)],
            )
        )

    # Statistics -----------------------------------------------------------------------------

    def count(self, name: str, value: int = 1) -> None:
        """Add to one of the run's ``policytrail/`` statistics."""
        self.server.hincrby(self.keys.key("stats"), name, value)

    def stats(self) -> dict[str, int]:
        """The run's statistics, from every worker and the writer."""
        return {
            _text(key): int(value)
            for key, value in self.server.hgetall(self.keys.key("stats")).items()
        }


class RedisCrawlState:
    """The crawl's memory in Redis, shared by every worker of a run (a ``CrawlState``).

    ``pending`` holds each capture this run took on, until the writer stores it: what is left
    there when the run is over was lost with a worker.
    """

    def __init__(self, run: RedisRun) -> None:
        self.run = run
        self.server = run.server
        self.keys = run.keys
        self._route = self.server.register_script(_ROUTE)
        self._release = self.server.register_script(_RELEASE)
        self._start_listing = self.server.register_script(_START_LISTING)
        self._listed_page = self.server.register_script(_LISTED_PAGE)

    def add_policy(
        self,
        policy_id: int,
        *,
        settled: Iterable[tuple[str, str]],
        digests: Iterable[tuple[str, str]],
    ) -> None:
        """Take on a policy with its stored capture and digest keys."""
        with self.server.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.key("policies"), policy_id)
            for members, key in (
                ([_member(policy_id, *pair) for pair in settled], "settled"),
                ([_member(policy_id, *pair) for pair in digests], "known"),
            ):
                for start in range(0, len(members), 10000):
                    pipe.sadd(self.keys.key(key), *members[start : start + 10000])
            pipe.execute()

    def new_captures(self, policy_id: int, keys: list[tuple[str, str]]) -> list[bool]:
        """For each ``(url, timestamp)``: True unless stored or taken by this run."""
        if not keys:
            return []
        members = [_member(policy_id, url, timestamp) for url, timestamp in keys]
        with self.server.pipeline(transaction=False) as pipe:
            pipe.smismember(self.keys.key("settled"), members)
            pipe.hmget(self.keys.key("pending"), members)
            stored, taken = pipe.execute()
        return [not known and value is None for known, value in zip(stored, taken, strict=True)]

    def settle(self, capture: CaptureItem) -> None:
        """Take a capture on for this run: it stays pending until the writer stores it."""
        field = _member(capture.policy_id, capture.url, capture.timestamp)
        self.server.hset(self.keys.key("pending"), field, item_to_json(capture))

    def route(self, capture: CaptureItem) -> Route:
        """Claim a capture's bytes: copy, wait for a fetch under way, or fetch."""
        answer = self._route(
            keys=[self.keys.key("known"), self.keys.key("waiting")],
            args=[_member(capture.policy_id, capture.url, capture.digest), item_to_json(capture)],
        )
        route = _text(answer)
        assert route in ("copy", "wait", "fetch")
        return route  # type: ignore[return-value]

    def release(self, capture: CaptureItem, *, fetched: bool) -> list[CaptureItem]:
        """The captures that waited for this fetch's bytes."""
        waiting = self._release(
            keys=[self.keys.key("known"), self.keys.key("waiting")],
            args=[
                _member(capture.policy_id, capture.url, capture.digest),
                "1" if fetched else "0",
            ],
        )
        return [item_from_json(line) for line in waiting.splitlines() if line]

    def start_listing(self, policy_id: int, url: str) -> bool:
        """Open a listing; False if this run listed it already (on any worker)."""
        return bool(
            self._start_listing(
                keys=[self.keys.key("listed"), self.keys.key("open")],
                args=[_member(policy_id, url)],
            )
        )

    def listed_page(self, policy_id: int, url: str, newest: str, *, last: bool) -> None:
        """Record a page of a listing."""
        self._listed_page(
            keys=[self.keys.key("listed_up_to"), self.keys.key("open")],
            args=[_member(policy_id, url), newest, "1" if last else "0"],
        )

    def completed_listings(self) -> dict[Listing, str]:
        """Each listing read to its end (by any worker), with its newest timestamp."""
        still_open = self.server.smembers(self.keys.key("open"))
        completed = {}
        for listing, newest in self.server.hgetall(self.keys.key("listed_up_to")).items():
            if listing not in still_open and newest:
                policy_id, url = _text(listing).split("\t", 1)
                completed[(int(policy_id), url)] = _text(newest)
        return completed

    def policy_ids(self) -> list[int]:
        """The policies the run crawls."""
        return sorted(int(pid) for pid in self.server.smembers(self.keys.key("policies")))

    def pending(self) -> list[CaptureItem]:
        """The captures taken on and not stored yet."""
        return [item_from_json(data) for data in self.server.hvals(self.keys.key("pending"))]

    def stored(self, items: list[CaptureItem]) -> None:
        """Forget pending captures once the writer has stored them."""
        if items:
            fields = [_member(item.policy_id, item.url, item.timestamp) for item in items]
            self.server.hdel(self.keys.key("pending"), *fields)


class TrackedQueue(PriorityQueue):
    """scrapy-redis's priority queue, counting on the worker's heartbeat what it pops.

    The pop and the count are one Lua script, so a request is always either queued or counted
    on a worker: while any worker counts requests, the run is not over. A worker given up for
    gone pops nothing more.
    """

    def __init__(self, server: redis.Redis, spider: Spider, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer)
        self._pop = server.register_script(_POP)
        self.heartbeat_key = RunKeys(spider.name).worker(spider.worker_id)  # type: ignore[attr-defined]

    def pop(self, timeout: int = 0) -> Any:
        """Pop the first request, counting it on this worker."""
        data = self._pop(keys=[self.key, self.heartbeat_key])
        return self._decode_request(data) if data else None


class RedisItemPipeline(RedisPipeline):
    """scrapy-redis's item pipeline, pushing each item as JSON in the order it comes.

    The push is synchronous (scrapy-redis pushes from a thread pool, which may reorder items):
    a fetched capture reaches the writer before the copies that share its bytes.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Push to the run's item list (``REDIS_ITEMS_KEY``)."""
        assert crawler.spidercls is not None
        return cls(
            connection.get_redis_from_settings(crawler.settings),
            key=RunKeys(crawler.spidercls.name).items,
            serialize_func=item_to_json,
        )

    def process_item(self, item: CaptureItem) -> CaptureItem:  # type: ignore[override]
        """Push the item to Redis for the writer."""
        self.server.rpush(self.key, self.serialize(item))
        return item


class RedisAddon:
    """A Scrapy add-on: with ``REDIS_URL`` set, crawl as one worker of a run shared in Redis.

    It switches the scheduler to scrapy-redis's (with :class:`TrackedQueue` and JSON
    serialization) and the item pipeline from :class:`~crawler.pipelines.StorePipeline` to
    :class:`RedisItemPipeline`; the politeness middleware then keeps its limits in Redis.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        """Apply :data:`REDIS_SETTINGS` when ``REDIS_URL`` is set.

        Unless ``CONCURRENT_REQUESTS`` is given, a worker also takes from the queue only as
        many requests as it may have in flight to the archive (``ARCHIVE_CONCURRENCY``), so the
        work spreads over the workers and a killed worker loses little.
        """
        if not settings.get("REDIS_URL"):
            return
        for name, value in REDIS_SETTINGS.items():
            settings.set(name, value, priority="addon")
        if (settings.getpriority("CONCURRENT_REQUESTS") or 0) <= SETTINGS_PRIORITIES["project"]:
            concurrency = settings.getint("ARCHIVE_CONCURRENCY", 2)
            settings.set("CONCURRENT_REQUESTS", concurrency, priority="project")
        pipelines = settings["ITEM_PIPELINES"]
        pipelines["crawler.pipelines.StorePipeline"] = None
        pipelines["crawler.redis_run.RedisItemPipeline"] = 300
