"""Fidelity of the normalizer on real archived policies, scored by ``../shared/tools/fidelity.py``.

The tool compares each capture's markdown with the corpus's reference extraction (bag-of-words
F1 and the share of reference headings found) and scores well-known peers the same way in the
same run. The bars are the issue's: mean F1 >= 0.97, heading score >= 0.9, no capture below 0.90,
F1 above trafilatura's and html2text's and no more than 0.01 below readability's. Skipped when the
corpus is not beside the repository; the peers come with ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TOOL = SHARED / "tools" / "fidelity.py"
CORPUS = SHARED / "corpus"
PEERS = ("html2text", "trafilatura", "readability")

# Run once per capture by the tool: print the markdown of one HTML file ("" for no policy).
SCRIPT = """\
import sys
from pathlib import Path

sys.path.insert(0, {repo!r})
from tracker.normalize import normalize

path, url = sys.argv[1], sys.argv[2]
result = normalize(Path(path).read_bytes(), headers={{"Content-Type": "text/html"}}, url=url)
sys.stdout.write(result.markdown)
"""

Scores = dict[str, list[dict[str, Any]]]

pytestmark = pytest.mark.skipif(
    not (TOOL.exists() and (CORPUS / "manifest.json").exists()),
    reason=f"no fidelity corpus at {SHARED}",
)


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> Scores:
    """Run the fidelity tool over the whole corpus once; return its per-capture scores."""
    tmp = tmp_path_factory.mktemp("fidelity")
    script = tmp / "normalize_one.py"
    script.write_text(SCRIPT.format(repo=str(REPO)), encoding="utf-8")
    output = tmp / "scores.json"
    command = [
        sys.executable,
        str(TOOL),
        "--quiet",
        "--cmd",
        f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {{html}} {{url}}",
        *(arg for peer in PEERS for arg in ("--peer", peer)),
        "--json",
        str(output),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    print(done.stdout)  # the summary table, shown by pytest -s or on failure
    return json.loads(output.read_text(encoding="utf-8"))


def mean(rows: list[dict[str, Any]], key: str) -> float:
    """Return the mean of ``key`` over the rows that have a value for it."""
    values = [row[key] for row in rows if row[key] is not None]
    return sum(values) / len(values)


def test_every_capture_is_scored_without_error(scores: Scores) -> None:
    ours = scores["cmd1"]
    assert len(ours) >= 15
    assert [row for row in ours if row["error"]] == []


def test_fidelity_meets_the_bars(scores: Scores) -> None:
    ours = scores["cmd1"]
    assert mean(ours, "f1") >= 0.97
    assert mean(ours, "headings") >= 0.9
    low = [(row["domain"], row["timestamp"], round(row["f1"], 3)) for row in ours]
    assert [capture for capture in low if capture[2] < 0.90] == []


def test_fidelity_beats_the_peers(scores: Scores) -> None:
    failed = {peer: rows[0]["error"] for peer in PEERS if (rows := scores[peer])[0]["error"]}
    assert not failed, f"peers did not run (pip install -e '.[bench]'): {failed}"
    ours = mean(scores["cmd1"], "f1")
    assert ours > mean(scores["trafilatura"], "f1")
    assert ours > mean(scores["html2text"], "f1")
    assert ours >= mean(scores["readability"], "f1") - 0.01
