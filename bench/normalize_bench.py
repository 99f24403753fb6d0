"""Benchmark the normalizer: speed against readability-lxml + html2text, and peak memory.

Speed: every capture of the fidelity corpus (``../shared/corpus``) is normalized ``--repeat``
times by :func:`tracker.normalize.normalize` and by readability-lxml + html2text (the corpus's
own reference pipeline, called exactly as ``../shared/tools/fidelity.py`` calls it), in the same
process and run, alternating. Each capture's time is its median over the repeats; the figure is
the median over captures. The issue requires the normalizer to be at least 2x faster.

Memory: a subprocess generates a policy-like page of about 10 MB, normalizes it and reports its
peak resident set size (``ru_maxrss``), and the same for tag soup at the normalizer's element
cap. The issue requires under 200 MB for the 10 MB page.

    .venv/bin/python bench/normalize_bench.py            # what ``make bench`` runs
    .venv/bin/python bench/normalize_bench.py --repeat 21

Exits 1 when a requirement is not met.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from tracker.normalize import MAX_ELEMENTS, normalize  # noqa: E402

MIN_RATIO = 2.0
MAX_PEAK_MB = 200.0
PAGE_BYTES = 10_000_000
HEADERS = {"Content-Type": "text/html"}

SECTION = """\
<h2>Section {n}: How we use your information</h2>
<p>We use the personal information you give us to process your orders, to deliver your goods and
to answer your questions. We pass your name and address to the courier who delivers your order,
and your payment details to our <a href="/processor">card processor</a>; they may use them only
for that. <b>We will not sell your personal information to third parties.</b></p>
<ul><li>your name, billing address and delivery address;</li>
<li>your e-mail address and telephone number;</li>
<li>your order history and any <em>product reviews</em> you write.</li></ul>
<p>We keep your information only for as long as we need it for the purposes described in this
policy, or as long as the law requires us to keep it, for example for tax and accounting. When we
no longer need it, we delete it or make it anonymous. Our staff may look at customer records only
when they need to in order to do their job, and every access is logged and reviewed each month.</p>
<p>You can ask for a copy of the personal information we hold about you, ask us to correct it or
to delete it, object to our use of it for direct marketing, or ask us to send it to another
company. We will reply within one month and we will not charge you a fee. If you are not happy
with our answer, you can complain to the data protection authority where you live.</p>
<table><tr><th>Data</th><th>Purpose</th><th>Retention</th></tr>
<tr><td>Contact details</td><td>Delivering orders</td><td>6 years</td></tr>
<tr><td>Order history</td><td>Accounting</td><td>7 years</td></tr></table>
"""


def policy_page(size: int) -> bytes:
    """Return a policy-like HTML page of about ``size`` bytes, with chrome around it.

    Its sections have headings, paragraphs, links, emphasis, a list and a table: one element per
    80 bytes or so, as dense as the corpus's pages (one per 60 to 110 bytes).
    """
    head = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Privacy Policy</title></head>"
        "<body><header><nav><ul><li><a href='/'>Home</a></li><li><a href='/shop'>Shop</a></li>"
        "</ul></nav></header><main><h1>Privacy Policy</h1>"
    )
    tail = "</main><footer><p>&copy; Example Ltd.</p></footer></body></html>"
    sections = [SECTION.format(n=n) for n in range(size // len(SECTION))]
    return (head + "".join(sections) + tail).encode()


def tag_soup() -> bytes:
    """Return tag soup with just fewer elements than the normalizer's cap."""
    return b"<html><body>" + b"<b>x</b> " * (MAX_ELEMENTS - 10)


def load_fidelity_tool() -> ModuleType:
    """Import ``../shared/tools/fidelity.py``, whose peer functions the benchmark calls."""
    spec = importlib.util.spec_from_file_location("fidelity", SHARED / "tools" / "fidelity.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no fidelity tool under {SHARED}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def captures(corpus: Path) -> list[tuple[bytes, str, str]]:
    """Return (bytes, text, original URL) of every HTML capture of the corpus."""
    found = []
    for entry in json.loads((corpus / "manifest.json").read_text(encoding="utf-8")):
        path = corpus / entry["domain"] / f"{entry['timestamp']}.html"
        if path.exists():
            raw = path.read_bytes()
            found.append((raw, raw.decode("utf-8", errors="replace"), entry["original_url"]))
    return found


def seconds(call: Callable[[], object]) -> float:
    """Return how long ``call()`` takes."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def speed(corpus: Path, repeat: int) -> tuple[int, float, float]:
    """Return (captures, median ms per capture of the normalizer, same of the peer)."""
    peer = load_fidelity_tool().peer_readability
    ours: list[float] = []
    theirs: list[float] = []
    for raw, text, url in captures(corpus):
        ourselves = functools.partial(normalize, raw, headers=HEADERS, url=url)
        reference = functools.partial(peer, text, url)
        ourselves()  # warm up caches and lazy imports
        reference()
        mine, other = [], []
        for _ in range(repeat):
            mine.append(seconds(ourselves))
            other.append(seconds(reference))
        ours.append(statistics.median(mine))
        theirs.append(statistics.median(other))
    return len(ours), 1000 * statistics.median(ours), 1000 * statistics.median(theirs)


def child(kind: str) -> None:
    """In a subprocess: normalize one generated input and print peak RSS figures as JSON."""
    raw = policy_page(PAGE_BYTES) if kind == "page" else tag_soup()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = normalize(raw, headers=HEADERS)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "bytes": len(raw),
                "seconds": elapsed,
                "peak_mb": peak / 1024,
                "before_mb": before / 1024,
                "reason": result.reason,
            }
        )
    )


def memory(kind: str) -> dict[str, float]:
    """Run :func:`child` in a fresh interpreter; return its figures."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> int:
    """Print the benchmark's labelled figures; return 1 if a requirement is not met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--repeat", type=int, default=11, help="timings per capture (median)")
    parser.add_argument("--child", choices=("page", "soup"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    ok = True
    count, ours, theirs = speed(args.corpus, args.repeat)
    ratio = theirs / ours
    ok &= ratio >= MIN_RATIO
    print(f"captures timed:                               {count} (median of {args.repeat} runs)")
    print(f"normalizer, median per capture:               {ours:.2f} ms")
    print(f"readability-lxml + html2text, median/capture: {theirs:.2f} ms")
    print(f"speed ratio (peer time / normalizer time):    {ratio:.1f}x (required >= {MIN_RATIO}x)")
    page = memory("page")
    ok &= page["peak_mb"] < MAX_PEAK_MB and page["reason"] is None
    print(
        f"peak RSS, {page['bytes'] / 1e6:.1f} MB policy page:           "
        f"{page['peak_mb']:.0f} MB (required < {MAX_PEAK_MB:.0f} MB; {page['before_mb']:.0f} MB "
        f"before normalizing; {page['seconds']:.1f} s)"
    )
    soup = memory("soup")
    print(
        f"peak RSS, tag soup at the element cap:        {soup['peak_mb']:.0f} MB "
        f"({MAX_ELEMENTS - 10:,} elements, {soup['bytes'] / 1e6:.1f} MB; {soup['seconds']:.1f} s)"
    )
    print("result:                                       " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
