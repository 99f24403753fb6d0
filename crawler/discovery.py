"""Find a site's policy links on its home page: privacy policy and terms, in several languages.

A link is scored by its anchor text (and title) and by its URL's path; the best link of each
kind wins. Archive URLs are unwrapped and relative URLs made absolute against the page's
original URL.
"""

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from crawler.archive import original_url

#: Anchor texts, lower-cased, that name each kind of policy.
TEXT_PATTERNS = {
    "privacy": re.compile(
        r"privacy|privacidad|privacidade|confidentialit|vie priv|datenschutz|privacybeleid"
        r"|privatsphäre|informativa|riservatezza|prywatno|конфиденциальн|プライバシー|隐私"
        r"|개인정보|data protection|personal (data|information)",
    ),
    "terms": re.compile(
        r"terms|conditions|condiciones|términos|termos|nutzungsbedingungen|\bagb\b"
        r"|mentions légales|termini|condizioni|voorwaarden|regulamin|соглашение|利用規約"
        r"|user agreement|legal notice",
    ),
}
#: URL path fragments that point to each kind.
PATH_PATTERNS = {
    "privacy": re.compile(r"privacy|privacidad|datenschutz|confidentialite|privacybeleid"),
    "terms": re.compile(r"terms|tos\b|conditions|agb|legal|condiciones|voorwaarden"),
}
_TOO_LONG = 80
_SHORT = 5


@dataclass(frozen=True)
class PolicyLink:
    """A link to a policy page, with how sure we are it is one."""

    kind: str
    url: str
    text: str
    score: int


def find_policy_links(html: bytes | str, page_url: str) -> dict[str, PolicyLink]:
    """The best privacy and terms links on a page, by kind (a kind with none is absent).

    Links to the same site score higher, but a parent company's policy on another site counts.
    """
    soup = BeautifulSoup(html, "lxml")
    site = urlsplit(page_url).hostname or ""
    best: dict[str, PolicyLink] = {}
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        if href.startswith(("#", "javascript:", "mailto:")):
            continue
        url = original_url(urljoin(page_url, original_url(href)))
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        same_site = _same_site(urlsplit(url).hostname or "", site)
        text = " ".join(anchor.get_text(" ").split())
        label = f"{text} {anchor.get('title', '')}".lower()
        path = urlsplit(url).path.lower()
        for kind in TEXT_PATTERNS:
            score = _score(kind, label, path, text) + (1 if same_site else 0)
            if score > 1 and (kind not in best or score > best[kind].score):
                best[kind] = PolicyLink(kind, url.split("#")[0], text, score)
    if "privacy" in best and "terms" in best and best["privacy"].url == best["terms"].url:
        del best["terms"]  # one page for both is the privacy policy
    return best


def _score(kind: str, label: str, path: str, text: str) -> int:
    """How strongly a link's text and path look like a policy of ``kind`` (0: not at all)."""
    score = 0
    if TEXT_PATTERNS[kind].search(label):
        score += 2
        if len(text.split()) <= _SHORT:
            score += 1  # a link named for the policy, as in a footer
    if PATH_PATTERNS[kind].search(path):
        score += 1
    if score and len(text) > _TOO_LONG:
        score -= 2  # a sentence that mentions privacy, not a link to the policy
    return score


def _same_site(host: str, site: str) -> bool:
    """Whether ``host`` belongs to the site (``www.`` and subdomains included)."""
    host, site = host.removeprefix("www."), site.removeprefix("www.")
    return bool(host) and (host == site or host.endswith("." + site) or site.endswith("." + host))
