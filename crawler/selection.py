"""Choosing which captures to fetch: one per interval, the one nearest the interval's middle.

The Princeton "privacy policies over time" study kept one capture per half-year; with
``every="half-year"`` a policy with 5,000 captures over 20 years costs 40 fetches, not 5,000.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from waybackpy.cdx_snapshot import CDXSnapshot

#: Interval names, in increasing length.
INTERVALS = ("all", "day", "month", "quarter", "half-year", "year")
_MONTHS = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}


def interval_bounds(moment: datetime, every: str) -> tuple[datetime, datetime]:
    """The start and end of the interval of length ``every`` that holds ``moment``."""
    if every == "day":
        start = datetime(moment.year, moment.month, moment.day)
        return start, start + timedelta(days=1)
    months = _MONTHS[every]
    first_month = (moment.month - 1) // months * months + 1
    start = datetime(moment.year, first_month, 1)
    end_month = first_month + months
    end = datetime(moment.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return start, end


def select(
    snapshots: Iterable[CDXSnapshot], every: str, *, covered: Iterable[CDXSnapshot] = ()
) -> list[CDXSnapshot]:
    """Keep one snapshot per interval and per URL: the one nearest the interval's midpoint.

    Archived redirects are chosen apart from pages (a policy's move must not hide it), and
    ties go to the earlier capture. Intervals that hold one of the ``covered`` snapshots (stored
    by an earlier crawl) get none. ``every="all"`` keeps every snapshot. The result is in
    timestamp order.
    """
    rows = list(snapshots)
    if every == "all":
        return rows
    if every not in INTERVALS:
        raise ValueError(f"unknown interval {every!r}: choose one of {', '.join(INTERVALS)}")
    taken = {_interval_key(row, every) for row in covered}
    best: dict[tuple, tuple[float, str, CDXSnapshot]] = {}
    for row in rows:
        key = _interval_key(row, every)
        if key in taken:
            continue
        moment = row.datetime_timestamp
        start, end = interval_bounds(moment, every)
        middle = start + (end - start) / 2
        candidate = (abs((moment - middle).total_seconds()), row.timestamp, row)
        if key not in best or candidate[:2] < best[key][:2]:
            best[key] = candidate
    return sorted((entry[2] for entry in best.values()), key=lambda row: row.timestamp)


def _interval_key(row: CDXSnapshot, every: str) -> tuple[str, datetime, bool]:
    """The URL, interval and kind (page or redirect) a snapshot is chosen within."""
    start, _ = interval_bounds(row.datetime_timestamp, every)
    return (row.original, start, row.statuscode.startswith("3"))
