"""Wayback timestamps and the dates people type, as sortable ISO 8601 strings."""

import calendar
import re
from datetime import UTC, datetime

_PARTIAL = re.compile(
    r"^(\d{4})(?:-?(\d{2})(?:-?(\d{2})(?:[T ]?(\d{2}):?(\d{2})?:?(\d{2})?)?)?)?Z?$"
)


class InvalidDate(ValueError):
    """A date argument that is not a date."""


def timestamp_to_iso(timestamp: str) -> str:
    """Turn a 14-digit Wayback timestamp into ``YYYY-MM-DDThh:mm:ssZ``."""
    try:
        moment = datetime.strptime(timestamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S")
    except ValueError as error:
        raise InvalidDate(f"not a Wayback timestamp: {timestamp!r}") from error
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def end_of(value: str) -> str:
    """The last second of the period a date names, as ISO 8601.

    ``2018`` is the end of 2018, ``2018-05`` the end of May 2018, ``2018-05-25`` the end of that
    day; a full timestamp (``20180525120000`` or ``2018-05-25T12:00:00``) is that second. So "the
    version in force at DATE" includes every capture made during the named period.
    """
    match = _PARTIAL.match(value.strip())
    if not match:
        raise InvalidDate(f"not a date: {value!r} (use YYYY, YYYY-MM, YYYY-MM-DD or a timestamp)")
    year, month, day, hour, minute, second = match.groups()
    try:
        y = int(year)
        m = int(month) if month else 12
        d = int(day) if day else calendar.monthrange(y, m)[1]
        moment = datetime(
            y,
            m,
            d,
            int(hour) if hour else 23,
            int(minute) if minute else 59,
            int(second) if second else 59,
        )
    except ValueError as error:
        raise InvalidDate(f"not a date: {value!r}") from error
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    """The current UTC time as ISO 8601."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
