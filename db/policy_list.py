"""Read a file of policies to track: one URL or domain a line, or CSV with name, url, kind."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from db.store import StoreError, normalize_url

KINDS = ("privacy", "terms", "cookies", "other")


@dataclass(frozen=True)
class Entry:
    """One line of a policy list: a policy URL (with name and kind) or a bare domain."""

    line: int
    url: str | None = None
    domain: str | None = None
    name: str | None = None
    kind: str = "privacy"


def is_domain(text: str) -> bool:
    """Whether ``text`` is a bare domain (``example.com``), not a page URL."""
    if "://" in text or "/" in text.strip("/") or " " in text:
        return False
    host = text.strip("/").lower()
    return "." in host and all(part and part.replace("-", "").isalnum() for part in host.split("."))


def read_policy_list(path: str | Path) -> tuple[list[Entry], list[str]]:
    """Parse a policy list; return its entries and one message per invalid line.

    Blank lines and ``#`` comments are skipped; a CSV header line (``name,url,kind``) is too.
    """
    entries: list[Entry] = []
    errors: list[str] = []
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            entry = _parse_line(number, stripped)
        except ValueError as error:
            errors.append(f"line {number}: {error}")
            continue
        if entry is not None:
            entries.append(entry)
    return entries, errors


def _parse_line(number: int, line: str) -> Entry | None:
    """One entry from a line; None for a CSV header."""
    if "," not in line:
        if is_domain(line):
            return Entry(number, domain=line.strip("/").lower().removeprefix("www."))
        return Entry(number, url=_checked(line))
    fields = [field.strip() for field in next(csv.reader(io.StringIO(line)))]
    if [f.lower() for f in fields[:2]] == ["name", "url"]:
        return None
    if len(fields) not in (2, 3):
        raise ValueError(f"expected name,url[,kind], got {len(fields)} fields")
    name, url, kind = (*fields, "privacy")[:3]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    if not name:
        raise ValueError("empty name")
    return Entry(number, url=_checked(url), name=name, kind=kind)


def _checked(url: str) -> str:
    """A policy URL with its scheme, or ValueError."""
    try:
        return normalize_url(url)
    except StoreError as error:
        raise ValueError(str(error)) from None
