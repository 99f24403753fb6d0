"""``policytrail serve`` driven by a real headless Chromium (Debian's, through Selenium).

Screenshots of each step are saved under ``test-artifacts/`` (git-ignored).
"""

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import POLICYTRAIL
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from test_browse import EVIL_NAME, INJECTION_PAGES, build_injection_db

from db import Store

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)


def serve(db: Path) -> Iterator[str]:
    """Run ``policytrail serve`` on a free loopback port; yield its base URL, then stop it."""
    process = subprocess.Popen(
        [str(POLICYTRAIL), "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert " at http://127.0.0.1:" in line, line + (
            process.stderr.read() if process.stderr else ""
        )
        assert "(read-only)" in line
        yield line.rsplit(" at ", 1)[1].strip().rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def site(crawled_db: Path) -> Iterator[str]:
    """The crawled sample database, served read-only."""
    yield from serve(crawled_db)


@pytest.fixture(scope="module")
def evil_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of injection attempts, served read-only."""
    yield from serve(build_injection_db(tmp_path_factory.mktemp("evil") / "evil.db"))


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Debian's headless Chromium with a fresh profile (install it with ``make system-deps``)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromedriver are needed: run `make system-deps`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="policytrail-chromium-")
    for argument in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def screenshot(browser: WebDriver, name: str) -> None:
    """Save the whole page as ``test-artifacts/NAME.png``."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(height, 600), 4000))
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    browser.set_window_size(1280, 1000)


def texts(browser: WebDriver, selector: str) -> list[str]:
    """The visible text of every element matching a CSS selector."""
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, selector)]


def open_timeline(browser: WebDriver, site: str, policy: str) -> None:
    """From the list of policies, open a policy's page."""
    browser.get(f"{site}/policytrail/policies")
    row = f"//tr[td[contains(@class, 'col-name') and normalize-space()='{policy}']]"
    browser.find_element(By.XPATH, f"{row}/td[contains(@class, 'col-id')]/a").click()


def test_policy_timeline(browser: WebDriver, site: str, crawled_db: Path) -> None:
    store = Store(crawled_db)
    history = store.history(store.policy("privacy")["id"])
    store.close()
    open_timeline(browser, site, "privacy")
    assert browser.find_element(By.CSS_SELECTOR, ".pt-policy h2").text == "Timeline of privacy"
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.pt-timeline a.pt-revision")
    assert len(bars) == len(history) >= 10
    assert all(bar.size["height"] > 0 for bar in bars)
    rows = [row.split(" ") for row in texts(browser, ".pt-revisions tbody tr")]
    assert len(rows) == len(history)
    assert rows[0][:3] == ["2004-03-15", "first", "version"]
    gdpr = next(r for r in history if r["date"].startswith("2018-05-24"))
    assert [
        "2018-05-24",
        str(gdpr["added"]),
        "added",
        str(gdpr["words_added"]),
        str(gdpr["words_removed"]),
        str(gdpr["words"]),
    ] in rows
    screenshot(browser, "timeline")


def test_open_a_diff(browser: WebDriver, site: str) -> None:
    open_timeline(browser, site, "terms")
    browser.find_element(
        By.XPATH, "//*[local-name()='a'][*[local-name()='title' and starts-with(., '2014-02-20')]]"
    ).click()
    heading = browser.find_element(By.CSS_SELECTOR, ".pt-revision-diff h2").text
    assert heading == "terms on 2014-02-20: 1 modified"
    modified = browser.find_element(By.CSS_SELECTOR, "li.pt-modified")
    assert "You may return any unused item within" in modified.text
    assert [part.text for part in modified.find_elements(By.TAG_NAME, "del")] == ["14"]
    assert [part.text for part in modified.find_elements(By.TAG_NAME, "ins")] == ["30"]
    screenshot(browser, "diff")
    open_timeline(browser, site, "privacy")
    browser.find_element(By.LINK_TEXT, "2015-05-19").click()
    assert "privacy on 2015-05-19" in browser.find_element(By.CSS_SELECTOR, "h2").text
    assert "will not sell" in " ".join(texts(browser, "li.pt-change del"))
    assert "may share" in " ".join(texts(browser, "li.pt-change ins"))
    screenshot(browser, "diff-sell")
    browser.find_element(By.CSS_SELECTOR, "a[rel=prev]").click()
    assert "privacy on 2014-10-07" in browser.find_element(By.CSS_SELECTOR, "h2").text


def wait_for_page(browser: WebDriver, url_part: str) -> None:
    """Wait until a submitted form's page, whose URL holds ``url_part``, has loaded."""
    WebDriverWait(browser, 20).until(
        lambda page: (
            url_part in page.current_url
            and page.execute_script("return document.readyState") == "complete"
        )
    )


def test_search(browser: WebDriver, site: str) -> None:
    browser.get(f"{site}/policytrail/clauses")
    box = browser.find_element(By.CSS_SELECTOR, "input[name=_search]")
    box.send_keys("sell", Keys.ENTER)
    wait_for_page(browser, "_search=sell")
    found = texts(browser, "td.col-text")
    assert found and all("sell" in text.lower() for text in found)
    assert any("We will not sell your personal information" in text for text in found)
    screenshot(browser, "search")
    browser.get(f"{site}/policytrail/phrase")
    browser.find_element(By.CSS_SELECTOR, "input[name=phrase]").send_keys(
        "will not sell", Keys.ENTER
    )
    wait_for_page(browser, "phrase=will")
    assert texts(browser, "td.col-text") == [
        "**We will not sell your personal information to third parties.**"
    ]
    assert texts(browser, "td.col-first_seen") == ["2004-03-15T09:31:12Z"]
    assert texts(browser, "td.col-last_seen") == ["2014-10-07T15:30:04Z"]
    screenshot(browser, "phrase")


def assert_nothing_ran(browser: WebDriver, page: str) -> None:
    """No injected script ran, no alert opened, and no handler or script link is in the DOM."""
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018
    assert browser.execute_script("return window.pwned") is None, page
    assert (
        browser.execute_script(
            "return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
            ".filter(a => a.name.startsWith('on')).length"
        )
        == 0
    ), page
    links = browser.execute_script(
        "return [...document.querySelectorAll('[href], [src]')]"
        ".map(e => e.getAttribute('href') || e.getAttribute('src'))"
    )
    assert not [link for link in links if "javascript" in link.lower()], page
    assert browser.find_elements(By.CSS_SELECTOR, "iframe, img") == [], page


def test_injected_scripts_do_not_run(browser: WebDriver, evil_site: str) -> None:
    for page in INJECTION_PAGES:
        browser.get(evil_site + page.replace(EVIL_NAME, quote(EVIL_NAME)))
        assert_nothing_ran(browser, page)
        values = [
            field.get_attribute("value") for field in browser.find_elements(By.TAG_NAME, "input")
        ]
        shown = " ".join([browser.find_element(By.TAG_NAME, "body").text, *filter(None, values)])
        assert "window.pwned" in shown, page
    browser.get(f"{evil_site}/policytrail/revisions/2")
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.pt-modified")) >= 9
    screenshot(browser, "injection-diff")
    browser.get(f"{evil_site}/policytrail/versions/1")
    markdown = browser.find_element(By.CSS_SELECTOR, ".pt-markdown")
    assert "[a link](javascript:window.pwned='link')" in markdown.text
    assert markdown.find_elements(By.TAG_NAME, "a") == []
    screenshot(browser, "injection-version")
