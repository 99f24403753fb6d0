"""A fault-injecting Wayback-compatible archive: real HTTP on a loopback port.

It answers like the Internet Archive (CDX at ``/cdx/search/cdx`` with JSON output and resume-key
paging, raw captures at ``/web/TIMESTAMPid_/URL``) and misbehaves on cue: each target (``cdx`` or
a capture's timestamp) has a queue of faults served one per request before it answers normally.
Every request is logged with its arrival time, so tests can check what reached the server when.
"""

import hashlib
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FIELDS = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]


def canonical(url: str) -> str:
    """A URL as CDX matches it: no scheme, no ``www.``, no trailing slash."""
    return url.split("://", 1)[-1].removeprefix("www.").rstrip("/")


@dataclass
class Fault:
    """One misbehaviour: an HTTP status (with ``Retry-After``), a reset, a truncated body, a
    delay before answering, or extra malformed CDX lines."""

    status: int | None = None
    retry_after: str | None = None
    reset: bool = False
    truncate: bool = False
    delay: float = 0.0
    malformed_rows: int = 0


@dataclass
class Capture:
    """A capture the archive holds."""

    url: str
    timestamp: str
    body: bytes = b""
    status: int = 200
    mimetype: str = "text/html"
    digest: str = ""
    location: str | None = None

    def row(self) -> list[str]:
        """Its CDX row."""
        digest = self.digest or hashlib.sha1(self.body).hexdigest().upper()
        mimetype = self.mimetype
        status = "-" if mimetype == "warc/revisit" else str(self.status)
        return ["k", self.timestamp, self.url, mimetype, status, digest, str(len(self.body))]


@dataclass
class Hit:
    """One request that reached the server."""

    at: float
    path: str
    target: str
    answered: str


@dataclass
class FaultArchive:
    """The server's state: captures, fault queues and the request log."""

    captures: list[Capture] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    log: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The archive's base URL."""
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add_fault(self, target: str, *faults: Fault) -> None:
        """Queue faults for a target: ``cdx`` or a capture's timestamp."""
        with self.lock:
            self.faults[target].extend(faults)

    def next_fault(self, target: str) -> Fault | None:
        """Pop the next fault queued for a target."""
        with self.lock:
            queue = self.faults.get(target)
            return queue.popleft() if queue else None

    def hits(self, target: str | None = None) -> list[Hit]:
        """Logged requests (for one target)."""
        with self.lock:
            return [hit for hit in self.log if target is None or hit.target == target]

    def start(self) -> "FaultArchive":
        """Serve on a free loopback port in a background thread."""
        archive = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Quiet."""

            def do_GET(self) -> None:  # noqa: N802
                archive.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request, applying the next fault queued for its target."""
        parts = urlsplit(request.path)
        if parts.path == "/cdx/search/cdx":
            target = "cdx"
        elif "id_/" in parts.path:
            target = parts.path.split("/")[2].removesuffix("id_")
        else:
            target = "other"
        fault = self.next_fault(target)
        answered = "ok"
        if fault:
            answered = (
                "reset" if fault.reset else "truncated" if fault.truncate else str(fault.status)
            )
        with self.lock:
            self.log.append(Hit(time.monotonic(), request.path, target, answered))
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.reset:
            request.connection.shutdown(2)
            request.close_connection = True
            return
        if fault and fault.status:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self.send(request, fault.status, b"busy", headers=headers)
            return
        if target == "cdx":
            body = self.cdx_answer(parse_qs(parts.query), fault)
            self.send(request, 200, body, content_type="application/json")
        elif target == "other":
            self.send(request, 404, b"not here")
        else:
            self.send_capture(request, target, parts.path, fault)

    def cdx_answer(self, query: dict[str, list[str]], fault: Fault | None) -> bytes:
        """A CDX JSON answer, paged with resume keys when ``limit`` is given."""
        url = canonical(query["url"][0])
        since = query.get("from", [""])[0].ljust(14, "0")
        until = query.get("to", [""])[0].ljust(14, "9")
        rows = [
            c.row()
            for c in sorted(self.captures, key=lambda c: c.timestamp)
            if canonical(c.url) == url and since <= c.timestamp <= until
        ]
        for expression in query.get("filter", []):
            field, _, pattern = expression.partition(":")
            column = FIELDS.index(field)
            rows = [row for row in rows if re.fullmatch(pattern, row[column])]
        start = int(query.get("resumeKey", ["0"])[0])
        limit = int(query.get("limit", ["0"])[0]) or len(rows)
        page: list[list[str]] = [FIELDS, *rows[start : start + limit]]
        if fault and fault.malformed_rows:
            page += [["broken"]] * fault.malformed_rows
            page += [["k", "2004", url, "text/html", "200", "X", "1"]]
        if "showResumeKey" in query and start + limit < len(rows):
            page += [[], [str(start + limit)]]
        return json.dumps(page).encode()

    def send_capture(
        self, request: BaseHTTPRequestHandler, timestamp: str, path: str, fault: Fault | None
    ) -> None:
        """Answer with a capture's raw bytes (truncated if the fault says so)."""
        original = path.split("id_/", 1)[1]
        capture = next(
            (c for c in self.captures if c.timestamp == timestamp and c.url == original), None
        )
        if capture is None:
            self.send(request, 404, b"no such capture")
            return
        headers = {"Location": capture.location} if capture.location else {}
        if fault and fault.truncate:
            request.send_response(capture.status)
            request.send_header("Content-Type", capture.mimetype)
            request.send_header("Content-Length", str(len(capture.body) + 1000))
            request.end_headers()
            request.wfile.write(capture.body[: len(capture.body) // 2])
            request.wfile.flush()
            request.connection.shutdown(2)
            request.close_connection = True
            return
        self.send(request, capture.status, capture.body, headers=headers)

    @staticmethod
    def send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        *,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a whole answer."""
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)
