"""Browsing in Datasette: metadata, search, canned queries, rendered diffs, timelines, feeds."""

import asyncio
import html
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from datasette.app import Datasette

from db import Store
from db.plugin import METADATA, diff_html, render_markdown
from tracker.serve import make_datasette

ATOM = "{http://www.w3.org/2005/Atom}"
HEAD = "# Privacy\n\n## Sharing\n\n"
TEXTS = {
    "2010-03-01": HEAD + "We will not sell your data.\n\nWe keep logs.\n",
    "2015-06-01": HEAD + "We may sell your data to partners.\n\nWe keep logs.\n",
    "2018-05-25": HEAD + "We may sell your data to partners.\n\nWe keep logs.\n"
    "\n## Your rights\n\nYou can ask for a copy of your data.\n",
}
#: Archived text trying every way to run script in a page that shows it.
INJECTION = [
    "<script>window.pwned = 'script'</script>",
    "<img src=x onerror=\"window.pwned = 'onerror'\">",
    "[a link](javascript:window.pwned='link')",
    "[a spaced link]( JaVaScRiPt:window.pwned='case')",
    "<a href=\"javascript:window.pwned='a'\">an html link</a>",
    "![an image](javascript:window.pwned='image')",
    "<svg onload=\"window.pwned = 'svg'\"></svg>",
    "<iframe src=\"javascript:window.pwned='iframe'\"></iframe>",
    "\"><script>window.pwned = 'attribute'</script>",
]
EVIL_NAME = "evil<script>window.pwned='name'</script>"


def get(datasette: Datasette, path: str) -> httpx.Response:
    """GET a path from the Datasette in-process."""
    return asyncio.run(datasette.client.get(path))


def add_versions(store: Store, name: str, texts: dict[str, str], title: str = "Privacy") -> int:
    """A policy with one capture per dated text, refreshed; return its id."""
    policy_id = store.add_policy(f"http://www.injection.example/{name}", name=name)["id"]
    for date, text in texts.items():
        store.save_capture(
            {
                "policy_id": policy_id,
                "url": "http://x.example/p",
                "timestamp": date.replace("-", "") + "120000",
                "outcome": "version",
                "status": 200,
            },
            markdown=text,
            title=title,
        )
    store.refresh(policy_id)
    return policy_id


def injection_texts() -> dict[str, str]:
    """Two versions of a policy made of injection attempts, the second rewording each."""
    heading = "## <img src=x onerror=\"window.pwned='heading'\"> Sharing\n\n"
    first = "\n\n".join(f"Clause {n}: {payload}" for n, payload in enumerate(INJECTION))
    second = "\n\n".join(f"Clause {n}: now {payload}" for n, payload in enumerate(INJECTION))
    return {"2012-01-01": heading + first + "\n", "2013-01-01": heading + second + "\n"}


def build_injection_db(path: Path) -> Path:
    """A database whose only policy, names and titles are injection attempts."""
    store = Store(path)
    add_versions(
        store, EVIL_NAME, injection_texts(), title="</title><script>window.pwned='title'</script>"
    )
    store.close()
    return path


@pytest.fixture
def datasette(store: Store) -> Datasette:
    """A read-only Datasette, as ``policytrail serve`` makes it, on a three-version policy."""
    add_versions(store, "example-privacy", TEXTS)
    served = make_datasette(store.path)
    asyncio.run(served.invoke_startup())
    return served


def test_every_table_and_column_has_a_description(store: Store) -> None:
    tables = json.loads(METADATA.read_text())["databases"]["policytrail"]["tables"]
    for table in store.db.table_names():
        if table.startswith(("clauses_fts", "versions_fts")):
            continue
        assert tables.get(table, {}).get("description"), f"table {table} has no description"
        columns = tables[table].get("columns", {})
        for column in store.db.table(table).columns_dict:
            assert columns.get(column), f"{table}.{column} has no description"


def test_database_page_describes_tables_and_queries(datasette: Datasette) -> None:
    page = get(datasette, "/policytrail").text
    assert "Tracked policies, every archived capture" in page
    assert '<a href="/policytrail/revisions">revisions</a>' in page
    assert ">A policy&#39;s timeline</a>" in page and ">The largest changes</a>" in page
    assert 'href="/policytrail/raw_captures"' not in page
    assert "<h1>Revisions</h1>" in get(datasette, "/policytrail/revisions").text


def test_policy_page_shows_timeline_chart(datasette: Datasette) -> None:
    response = get(datasette, "/policytrail/policies/1")
    assert response.status_code == 200
    page = response.text
    assert "Timeline of example-privacy" in page
    chart = re.search(r'<svg class="pt-timeline".*?</svg>', page, re.S)
    assert chart, "no timeline chart"
    assert chart.group(0).count('<a href="/policytrail/revisions/') == 3
    assert "2015-06-01: 1 modified, +3 / -2 words" in chart.group(0)
    assert '<a href="/policytrail/revisions/2">2015-06-01</a>' in page
    assert 'href="/-/policytrail/policytrail/changes.atom?policy=example-privacy"' in page
    assert 'href="/-/policytrail-static/policytrail.css"' in page


def test_policy_without_versions_has_no_timeline(datasette: Datasette, store: Store) -> None:
    store.add_policy("http://www.example.org/terms", name="not-crawled-yet")
    page = get(datasette, "/policytrail/policies/2").text
    assert "not-crawled-yet" in page and "Timeline of" not in page


def test_revision_page_shows_word_diff(datasette: Datasette) -> None:
    page = get(datasette, "/policytrail/revisions/2").text
    assert "example-privacy on 2015-06-01: 1 modified" in page
    assert "We <del>will not</del><ins>may</ins> sell your data" in page
    assert 'href="/policytrail/versions/1">text before</a>' in page
    assert 'rel="next">next change (2018-05-25)' in page
    added = get(datasette, "/policytrail/revisions/3").text
    assert '<li class="pt-change pt-added">' in added
    assert "<ins>You can ask for a copy of your data.</ins>" in added


def test_version_is_rendered_markdown(datasette: Datasette) -> None:
    page = get(datasette, "/policytrail/versions/3").text
    assert '<div class="pt-markdown"><h1>Privacy</h1>' in page
    assert "<h2>Your rights</h2>" in page


def test_change_links_its_revision_policy_and_versions(datasette: Datasette) -> None:
    page = get(datasette, "/policytrail/changes?kind=modified").text
    assert (
        '<a href="/policytrail/revisions/2">2015-06-01</a> of '
        '<a href="/policytrail/policies/1">example-privacy</a>: '
        '<a href="/policytrail/versions/1">version 1</a> &rarr; '
        '<a href="/policytrail/versions/2">version 2</a>'
    ) in page
    assert "<del>will not</del><ins>may</ins>" in page


def test_full_text_search(datasette: Datasette) -> None:
    rows = get(datasette, "/policytrail/clauses.json?_search=sell&_shape=array").json()
    assert {row["text"] for row in rows} == {
        "We will not sell your data.",
        "We may sell your data to partners.",
    }
    assert len(get(datasette, "/policytrail/versions.json?_search=rights&_shape=array").json()) == 1
    assert 'name="_search"' in get(datasette, "/policytrail/clauses").text


def test_facets_by_policy_year_and_kind(datasette: Datasette) -> None:
    data = get(datasette, "/policytrail/revisions.json").json()
    years = {item["value"]: item["count"] for item in data["facet_results"]["date"]["results"]}
    assert years == {"2010": 1, "2015": 1, "2018": 1}
    policies = data["facet_results"]["policy_id"]["results"]
    assert [(item["label"], item["count"]) for item in policies] == [("example-privacy", 3)]
    filtered = get(datasette, "/policytrail/revisions.json?date__startswith=2015&_shape=array")
    assert [row["date"][:10] for row in filtered.json()] == ["2015-06-01"]
    kinds = get(datasette, "/policytrail/changes.json").json()["facet_results"]["kind"]
    assert {item["value"] for item in kinds["results"]} == {"modified", "added"}


def query(datasette: Datasette, name: str, **params: str) -> list[dict]:
    """The rows of a canned query, as dicts."""
    args = "&".join(f"{key}={value}" for key, value in params.items())
    response = get(datasette, f"/policytrail/{name}.json?_shape=array&{args}")
    assert response.status_code == 200, response.text
    return response.json()


def test_canned_queries(datasette: Datasette) -> None:
    timeline = query(datasette, "timeline", policy="example-privacy")
    assert [(row["date"][:10], row["words"]) for row in timeline] == [
        (date, len(text.split())) for date, text in TEXTS.items()
    ]
    between = query(
        datasette, "changes_between", policy="example-privacy", start="2015", end="2015-12"
    )
    assert [row["kind"] for row in between] == ["modified"]
    assert len(query(datasette, "changes_between", policy="example-privacy", start="", end="")) == 3
    phrase = query(datasette, "phrase", phrase="not sell")
    assert [(row["text"], row["first_seen"][:4], row["last_seen"][:4]) for row in phrase] == [
        ("We will not sell your data.", "2010", "2010")
    ]
    assert len(query(datasette, "phrase", phrase="sell your data")) == 2
    latest = query(datasette, "latest_changes")
    assert latest[0]["date"][:10] == "2018-05-25" and latest[-1]["kind"] == "modified"
    largest = query(datasette, "largest_changes")
    assert [row["date"][:10] for row in largest] == ["2018-05-25", "2015-06-01"]


def test_query_results_link_ids_and_render_diffs(datasette: Datasette) -> None:
    page = get(datasette, "/policytrail/changes_between?policy=example-privacy&start=&end=").text
    assert '<a href="/policytrail/revisions/2">2</a>' in page
    assert "<del>will not</del><ins>may</ins>" in page


def test_atom_feeds(datasette: Datasette, store: Store) -> None:
    add_versions(store, "other-terms", {"2020-01-01": "# Terms\n\nBe nice.\n"})
    feed = ET.fromstring(get(datasette, "/-/policytrail/policytrail/changes.atom").content)
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == [
        "other-terms: first version",
        "example-privacy: 2 added",
        "example-privacy: 1 modified",
        "example-privacy: first version",
    ]
    assert feed.findtext(f"{ATOM}updated") == "2020-01-01T12:00:00Z"
    assert entries[2].findtext(f"{ATOM}id") == "http://localhost/policytrail/revisions/2"
    assert "<del>will not</del><ins>may</ins>" in entries[2].findtext(f"{ATOM}content")
    response = get(datasette, "/-/policytrail/policytrail/changes.atom?policy=other-terms")
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert len(ET.fromstring(response.content).findall(f"{ATOM}entry")) == 1
    assert get(datasette, "/-/policytrail/policytrail/changes.atom?policy=nope").status_code == 404
    assert get(datasette, "/-/policytrail/nope/changes.atom").status_code == 404


def test_served_read_only_by_default(store: Store) -> None:
    add_versions(store, "example-privacy", TEXTS)
    read_only = make_datasette(store.path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(read_only.get_database("policytrail").execute_write("DELETE FROM changes"))
    writable = make_datasette(store.path, read_only=False)
    asyncio.run(writable.get_database("policytrail").execute_write("DELETE FROM changes"))
    assert store.db.table("changes").count == 0


def test_markdown_and_diff_rendering_escape_everything() -> None:
    rendered = render_markdown("\n\n".join(INJECTION))
    assert "<script" not in rendered and "<img" not in rendered and "<iframe" not in rendered
    assert "javascript:" not in " ".join(re.findall(r'href="[^"]*"', rendered))
    assert "&lt;script&gt;" in rendered
    assert str(render_markdown("[ok](https://example.com/p)")) == (
        '<p><a href="https://example.com/p">ok</a></p>\n'
    )
    assert str(diff_html([[0, "a "], [-1, "<b>"], [1, "<script>x</script>"]])) == (
        "a <del>&lt;b&gt;</del><ins>&lt;script&gt;x&lt;/script&gt;</ins>"
    )


INJECTION_PAGES = [
    "/policytrail/policies",
    "/policytrail/policies/1",
    "/policytrail/revisions/1",
    "/policytrail/revisions/2",
    "/policytrail/versions",
    "/policytrail/versions/1",
    "/policytrail/changes",
    "/policytrail/clauses?_search=pwned",
    "/policytrail/captures",
    "/policytrail/timeline?policy=" + EVIL_NAME,
    "/policytrail/latest_changes",
    "/policytrail/phrase?phrase=window+pwned",
]


def test_injected_markup_is_escaped_on_every_page(tmp_path: Path) -> None:
    served = make_datasette(build_injection_db(tmp_path / "evil.db"))
    for path in INJECTION_PAGES:
        response = get(served, path)
        assert response.status_code == 200, path
        page = response.text
        assert "window.pwned" in html.unescape(page), f"{path} does not show the text"
        for tag in re.findall(r"<[a-z][^>]*>", page, re.I):
            attributes = html.unescape(tag).lower()
            assert not re.search(r"\son[a-z]+\s*=|javascript:", attributes), (path, tag)
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S | re.I):
            assert "pwned" not in script, (path, script)
        assert not re.search(r"<(img|iframe)\b", page, re.I), path
    feed = get(served, "/-/policytrail/policytrail/changes.atom").content
    contents = [entry.text or "" for entry in ET.fromstring(feed).iter(f"{ATOM}content")]
    assert len(contents) == 1 and "window.pwned" in html.unescape(contents[0])
    assert "<script" not in contents[0] and "<img" not in contents[0]
