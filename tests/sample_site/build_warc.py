"""Build a gzipped WARC file from the Brightkettle sample site.

Reads ``captures.json`` from the site directory and writes one WARC
``response`` record per capture: an HTTP status line and headers
(Date, Content-Type, Content-Length and, for redirects, Location)
followed by the raw bytes of the capture's body file. Bodies are never
re-encoded, so the windows-1252 page stays windows-1252.

The output is deterministic: record IDs are UUID5 values derived from the
URL and timestamp, and all dates come from the capture timestamps.

Usage::

    python build_warc.py OUTPUT.warc.gz [--site DIR]
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}
RECORD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://www.brightkettle.example/")


def parse_timestamp(timestamp: str) -> datetime:
    """Parse a 14-digit Wayback timestamp as a UTC datetime."""
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def warc_date(timestamp: str) -> str:
    """Convert a 14-digit Wayback timestamp to an ISO 8601 WARC-Date."""
    return parse_timestamp(timestamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(*parts: str) -> str:
    """Return a stable WARC-Record-ID for the given identifying strings."""
    return f"<urn:uuid:{uuid.uuid5(RECORD_NAMESPACE, ' '.join(parts))}>"


def load_captures(site: Path) -> list[dict[str, Any]]:
    """Read and sanity-check ``captures.json`` from the site directory."""
    captures = json.loads((site / "captures.json").read_text(encoding="utf-8"))
    for capture in captures:
        parse_timestamp(capture["timestamp"])
        if 300 <= capture["status"] < 400 and not capture.get("location"):
            raise ValueError(f"redirect without location: {capture}")
    return captures


def http_headers(capture: dict[str, Any], body: bytes) -> StatusAndHeaders:
    """Build the HTTP status line and headers for one capture."""
    status = capture["status"]
    headers = [
        ("Date", format_datetime(parse_timestamp(capture["timestamp"]), usegmt=True)),
        ("Server", "Apache"),
    ]
    if capture.get("location"):
        headers.append(("Location", capture["location"]))
    headers += [
        ("Content-Type", capture["content_type"]),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    statusline = f"{status} {REASONS.get(status, 'Unknown')}"
    return StatusAndHeaders(statusline, headers, protocol="HTTP/1.1")


def build_warc(site: Path, output: Path) -> int:
    """Write all captures of ``site`` to ``output``; return the record count."""
    captures = load_captures(site)
    with output.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)

        info = b"software: policytrail tests/sample_site/build_warc.py\r\n"
        info += b"description: Fictional Brightkettle policy captures for tests\r\n"
        writer.write_record(
            writer.create_warc_record(
                "",
                "warcinfo",
                payload=BytesIO(info),
                length=len(info),
                warc_content_type="application/warc-fields",
                warc_headers_dict={
                    "WARC-Record-ID": record_id("warcinfo", output.name),
                    "WARC-Date": warc_date(captures[0]["timestamp"]),
                    "WARC-Filename": output.name,
                },
            )
        )

        for capture in captures:
            body = (site / capture["file"]).read_bytes() if capture.get("file") else b""
            record = writer.create_warc_record(
                capture["url"],
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=http_headers(capture, body),
                warc_headers_dict={
                    "WARC-Record-ID": record_id(capture["url"], capture["timestamp"]),
                    "WARC-Date": warc_date(capture["timestamp"]),
                },
            )
            writer.write_record(record)
    return len(captures)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="WARC file to write (e.g. sample.warc.gz)")
    parser.add_argument(
        "--site",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory holding captures.json and pages/ (default: this script's directory)",
    )
    args = parser.parse_args()
    count = build_warc(args.site, args.output)
    print(f"wrote {count} response records to {args.output}")


if __name__ == "__main__":
    main()
