"""Shared fixtures: a fresh database, the sample pywb archive, and a crawled sample database."""

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from archive import SAMPLE_SITE, PywbArchive, build_sample_warc  # noqa: E402

from db import Store  # noqa: E402

POLICYTRAIL = Path(sys.executable).parent / "policytrail"
SITE = "http://www.brightkettle.example"
PRIVACY_URL = f"{SITE}/privacy.html"
MOVED_URL = f"{SITE}/legal/privacy"
TERMS_URL = f"{SITE}/terms.html"


def sample_captures() -> list[dict]:
    """The sample archive's captures, as listed in its captures.json."""
    return json.loads((SAMPLE_SITE / "captures.json").read_text())


def run_policytrail(*args: str, db: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``policytrail`` command in a subprocess (crawls need their own)."""
    env = {**os.environ, "COLUMNS": "200"}
    if db is not None:
        env["POLICYTRAIL_DB"] = str(db)
    return subprocess.run(
        [str(POLICYTRAIL), *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty database."""
    opened = Store(tmp_path / "test.db")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def pywb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PywbArchive]:
    """The sample site served by a real pywb on a loopback port."""
    warc = build_sample_warc(tmp_path_factory.mktemp("warc") / "sample.warc.gz")
    archive = PywbArchive([warc])
    archive.start()
    yield archive
    archive.stop()


@pytest.fixture(scope="session")
def sample_archive(pywb: PywbArchive) -> str:
    """The sample archive's collection URL."""
    return pywb.url


@pytest.fixture(scope="session")
def crawled_db(sample_archive: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with both sample policies crawled once from the sample archive."""
    db = tmp_path_factory.mktemp("crawled") / "sample.db"
    for args in (
        ("add", PRIVACY_URL, "--name", "privacy"),
        ("add", TERMS_URL, "--name", "terms", "--kind", "terms"),
        ("crawl", "--archive", sample_archive, "--no-limits"),
    ):
        result = run_policytrail(*args, db=db)
        assert result.returncode == 0, result.stderr
    return db


@pytest.fixture
def crawled_copy(crawled_db: Path, tmp_path: Path) -> Path:
    """A private copy of the crawled database, for tests that change it."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(crawled_db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy
