"""Finding a site's policies on its home page over the years, and bulk registration."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from conftest import run_policytrail
from fault_archive import Capture, FaultArchive

from crawler.discovery import find_policy_links
from db.policy_list import read_policy_list

HOME = "http://www.shop.example/"


def home_page(privacy_href: str, terms_href: str, language: str = "en") -> bytes:
    """A home page with a menu, some text, and policy links in the footer."""
    labels = {
        "en": ("Privacy Policy", "Terms of Use"),
        "de": ("Datenschutzerklärung", "AGB"),
        "es": ("Política de privacidad", "Términos y condiciones"),
    }[language]
    return (
        f"<html><body><nav><a href='/shop'>Shop</a><a href='/about'>About us</a></nav>"
        f"<p>We sell kettles. <a href='/blog/privacy-tips'>Read our blog post about how we "
        f"think about privacy and security when you shop online with us</a></p>"
        f"<footer><a href='{privacy_href}'>{labels[0]}</a> | "
        f"<a href='{terms_href}'>{labels[1]}</a></footer></body></html>"
    ).encode()


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_policy_links_are_found_in_several_languages(language: str) -> None:
    links = find_policy_links(home_page("/legal/p", "/legal/t", language), HOME)
    assert links["privacy"].url == "http://www.shop.example/legal/p"
    assert links["terms"].url == "http://www.shop.example/legal/t"


def test_archive_links_are_unwrapped() -> None:
    page = home_page(
        "/web/20050101000000/http://www.shop.example/privacy.html",
        "https://web.archive.org/web/2005/http://www.shop.example/terms.html",
    )
    links = find_policy_links(page, HOME)
    assert links["privacy"].url == "http://www.shop.example/privacy.html"
    assert links["terms"].url == "http://www.shop.example/terms.html"


def test_a_page_without_policy_links_finds_nothing() -> None:
    assert find_policy_links(b"<a href='/shop'>Shop</a><a href='/cart'>Cart</a>", HOME) == {}


@pytest.fixture
def archive() -> Iterator[FaultArchive]:
    """Home-page captures over the years: the privacy policy moves in 2012."""
    server = FaultArchive(
        captures=[
            Capture(HOME, "20050601000000", home_page("/privacy.html", "/terms.html")),
            Capture(HOME, "20090601000000", home_page("privacy.html", "terms.html")),
            Capture(HOME, "20120601000000", home_page("/legal/privacy", "/terms.html")),
            Capture(HOME, "20150601000000", home_page("/legal/privacy", "/legal/terms")),
        ]
    ).start()
    yield server
    server.stop()


def test_discover_registers_each_policy_with_its_urls_over_time(
    archive: FaultArchive, tmp_path: Path
) -> None:
    db = tmp_path / "discover.db"
    result = run_policytrail(
        "discover", "shop.example", "--archive", archive.url, "--no-limits", "--json", db=db
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["shop.example"]
    assert found["privacy"] == [
        "http://www.shop.example/privacy.html",
        "http://www.shop.example/legal/privacy",
    ]
    database = sqlite_utils.Database(db)
    urls = {
        (row["name"], row["url"])
        for row in database.query(
            "SELECT p.name, u.url FROM policy_urls u JOIN policies p ON p.id = u.policy_id"
        )
    }
    assert ("shop.example-privacy", "http://www.shop.example/legal/privacy") in urls
    assert ("shop.example-terms", "http://www.shop.example/legal/terms") in urls
    assert len(urls) == 4
    again = run_policytrail("discover", "shop.example", "--archive", archive.url, db=db)
    assert again.returncode == 0, again.stderr
    assert database.table("policy_urls").count == 4


def test_add_from_file_reports_bad_lines_and_keeps_good_ones(tmp_path: Path) -> None:
    listing = tmp_path / "policies.txt"
    listing.write_text(
        "# tracked policies\n"
        "https://www.a.example/privacy\n"
        "not a url at all\n"
        "b.example\n"
        "name,url,kind\n"
        "c-terms,https://c.example/terms,terms\n"
        "d,https://d.example/p,contract\n"
        "https://www.a.example/privacy\n"
    )
    entries, errors = read_policy_list(listing)
    assert [e.line for e in entries] == [2, 4, 6, 8]
    assert errors == [
        "line 3: not a web page URL: 'not a url at all'",
        "line 7: unknown kind 'contract' (one of privacy, terms, cookies, other)",
    ]
    db = tmp_path / "bulk.db"
    result = run_policytrail("add", "--from-file", str(listing), db=db)
    assert result.returncode == 0, result.stderr
    assert "Skipped line 3" in result.stderr and "Skipped line 7" in result.stderr
    assert result.stdout.strip().endswith("3 added, 1 already tracked, 2 skipped")
    database = sqlite_utils.Database(db)
    assert database.table("policies").count == 2
    assert [row["domain"] for row in database.table("sites").rows] == ["b.example"]
