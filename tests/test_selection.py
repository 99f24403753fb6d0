"""Capture selection: one per interval, nearest the middle."""

from datetime import datetime

import pytest
from waybackpy.cdx_snapshot import CDXSnapshot

from crawler.selection import interval_bounds, select


def snapshot(timestamp: str, status: str = "200", url: str = "http://x.example/p") -> CDXSnapshot:
    """A CDX row."""
    return CDXSnapshot(
        {
            "urlkey": "example,x)/p",
            "timestamp": timestamp,
            "original": url,
            "mimetype": "text/html",
            "statuscode": status,
            "digest": "D",
            "length": "1",
        }
    )


@pytest.mark.parametrize(
    ("every", "start", "end"),
    [
        ("day", datetime(2018, 5, 25), datetime(2018, 5, 26)),
        ("month", datetime(2018, 5, 1), datetime(2018, 6, 1)),
        ("quarter", datetime(2018, 4, 1), datetime(2018, 7, 1)),
        ("half-year", datetime(2018, 1, 1), datetime(2018, 7, 1)),
        ("year", datetime(2018, 1, 1), datetime(2019, 1, 1)),
    ],
)
def test_interval_bounds(every: str, start: datetime, end: datetime) -> None:
    assert interval_bounds(datetime(2018, 5, 25, 10), every) == (start, end)


def test_december_rolls_over() -> None:
    assert interval_bounds(datetime(2018, 12, 31), "half-year")[1] == datetime(2019, 1, 1)
    assert interval_bounds(datetime(2018, 12, 31), "month")[1] == datetime(2019, 1, 1)


def test_the_capture_nearest_the_middle_is_kept() -> None:
    rows = [snapshot(ts) for ts in ("20180105000000", "20180401000000", "20180620000000")]
    assert [r.timestamp for r in select(rows, "half-year")] == ["20180401000000"]
    assert len(select(rows, "month")) == 3
    assert select(rows, "all") == rows


def test_five_thousand_captures_cost_forty_fetches() -> None:
    rows = [
        snapshot(f"{2001 + i // 250}{(i % 250) // 21 + 1:02d}{i % 21 + 1:02d}120000")
        for i in range(5000)
    ]
    chosen = select(rows, "half-year")
    assert len(chosen) == 40
    assert [r.timestamp for r in chosen] == sorted(r.timestamp for r in chosen)


def test_redirects_and_urls_are_chosen_apart() -> None:
    rows = [
        snapshot("20140301000000"),
        snapshot("20140310000000", status="301"),
        snapshot("20140320000000", url="http://x.example/new"),
    ]
    assert len(select(rows, "year")) == 3


def test_unknown_interval() -> None:
    with pytest.raises(ValueError, match="unknown interval 'week'"):
        select([snapshot("20180101000000")], "week")


def test_intervals_with_a_stored_capture_get_no_other() -> None:
    rows = [snapshot(ts) for ts in ("20180105000000", "20180401000000", "20180820000000")]
    stored = [snapshot("20180601000000")]
    assert [r.timestamp for r in select(rows, "half-year", covered=stored)] == ["20180820000000"]
