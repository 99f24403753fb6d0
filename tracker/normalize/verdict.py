"""Tell captures that are no policy version (error pages, parked domains, ...) from policies.

The checks are deliberately conservative: each needs both a telltale phrase and a short page,
so a real policy that mentions "404" or "for sale" in passing is never rejected.
"""

from __future__ import annotations

import itertools
import re

_WORD = re.compile(r"\w+")
_NOT_FOUND_TITLE = re.compile(
    r"\b(?:not found|page (?:can ?not|could not|couldn't) be (?:found|displayed)|"
    r"(?:does not|doesn't) exist|no longer (?:exists|available)|(?:error )?404 error|error 404)\b",
    re.IGNORECASE,
)
_BARE_404 = re.compile(r"^\W*(?:error\W*)?404\b", re.IGNORECASE)
_NOT_FOUND_TEXT = re.compile(
    r"\b(?:page not found|file not found|error 404|404 error|404 not found|"
    r"the (?:page|document|file) you (?:requested|are looking for|were looking for)|"
    r"(?:could not|cannot|can't|couldn't) be found|no longer exists|"
    r"page (?:does not|doesn't) exist)\b",
    re.IGNORECASE,
)
_PARKED = re.compile(
    r"\b(?:(?:this|the) domain(?: name)?(?: [\w.-]+)? (?:is|may be) for sale|buy this domain|"
    r"domain parking|parked (?:free|domain|by)|this domain (?:has expired|is parked)|"
    r"domain names? for sale|(?:is|are) available for purchase)\b",
    re.IGNORECASE,
)
_LOGIN = re.compile(r"\b(?:log ?in|sign ?in|password|username)\b", re.IGNORECASE)
_MOVED = re.compile(
    r"\b(?:(?:has|have|was|were|been) (?:permanently )?moved|moved permanently|new location|"
    r"redirect(?:ed|ing)?|click here|no longer (?:located|hosted))\b",
    re.IGNORECASE,
)
# Below these word counts a page with a telltale phrase is that kind of page, not a policy.
_SOFT_404_TITLED_WORDS = 300
_SOFT_404_WORDS = 80
_BARE_404_WORDS = 80
_PARKED_WORDS = 400
_LOGIN_WORDS = 150
_REFRESH_WORDS = 80
_MOVED_WORDS = 50
_MIN_WORDS = 20


def word_count(text: str, cap: int) -> int:
    """Return the number of words in ``text``, counting no further than ``cap``."""
    return sum(1 for _ in itertools.islice(_WORD.finditer(text), cap))


def _first_heading(markdown: str) -> str:
    """Return the text of the first markdown heading, or ""."""
    found = re.search(r"^#{1,6} (.*)$", markdown, re.MULTILINE)
    return found.group(1) if found else ""


def verdict(title: str, markdown: str, *, refresh: str | None, password: bool) -> str | None:
    """Return why the page (title + extracted markdown body) is no policy, or None if it is one.

    ``refresh`` is the page's meta-refresh content, ``password`` whether it has a password field.
    """
    words = word_count(markdown, _PARKED_WORDS)
    if words == 0:
        return "empty body"
    if words >= _PARKED_WORDS:  # long enough to be a policy whatever it says
        return None
    heading = _first_heading(markdown)
    if words < _SOFT_404_TITLED_WORDS and (
        _NOT_FOUND_TITLE.search(title) or _NOT_FOUND_TITLE.search(heading)
    ):
        return "soft 404: page not found"
    if words < _BARE_404_WORDS and (_BARE_404.search(title) or _BARE_404.search(heading)):
        return "soft 404: page not found"
    if words < _SOFT_404_WORDS and _NOT_FOUND_TEXT.search(markdown):
        return "soft 404: page not found"
    if words < _PARKED_WORDS and (_PARKED.search(markdown) or _PARKED.search(title)):
        return "parked domain"
    if password and words < _LOGIN_WORDS and _LOGIN.search(title + " " + markdown):
        return "login wall"
    if refresh and words < _REFRESH_WORDS:
        return "moved stub"
    if words < _MOVED_WORDS and _MOVED.search(markdown):
        return "moved stub"
    if words < _MIN_WORDS:
        return f"near-empty body: {words} words"
    return None
