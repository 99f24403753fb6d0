"""The command line: readable output, JSON for scripts, one-line errors with exit code 1."""

import json
import subprocess
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import POLICYTRAIL, PRIVACY_URL, SAMPLE_SITE

from db import Store
from tracker.cli import cli

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli"


def invoke(*args: str, db: Path | None = None) -> tuple[int, str]:
    """Run a command in-process; return its exit code and everything it printed."""
    env = {"POLICYTRAIL_DB": str(db)} if db else {}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database path with one policy added."""
    path = tmp_path / "cli.db"
    assert invoke("add", PRIVACY_URL, "--name", "privacy", db=path)[0] == 0
    return path


def assert_one_line_error(code: int, output: str, starts: str) -> None:
    """A failure: exit code 1 and a single ``Error: ...`` line, no traceback."""
    assert code == 1, output
    assert output.startswith(f"Error: {starts}"), output
    assert output.strip().count("\n") == 0, output


def test_add_reports_new_and_already_tracked(db: Path) -> None:
    code, output = invoke("add", PRIVACY_URL, db=db)
    assert code == 0
    assert output.startswith("Already tracked as privacy")
    code, output = invoke("add", "https://www.example.com/legal/terms", "--json", db=db)
    assert json.loads(output)["added"][0]["name"] == "example.com-legal-terms"


def test_policies_lists_what_is_tracked(db: Path) -> None:
    code, output = invoke("policies", "--json", db=db)
    assert code == 0
    assert [p["name"] for p in json.loads(output)] == ["privacy"]


def test_unknown_policy(db: Path) -> None:
    for command in ("history", "show", "diff"):
        assert_one_line_error(*invoke(command, "no-such-policy", db=db), "no tracked policy")


def test_missing_database(tmp_path: Path) -> None:
    code, output = invoke("history", "x", db=tmp_path / "missing.db")
    assert_one_line_error(code, output, "no database at")
    assert not (tmp_path / "missing.db").exists()


def test_bad_arguments(db: Path) -> None:
    assert_one_line_error(*invoke("add", "not a url", db=db), "not a web page URL")
    assert_one_line_error(*invoke("crawl", "--archive", "nowhere", db=db), "not an archive URL")
    assert_one_line_error(*invoke("show", "privacy", "--at", "soon", db=db), "not a date")
    assert_one_line_error(*invoke("show", "privacy", db=db), "policy privacy has no stored version")


def test_crawl_with_nothing_tracked(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    Store(path).close()
    assert_one_line_error(*invoke("crawl", db=path), "no policies tracked yet")


def test_normalize_prints_markdown() -> None:
    page = SAMPLE_SITE / "pages" / "privacy-2018-05-24.html"
    code, output = invoke("normalize", str(page), "--url", "http://www.brightkettle.example/x")
    assert code == 0
    assert output.startswith("# ")
    assert "Your rights under the GDPR" in output
    assert "Accept" not in output.split("GDPR")[0]  # the cookie banner is gone


def test_normalize_refuses_a_404_page() -> None:
    page = SAMPLE_SITE / "pages" / "privacy-2016-01-12-404.html"
    code, output = invoke("normalize", str(page))
    assert_one_line_error(code, output, f"{page} is not a policy")


def test_compare_two_pages_as_json() -> None:
    old = SAMPLE_SITE / "pages" / "privacy-2016-03-03.html"
    new = SAMPLE_SITE / "pages" / "privacy-2018-05-24.html"
    code, output = invoke("compare", str(old), str(new), "--format", "json")
    assert code == 0
    data = json.loads(output)
    assert data["summary"]["added"] >= 8
    assert {c["kind"] for c in data["changes"]} == {"added"}


def test_compare_formats_escape_archived_text(tmp_path: Path) -> None:
    old = tmp_path / "old.md"
    new = tmp_path / "new.md"
    old.write_text("# P\n\nWe keep data.\n")
    new.write_text("# P\n\nWe keep data.\n\n<script>alert(1)</script> [bold]x[/bold]\n")
    code, html = invoke("compare", str(old), str(new), "--format", "html")
    assert code == 0
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html
    code, text = invoke("compare", str(old), str(new))
    assert "[bold]x[/bold]" in text


def test_every_command_has_help_and_a_docs_page() -> None:
    for name, command in cli.commands.items():
        code, output = invoke(name, "--help")
        assert code == 0
        assert command.help and len(command.help.split()) >= 5, name
        page = DOCS / f"{name}.md"
        assert page.exists(), f"docs/cli/{name}.md is missing"
        assert f"policytrail {name}" in page.read_text(), name


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n" * 100)
    assert_one_line_error(*invoke("history", "x", db=path), f"{path} is not a policytrail database")


def test_search_survives_broken_query_syntax(db: Path) -> None:
    for query in ('"', "AND", "sell)", "*"):
        code, output = invoke("search", query, db=db)
        assert code == 0, output


def test_urls_are_canonical_and_their_forms_are_one_policy(db: Path) -> None:
    for same in (
        "HTTP://WWW.BRIGHTKETTLE.EXAMPLE:80/privacy.html#top",
        "https://brightkettle.example/privacy.html",
    ):
        code, output = invoke("add", same, "--name", "again", db=db)
        assert (code, output.split(":")[0]) == (0, "Already tracked as privacy")
    for bad in ("http://[::1/privacy", "http://exa mple.com/x", "http://x.example:99999/p"):
        assert_one_line_error(*invoke("add", bad, db=db), "not a web page URL")


def test_a_policy_named_with_digits_is_found_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "digits.db"
    invoke("add", "http://a.example/privacy", "--name", "2", db=path)
    invoke("add", "http://b.example/privacy", db=path)
    code, output = invoke("policies", "--json", db=path)
    assert [(p["id"], p["name"]) for p in json.loads(output)] == [
        (1, "2"),
        (2, "b.example-privacy"),
    ]
    store = Store(path)
    assert store.policy("2")["url"] == "http://a.example/privacy"
    assert store.policy(2)["url"] == "http://a.example/privacy"
    assert store.policy("b.example-privacy")["id"] == 2


def test_bad_archive_urls_and_statuses_are_one_line(db: Path) -> None:
    for archive in ("http://[::1", "http://127.0.0.1:99999/web"):
        assert_one_line_error(*invoke("crawl", "--archive", archive, db=db), "not an archive URL")
    code, output = invoke("crawl", "--status", "(", db=db)
    assert code == 2 and "not a regular expression" in output


def test_concurrent_adds_track_each_url_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    Store(path).close()
    commands = [
        ("add", "http://www.race.example/privacy", "--name", "r"),
        ("add", "http://www.race.example/privacy", "--name", "s"),
        ("add", "https://race.example/privacy", "--name", "t"),
        ("add", "http://www.other.example/privacy", "--name", "r"),
    ]
    processes = [
        subprocess.Popen(
            [str(POLICYTRAIL), *command, "--db", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert all("Traceback" not in err for _, err in outputs)
    assert all(process.returncode in (0, 1) for process in processes)
    database = sqlite_utils.Database(path)
    urls = [row["url"] for row in database.table("policy_urls").rows]
    # Whichever form of the race page came first is tracked, and only that one.
    race = {"http://www.race.example/privacy", "https://race.example/privacy"}
    assert len([url for url in urls if url in race]) == 1
    assert database.table("policies").count == len(urls)
    # "r" went to whichever site came first; a refused add left nothing half-added.
    refused = [err for _, err in outputs if err.startswith("Error: a policy named 'r'")]
    assert "http://www.other.example/privacy" in urls or refused
