"""End-to-end ingest: CDX to stored versions, against a plain sequential fetch loop.

Builds a WARC of synthetic captures (the sample site's pages, each made distinct), serves it
with pywb on a loopback port, then measures in the same run:

- ``policytrail crawl --no-limits`` into a fresh database (list, fetch, normalize, store,
  diff), its captures per second and peak memory (RSS);
- a plain sequential loop over the same captures with urllib: one CDX query per policy, then
  one GET per capture, nothing parsed or stored.

    .venv/bin/python bench/crawl_bench.py [--policies 200] [--captures-per-policy 50]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from archive import PywbArchive  # noqa: E402

PAGES = sorted((ROOT / "tests" / "sample_site" / "pages").glob("privacy-20*[0-9].html"))


def policy_url(n: int) -> str:
    """The URL of synthetic policy n."""
    return f"http://www.site{n:05d}.example/privacy"


def build_warc(path: Path, policies: int, per_policy: int) -> int:
    """Write the synthetic captures; return how many."""
    bodies = [page.read_bytes() for page in PAGES]
    count = 0
    with path.open("wb") as output:
        writer = WARCWriter(output, gzip=True)
        for n in range(policies):
            for i in range(per_policy):
                body = bodies[(i * len(bodies)) // per_policy].replace(
                    b"</body>", f"<p>Revision {n}.{i}.</p></body>".encode()
                )
                year, day = 2000 + i * 20 // per_policy, 1 + i % 28
                stamp = f"{year}{1 + i % 12:02d}{day:02d}120000"
                headers = StatusAndHeaders(
                    "200 OK",
                    [
                        ("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                    ],
                    protocol="HTTP/1.1",
                )
                record = writer.create_warc_record(
                    policy_url(n),
                    "response",
                    payload=__import__("io").BytesIO(body),
                    http_headers=headers,
                    warc_headers_dict={
                        "WARC-Date": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T12:00:00Z"
                    },
                )
                writer.write_record(record)
                count += 1
    return count


def sequential_loop(archive_url: str, policies: int) -> int:
    """Fetch every capture one after the other; return how many were fetched."""
    fetched = 0
    for n in range(policies):
        query = urllib.parse.urlencode({"url": policy_url(n), "output": "json"})
        with urllib.request.urlopen(f"{archive_url}/cdx?{query}") as answer:
            rows = [json.loads(line) for line in answer.read().decode().splitlines() if line]
        for row in rows:
            capture = f"{archive_url}/{row['timestamp']}id_/{row['url']}"
            with urllib.request.urlopen(capture) as answer:
                answer.read()
            fetched += 1
    return fetched


def crawl(archive_url: str, db: Path, policies: int) -> tuple[float, dict]:
    """Add the policies and crawl them; return the crawl's seconds and summary."""
    policytrail = str(ROOT / ".venv" / "bin" / "policytrail")
    listing = db.with_suffix(".txt")
    listing.write_text("\n".join(policy_url(n) for n in range(policies)))
    env = {**os.environ, "POLICYTRAIL_DB": str(db)}
    subprocess.run(
        [policytrail, "add", "--from-file", str(listing)], env=env, check=True, capture_output=True
    )
    start = time.perf_counter()
    result = subprocess.run(
        [policytrail, "crawl", "--archive", archive_url, "--no-limits", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, json.loads(result.stdout)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=200)
    parser.add_argument("--captures-per-policy", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        warc = Path(scratch) / "bench.warc.gz"
        total = build_warc(warc, args.policies, args.captures_per_policy)
        print(f"captures in the archive: {total} ({args.policies} policies)")
        with PywbArchive([warc]) as url:
            start = time.perf_counter()
            fetched = sequential_loop(url, args.policies)
            loop_seconds = time.perf_counter() - start
            seconds, summary = crawl(url, Path(scratch) / "bench.db", args.policies)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stored = summary.get("outcome/version", 0) + summary.get("outcome/not-a-version", 0)
    print(
        f"sequential fetch loop: {fetched} captures in {loop_seconds:.1f} s = "
        f"{fetched / loop_seconds:.1f} captures/s (fetch only: no parsing, no storage)"
    )
    print(
        f"policytrail crawl: {stored} captures stored in {seconds:.1f} s = "
        f"{stored / seconds:.1f} captures/s (list, fetch, normalize, store, diff); "
        f"{summary.get('new_versions', 0)} versions, {summary.get('new_revisions', 0)} revisions"
    )
    print(
        f"ratio (crawl / sequential loop, captures per second): "
        f"{(stored / seconds) / (fetched / loop_seconds):.2f}x"
    )
    print(f"crawler peak memory (largest child RSS) for {stored} captures: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
