"""A real pywb archive of the project's sample site, on a free loopback port.

The integration tests and ``make demo`` use it. pywb runs from a virtual environment of its own
(``.venv-pywb``, made by the Makefile), because its pinned redis client clashes with
scrapy-redis's.

    python tests/archive.py run -- COMMAND [ARG ...]

builds the sample WARC, serves it, runs COMMAND with ``$ARCHIVE_URL`` set to the collection URL
(e.g. ``http://127.0.0.1:40123/web``), then stops pywb and exits with COMMAND's status.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SITE = ROOT / "tests" / "sample_site"
DEFAULT_PYWB_BIN = Path(os.environ.get("POLICYTRAIL_PYWB", ROOT / ".venv-pywb" / "bin"))
COLLECTION = "web"


def build_sample_warc(destination: Path) -> Path:
    """Write the sample site's WARC to ``destination`` and return it."""
    subprocess.run(
        [sys.executable, str(SAMPLE_SITE / "build_warc.py"), str(destination)], check=True
    )
    return destination


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PywbArchive:
    """Serve WARC files from pywb in a scratch directory; use as a context manager."""

    def __init__(self, warcs: list[Path], *, pywb_bin: Path = DEFAULT_PYWB_BIN) -> None:
        self.warcs = warcs
        self.pywb_bin = pywb_bin
        self.workdir = Path(tempfile.mkdtemp(prefix="policytrail-pywb-"))
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> str:
        """Index the WARCs, start pywb, wait until it answers; return the collection URL."""
        wb_manager = self.pywb_bin / "wb-manager"
        if not wb_manager.exists():
            raise RuntimeError(f"pywb is not installed at {self.pywb_bin} (run: make install)")
        quiet = {"cwd": self.workdir, "check": True, "capture_output": True}
        subprocess.run([str(wb_manager), "init", COLLECTION], **quiet)
        subprocess.run([str(wb_manager), "add", COLLECTION, *map(str, self.warcs)], **quiet)
        port = free_port()
        log = (self.workdir / "pywb.log").open("wb")
        self.process = subprocess.Popen(
            [str(self.pywb_bin / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{port}/{COLLECTION}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pywb exited: {(self.workdir / 'pywb.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/cdx?url=example.com", timeout=2):
                    return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pywb did not answer within {timeout:.0f} s")

    def requests(self) -> list[str]:
        """``METHOD PATH`` of every request pywb has answered so far, from its access log."""
        log = (self.workdir / "pywb.log").read_text(errors="replace")
        return re.findall(r'\] "([A-Z]+ \S+) HTTP/', log)

    def stop(self) -> None:
        """Stop pywb and delete its scratch directory."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> int:
    """``run -- COMMAND``: serve the sample archive while COMMAND runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="serve the sample archive while a command runs")
    run.add_argument("--pywb-bin", type=Path, default=DEFAULT_PYWB_BIN)
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command to run after --")
    with tempfile.TemporaryDirectory() as scratch:
        warc = build_sample_warc(Path(scratch) / "sample.warc.gz")
        with PywbArchive([warc], pywb_bin=args.pywb_bin) as url:
            print(f"Serving the sample archive at {url}", file=sys.stderr)
            return subprocess.run(command, env={**os.environ, "ARCHIVE_URL": url}).returncode


if __name__ == "__main__":
    sys.exit(main())
