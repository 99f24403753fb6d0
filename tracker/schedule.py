"""Unattended crawls: one crawl at a time per database, on a cron schedule, with a deadline,
and a webhook told what changed.

- :class:`CrawlLock` is an ``flock`` on ``DATABASE.crawl.lock``: it holds against every other
  process on the machine and is released when its holder exits, however it exits.
- :func:`run_on_schedule` starts a crawl at each cron time, each in a process of its own (a
  Twisted reactor runs once per process), waiting for one to end before the next may start.
- :func:`notify` posts the new changes of a run to a URL as JSON.
"""

import fcntl
import json
import logging
import multiprocessing
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

from croniter import CroniterBadCronError, croniter

from db import Store

logger = logging.getLogger(__name__)

#: Seconds a run may overrun its deadline while it closes before it is killed.
GRACE = 60.0
#: Clause changes sent per revision in a notification.
CHANGES_PER_REVISION = 50


class ScheduleError(Exception):
    """A schedule, lock or notification problem; the message is meant for people."""


class CrawlLock:
    """The exclusive right to crawl into one database."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(f"{db_path}.crawl.lock")
        self.handle: int | None = None

    def __enter__(self) -> "CrawlLock":
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise ScheduleError(
                f"another crawl is running on this database (lock: {self.path})"
            ) from None
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        self.handle = handle
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            os.close(self.handle)
            self.handle = None


def check_schedule(expression: str) -> str:
    """Return a cron expression if it is valid (5 fields, or 6 with seconds last)."""
    try:
        croniter(expression)
    except (CroniterBadCronError, ValueError, KeyError) as error:
        raise ScheduleError(f"not a cron schedule: {expression!r} ({error})") from None
    return expression


def next_run(expression: str, after: datetime) -> datetime:
    """The first time the schedule names after ``after``."""
    return croniter(expression, after).get_next(datetime)


def run_on_schedule(
    expression: str,
    crawl: Callable[[], int],
    *,
    deadline: float | None = None,
    max_runs: int | None = None,
    clock: Callable[[], datetime] = datetime.now,
) -> None:
    """Run ``crawl`` in a process of its own at each time of the cron ``expression``.

    A run that passes ``deadline`` seconds (plus a grace to close) is killed; a time that comes
    while a run is still going is skipped. Returns after ``max_runs`` runs (default: never).
    """
    check_schedule(expression)
    context = multiprocessing.get_context("fork")
    runs = 0
    while max_runs is None or runs < max_runs:
        start = next_run(expression, clock())
        logger.info("next crawl at %s", start.isoformat(timespec="seconds"))
        time.sleep(max(0.0, (start - clock()).total_seconds()))
        process = context.Process(target=_exit_with, args=(crawl,))
        process.start()
        process.join(None if deadline is None else deadline + GRACE)
        if process.is_alive():
            logger.error("crawl passed its deadline of %.0f s: stopping it", deadline or 0)
            process.kill()
            process.join()
        runs += 1
        logger.info("crawl %d ended with exit code %s", runs, process.exitcode)


def _exit_with(crawl: Callable[[], int]) -> None:
    """Run a crawl in a child process and exit with its code."""
    os._exit(crawl())


def notify(url: str, store: Store, *, timeout: float = 15.0) -> int:
    """Post the latest run and the changes it recorded to ``url`` as JSON; return how many
    revisions were sent.

    The body is ``{"run": {...}, "revisions": [{"policy", "policy_url", "date", counts...,
    "changes": [{"kind", "section", "old_text", "new_text"}]}]}``; technical revisions (from a
    normalizer change) are left out.
    """
    run = store.latest_run()
    if run is None:
        raise ScheduleError("no crawl run is recorded yet")
    revisions = store.revisions_recorded_since(run["started_at"])
    for revision in revisions:
        revision["changes"] = revision["changes"][:CHANGES_PER_REVISION]
    body = json.dumps({"run": run, "revisions": revisions}, default=str).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "policytrail"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except (urllib.error.URLError, OSError) as error:
        raise ScheduleError(f"could not notify {url}: {error}") from None
    return len(revisions)
