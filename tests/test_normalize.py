"""Tests for tracker.normalize: one archived capture in, the policy as markdown out."""

from __future__ import annotations

import difflib
import json
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.normalize import MAX_BYTES, MAX_ELEMENTS, Normalized, normalize
from tracker.normalize.page import MAX_DEPTH

HTML = {"Content-Type": "text/html; charset=utf-8"}
URL = "http://www.example.com/legal/privacy.html"
PROSE = (
    "We collect the information you give us when you create an account, place an order or "
    "contact our support team, and we use it only to provide and improve our services."
)


def page(body: str, title: str = "Privacy Policy", head: str = "") -> bytes:
    """Return a small HTML page as UTF-8 bytes."""
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"
    ).encode()


def md(body: str, **kwargs) -> str:
    """Normalize a page built from ``body`` and return its markdown, asserting success."""
    result = normalize(page(body, **kwargs), headers=HTML, url=URL)
    assert result.reason is None, result.reason
    return result.markdown


# --- structure -----------------------------------------------------------------------------


def test_title_headings_paragraphs_and_inline_markup():
    result = normalize(
        page(
            f"<h1>Our Policy</h1><p>{PROSE}</p><h2>Cookies</h2>"
            "<p>We use <b>strictly necessary</b> and <em>optional</em> cookies, as listed here.</p>"
            "<h4>Retention</h4><p>We keep data for <strong><i>two</i> years</strong> at most.</p>"
        ),
        headers=HTML,
        url=URL,
    )
    assert result.title == "Privacy Policy"
    assert result.reason is None
    assert result.markdown == (
        "# Privacy Policy\n\n# Our Policy\n\n" + PROSE + "\n\n## Cookies\n\n"
        "We use **strictly necessary** and *optional* cookies, as listed here.\n\n"
        "#### Retention\n\nWe keep data for ***two* years** at most.\n"
    )


def test_nested_lists():
    out = md(
        f"<p>{PROSE}</p><ul><li>Name<ul><li>first</li><li>last</li></ul></li>"
        "<li>Email</li></ul><ol start='3'><li>Three<ol><li>sub</li></ol></li>"
        "<li>Four</li></ol>"
    )
    assert "- Name\n  - first\n  - last\n- Email" in out
    assert "3. Three\n   1. sub\n4. Four" in out


def test_list_item_with_paragraphs_keeps_indentation():
    out = md(f"<p>{PROSE}</p><ol><li><p>First part.</p><p>More about it.</p></li></ol>")
    assert "1. First part.\n\n   More about it." in out


def test_data_table_becomes_gfm():
    out = md(
        f"<p>{PROSE}</p><table><tr><th>Data</th><th>Purpose</th></tr>"
        "<tr><td>Email</td><td>Receipts | invoices</td></tr>"
        "<tr><td colspan='2'>Kept for a year</td></tr></table>"
    )
    assert (
        "| Data | Purpose |\n| --- | --- |\n| Email | Receipts \\| invoices |\n"
        "| Kept for a year | |"
    ) in out


def test_layout_table_is_flattened():
    policy = "".join(f"<h3>Section {i}</h3><p>{PROSE}</p>" for i in range(3))
    out = md(
        "<table width='760'><tr><td colspan='2'><img src='logo.gif'>Acme Corp</td></tr>"
        "<tr><td width='150'><a href='/'>Home</a><br><a href='/shop'>Shop</a><br>"
        "<a href='/help'>Help</a></td>"
        f"<td>{policy}</td></tr></table>"
    )
    assert "|" not in out
    assert "### Section 0\n\n" + PROSE in out
    assert "Shop" not in out


def test_pre_and_blockquote():
    out = md(
        f"<p>{PROSE}</p><blockquote><p>Quoted law text here.</p></blockquote>"
        "<pre>line one\n  indented</pre>"
    )
    assert "> Quoted law text here." in out
    assert "```\nline one\n  indented\n```" in out


def test_double_br_separates_paragraphs_and_single_br_breaks_lines():
    out = md(f"<div>{PROSE}<br><br><b>Contact:</b><br>Acme Inc.<br>1 Main St.</div>")
    assert out.endswith(PROSE + "\n\n**Contact:**\nAcme Inc.\n1 Main St.\n")


def test_markdown_specials_in_text_are_escaped():
    out = md(f"<p>{PROSE}</p><p>1. Not a list * and not_emphasis_ but *this* is literal</p>")
    assert "1\\. Not a list \\* and not_emphasis\\_ but \\*this\\* is literal" in out


# --- chrome removal ------------------------------------------------------------------------


def test_semantic_chrome_is_removed():
    out = md(
        "<a class='skip-link' href='#main'>Skip to content</a>"
        "<header><a href='/'>Acme</a> <a href='/shop'>Shop</a></header>"
        "<nav><ul><li><a href='/a'>About us</a></li><li><a href='/b'>Blog</a></li></ul></nav>"
        "<div id='cookie-banner'>We use cookies to improve your experience. Accept all?</div>"
        f"<main><h1>Privacy</h1><p>{PROSE}</p><p>{PROSE}</p></main>"
        "<aside><h3>Latest news</h3><p>Our spring sale starts Monday with big discounts.</p>"
        "</aside>"
        "<div class='sidebar'>Follow us on social media for daily updates and offers.</div>"
        "<script>var tracking = 'secret';</script><style>p { color: red }</style>"
        "<noscript>Enable JavaScript now</noscript>"
        "<div style='display: none'>hidden words</div><p hidden>more hidden words</p>"
        "<div aria-hidden='true'>aria hidden words</div>"
        "<footer>Copyright 2014 Acme. All rights reserved. <a href='/terms'>Terms</a></footer>"
    )
    assert out == f"# Privacy Policy\n\n# Privacy\n\n{PROSE}\n\n{PROSE}\n"


def test_table_layout_chrome_is_removed():
    menu = "".join(f"<a href='/p{i}.html'>Product line {i}</a><br>" for i in range(12))
    out = md(
        "<table width='100%'><tr><td colspan='2'><font size='5'>ACME Widgets</font></td></tr>"
        f"<tr><td width='20%' valign='top'>{menu}</td><td valign='top'>"
        "<font face='Arial'><b>PRIVACY POLICY</b><br><br>"
        f"{PROSE}<br><br>{PROSE.upper()}<br><br></font></td></tr>"
        "<tr><td colspan='2'><a href='/'>Home</a> | <a href='/contact'>Contact</a> | "
        "<a href='/privacy'>Privacy</a></td></tr></table>"
    )
    assert "Product line" not in out and "Contact" not in out and "ACME Widgets" not in out
    assert f"**PRIVACY POLICY**\n\n{PROSE}\n\n{PROSE.upper()}\n" in out


def test_wayback_toolbar_is_removed():
    raw = (
        "<html><head><title>Privacy</title></head><body>"
        "<!-- BEGIN WAYBACK TOOLBAR INSERT --><div id='wm-ipp-base'>2 captures "
        "<a href='/web/2014*/x'>Jan 2014</a> about this capture</div>"
        "<!-- END WAYBACK TOOLBAR INSERT -->"
        f"<div id='wm-ipp'>toolbar words</div><p>{PROSE}</p></body></html>"
    ).encode()
    result = normalize(raw, url=URL)
    assert result.markdown == f"# Privacy\n\n{PROSE}\n"


def test_whole_page_form_wrapper_is_kept():
    out = md(
        f"<form id='aspnetForm' action='/privacy.aspx'><div id='content'><p>{PROSE}</p>"
        f"<p>{PROSE}</p></div><input type='hidden' name='__VIEWSTATE' value='x'></form>"
    )
    assert out.count(PROSE) == 2


# --- links ---------------------------------------------------------------------------------


def test_relative_links_are_made_absolute():
    out = md(
        f"<p>{PROSE} See <a href='../terms.html'>our terms</a>, <a href='/help'>help</a>, "
        "<a href='mailto:privacy@example.com'>email us</a> or <a href='#top'>top</a>.</p>"
    )
    assert "[our terms](http://www.example.com/terms.html)" in out
    assert "[help](http://www.example.com/help)" in out
    assert "[email us](mailto:privacy@example.com)" in out
    assert "top." in out and "#top" not in out


@pytest.mark.parametrize(
    "href, expected",
    [
        ("/web/20140101000000/http://www.other.com/a.html", "http://www.other.com/a.html"),
        (
            "https://web.archive.org/web/20140101000000/https://other.com/b?x=1",
            "https://other.com/b?x=1",
        ),
        ("/web/20140101000000id_/http://other.com/c", "http://other.com/c"),
        ("http://web.archive.org/web/2014im_/http%3A//other.com/d", "http://other.com/d"),
        ("/mycoll/20200202020202mp_/http://other.com/e", "http://other.com/e"),
        ("/web/20140101000000/terms.html", "http://www.example.com/web/20140101000000/terms.html"),
    ],
)
def test_archive_links_are_unwrapped(href, expected):
    out = md(f"<p>{PROSE} Read <a href='{href}'>this</a>.</p>")
    assert f"[this]({expected})" in out


def test_base_element_is_honoured_and_unwrapped():
    out = md(
        f"<p>{PROSE} <a href='faq.html'>FAQ</a></p>",
        head="<base href='/web/20100101000000/http://help.example.org/docs/'>",
    )
    assert "[FAQ](http://help.example.org/docs/faq.html)" in out


# --- encodings -----------------------------------------------------------------------------

CAFE = "Caf\u00e9 \u201cquoted\u201d \u2014 r\u00e9sum\u00e9 \u20ac5"


def cp1252_page(head: str = "") -> bytes:
    """Return a page whose text is encoded in windows-1252."""
    return (
        f"<html><head>{head}<title>Policy</title></head><body><p>{PROSE}</p>"
        f"<p>{CAFE}</p></body></html>"
    ).encode("cp1252")


@pytest.mark.parametrize(
    "headers, head",
    [
        ({"content-type": "text/html; charset=windows-1252"}, ""),
        ({"CONTENT-TYPE": "text/html; charset=ISO-8859-1"}, ""),
        ({"Content-Type": "text/html"}, "<meta charset='windows-1252'>"),
        ({}, "<meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"),
        ({}, ""),
    ],
)
def test_windows_1252_is_decoded(headers, head):
    result = normalize(cp1252_page(head), headers=headers, url=URL)
    assert CAFE in result.markdown


def test_misdeclared_utf8_is_read_as_utf8():
    raw = (
        f"<html><head><meta charset='iso-8859-1'><title>Policy</title></head>"
        f"<body><p>{PROSE}</p><p>{CAFE}</p></body></html>"
    ).encode()
    result = normalize(raw, headers={"Content-Type": "text/html; charset=iso-8859-1"})
    assert CAFE in result.markdown


def test_mixed_utf8_and_windows_1252_is_readable():
    raw = (
        f"<html><body><p>{PROSE}</p><p>".encode()
        + "Caf\u00e9 ".encode()
        + "\u201cquoted\u201d".encode("cp1252")
        + b"</p></body></html>"
    )
    assert "Caf\u00e9 \u201cquoted\u201d" in normalize(raw).markdown


def test_output_is_nfc_without_invisible_characters():
    out = md(f"<p>{PROSE}</p><p>Cafe\u0301&nbsp;and&#8203;zero\u200dwidth\u00adsoft</p>")
    assert "Caf\u00e9 andzerowidthsoft" in out
    assert unicodedata.is_normalized("NFC", out)
    assert "\u00a0" not in out and " \n" not in out


# --- other media types ---------------------------------------------------------------------


def test_text_plain_passes_through():
    text = f"Acme Privacy Policy\n\n{PROSE}\n  - item one   \n".encode()
    result = normalize(text, headers={"content-type": "text/plain; charset=utf-8"})
    assert result == Normalized(
        f"Acme Privacy Policy\n\n{PROSE}\n  - item one\n", "Acme Privacy Policy", None
    )


def test_unsupported_content_type_has_reason():
    result = normalize(b"\x89PNG\r\n\x1a\n\x00\x00", headers={"Content-Type": "image/png"})
    assert result == Normalized("", "", "unsupported content type: image/png")
    assert normalize(b"{}", headers={"content-type": "application/json"}).reason == (
        "unsupported content type: application/json"
    )


def test_pdf_without_text_has_reason():
    result = normalize(b"%PDF-1.4\n%%EOF\n", headers={"Content-Type": "application/pdf"})
    assert result.markdown == "" and result.reason


def test_too_large_input_has_reason():
    result = normalize(b" " * (MAX_BYTES + 1), headers=HTML)
    assert result.reason and result.reason.startswith("too large")


# --- not a policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, reason",
    [
        (
            page(
                "<h1>Not Found</h1><p>The requested URL was not found on this server.</p>",
                title="404 Not Found",
            ),
            "soft 404: page not found",
        ),
        (
            page(
                "<h2>Oops!</h2><p>Sorry, the page you are looking for could not be found. "
                "Try our <a href='/'>home page</a>.</p>",
                title="Acme",
            ),
            "soft 404: page not found",
        ),
        (page("", title="Privacy"), "empty body"),
        (b"", "empty body"),
        (
            page(
                "<div>This domain is for sale! Inquire now.</div><ul><li><a href='/x'>Cheap flights"
                "</a></li></ul>",
                title="example.com",
            ),
            "parked domain",
        ),
        (
            page(
                "<p>This page has moved. <a href='/new'>Click here</a> if you are not "
                "redirected.</p>",
                title="Moved",
            ),
            "moved stub",
        ),
        (
            page(
                "<p>Redirecting to our new privacy page in five seconds, please wait.</p>",
                head="<meta http-equiv='refresh' content='5; url=/new-privacy'>",
            ),
            "moved stub",
        ),
        (
            page(
                "<h2>Members only</h2><p>Please sign in to continue.</p><form><input name='u'>"
                "<input type='password' name='p'></form>",
                title="Login",
            ),
            "login wall",
        ),
    ],
)
def test_not_a_policy_reasons(raw, reason):
    result = normalize(raw, headers=HTML, url=URL)
    assert (result.markdown, result.reason) == ("", reason)


def test_policy_mentioning_404_and_sale_is_not_flagged():
    body = (
        f"<h1>Privacy Policy</h1><p>{PROSE}</p>"
        "<p>If a link returns a 404 page not found error, tell us. In a sale of all or part "
        "of our business, this domain and customer data may be transferred.</p>"
        f"<p>{PROSE}</p><p>This page has moved from our old site; click here for the old "
        "version.</p>"
    )
    result = normalize(page(body, title="Privacy Policy - 404 Widgets"), headers=HTML)
    assert result.reason is None
    assert "404 page not found" in result.markdown


# --- robustness ----------------------------------------------------------------------------


def test_output_is_deterministic():
    raw = page(
        f"<p>{PROSE}</p><ul><li>a</li></ul><table><tr><td>x</td><td>y</td></tr>"
        "<tr><td>1</td><td>2</td></tr></table>"
    )
    assert len({normalize(raw, headers=HTML, url=URL).markdown for _ in range(5)}) == 1


def test_deep_nesting_does_not_recurse():
    raw = b"<html><body>" + b"<div><span>" * 10_000 + PROSE.encode() + b"</span></div>" * 10_000
    result = normalize(raw, headers=HTML)
    assert result.reason is None and PROSE in result.markdown


def test_deep_nesting_of_lists_and_tables():
    raw = (
        b"<html><body><p>"
        + PROSE.encode()
        + b"</p>"
        + b"<ul><li>x" * 3000
        + b"<table><tr><td>" * 3000
    )
    assert isinstance(normalize(raw, headers=HTML), Normalized)


def test_huge_input_is_bounded():
    paragraph = f"<p>{PROSE} <b>{PROSE}</b> {PROSE}</p>\n"
    raw = page(paragraph * (10_000_000 // len(paragraph)))  # about 10 MB
    start = time.monotonic()
    result = normalize(raw, headers=HTML)
    assert time.monotonic() - start < 60  # a safety net, not a benchmark
    assert result.reason is None
    assert result.markdown.count(f"{PROSE} **{PROSE}** {PROSE}") == 10_000_000 // len(paragraph)


def test_tag_soup_with_too_many_elements_has_reason():
    raw = b"<html><body>" + b"<b>x</b>" * (MAX_ELEMENTS + 1)
    assert "too complex" in (normalize(raw, headers=HTML).reason or "")


def test_tag_soup_just_under_the_cap_is_converted_in_bounded_time():
    raw = b"<html><body>" + b"<b>x</b> " * (MAX_ELEMENTS - 10)
    start = time.monotonic()
    result = normalize(raw, headers=HTML)
    assert time.monotonic() - start < 60  # a safety net, not a benchmark
    assert result.reason is None and result.markdown.count("**x**") == MAX_ELEMENTS - 10


def test_text_after_nesting_deeper_than_the_parser_allows_is_kept():
    depth = 10_000
    raw = (
        b"<html><body><p>"
        + PROSE.encode()
        + b"</p>"
        + b"<div>" * depth
        + b"<p>deep words</p>"
        + b"</div>" * depth
        + b"<p>after the deep part</p></body></html>"
    )
    out = normalize(raw, headers=HTML).markdown
    assert PROSE in out and "deep words" in out and "after the deep part" in out
    assert out.index("deep words") < out.index("after the deep part")
    assert depth > MAX_DEPTH


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=4000),
    st.sampled_from(
        [None, HTML, {"content-type": "text/plain"}, {"content-type": "application/pdf"}]
    ),
)
def test_arbitrary_bytes_never_raise(raw, headers):
    result = normalize(raw, headers=headers, url=URL)
    assert isinstance(result, Normalized)
    assert (result.reason is None) == (result.markdown != "")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000), st.integers(min_value=0, max_value=4000))
def test_arbitrary_and_truncated_html_never_raise(text, cut):
    raw = page(f"<h2>{text}</h2><p>{PROSE} {text}</p><table><tr><td>{text}")[:cut] + text.encode(
        "utf-8", "surrogatepass"
    )
    result = normalize(raw, headers=HTML, url=text[:50] or None)
    assert isinstance(result, Normalized)
    if result.reason is None:
        out = result.markdown
        assert out.endswith("\n") and not out.endswith("\n\n")
        assert unicodedata.is_normalized("NFC", out)
        assert all(line == line.rstrip() for line in out.splitlines())
        assert "\n\n\n" not in out


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(["div", "span", "b", "ul", "li", "table", "td", "blockquote", "p"])),
    st.integers(min_value=0, max_value=10_000),
    st.booleans(),
)
def test_deep_nesting_of_any_elements_never_raises(tags, depth, closed):
    opening = "".join(f"<{tag}>" for tag in tags or ["div"])
    closing = "".join(f"</{tag}>" for tag in reversed(tags or ["div"]))
    raw = (
        f"<html><body><p>{PROSE}</p>"
        + opening * (depth // max(len(tags), 1))
        + "<p>inner</p>"
        + (closing * (depth // max(len(tags), 1)) if closed else "")
    ).encode()
    start = time.monotonic()
    result = normalize(raw, headers=HTML)
    assert time.monotonic() - start < 30
    assert result.reason is None and PROSE in result.markdown and "inner" in result.markdown


# Characters Python treats as whitespace or line breaks that HTML does not (NEL above all).
_PYTHON_SPACES = "\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x1f\xa0\u3000\t\r"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(_PYTHON_SPACES + " \nab*_#-1.")), max_size=60))
def test_python_whitespace_never_leaves_trailing_spaces(text):
    for raw, headers in (
        (
            page(
                f"<h2>{text}</h2><p>{PROSE}{text}</p><pre>{text}</pre><p>{text}<br>{text}</p>"
                f"<blockquote>{text}<p>{text}</p></blockquote><ul><li>{text}</li></ul>",
                title=text,
            ),
            HTML,
        ),
        (f"{text}\n{PROSE}\n{text}".encode(), {"content-type": "text/plain; charset=utf-8"}),
    ):
        result = normalize(raw, headers=headers, url=URL)
        assert result.reason is None
        lines = result.markdown.splitlines()
        assert lines == result.markdown.split("\n")[:-1]  # no line break but "\n"
        assert all(line == line.rstrip() for line in lines)
        assert "\n\n\n" not in result.markdown and "\x85" not in result.markdown


def test_next_line_character_is_a_space():
    out = md(f"<p>{PROSE}</p><p>one\x85two \x85</p>")
    assert out.endswith("one two\n")
    plain = normalize(f"{PROSE}\x85second line".encode(), headers={"content-type": "text/plain"})
    assert plain.markdown == f"{PROSE}\nsecond line\n"


# --- chrome names as words -----------------------------------------------------------------


def test_policy_sections_named_like_chrome_are_kept():
    out = md(
        "<div id='cookie-banner' class='cookie-consent'>We use cookies to make our website work."
        " <a href='/privacy#cookies'>Learn more</a> <button>Accept</button></div>"
        "<div class='container'><ol class='breadcrumb'><li><a href='/'>Home</a></li>"
        "<li><a href='/legal/'>Legal</a></li><li class='active'>Privacy</li></ol>"
        f"<div class='col-main'><h1>Privacy Policy</h1><p>{PROSE}</p>"
        f"<section id='sharing'><h2>Sharing your information</h2><p>{PROSE}</p></section>"
        "<h2 id='gdpr'>Your rights under the GDPR</h2><ul><li>Access</li><li>Erasure</li></ul>"
        f"<section id='cookies'><h2>Cookies</h2><p>Our website uses cookies. {PROSE}</p></section>"
        "<div class='section-header'><h2>Newsletter</h2></div>"
        "<div class='newsletter'><p>Sign up for our newsletter: ten percent off!</p></div>"
        "<div class='shareholders-note'><p>Our shareholders never see your data at all.</p></div>"
        "</div><div class='col-side sidebar'><h4>Legal</h4><ul><li><a href='privacy'>Privacy"
        "</a></li><li><a href='cookies'>Cookie policy</a></li></ul><div class='help-box'>"
        "<p>Need help with an order? Call us on 0404 55 1234, Mon-Fri 9:00-17:30.</p></div></div>"
        "</div><div class='socialShareBar'><a href='/fb'>Facebook</a> share this page</div>"
        "<div class='siteFooter'><h3>About us</h3><p>We have sold kettles and pans since 1999 in "
        "Kettleford and all over Ireland.</p></div>"
    )
    for kept in (
        "## Sharing your information",
        "## Your rights under the GDPR\n\n- Access\n- Erasure",
        "## Cookies\n\nOur website uses cookies.",
        "## Newsletter",
        "Our shareholders never see your data",
    ):
        assert kept in out
    assert out.count(PROSE) == 3
    for removed in ("Accept", "Learn more", "Home", "Legal\n", "Need help", "Facebook", "1999"):
        assert removed not in out
    for removed in ("Sign up", "Cookie policy"):
        assert removed not in out


def test_header_inside_an_article_is_its_title_not_chrome():
    out = md(
        "<header><a href='/'>Acme</a><nav><a href='/a'>A</a> <a href='/b'>B</a></nav></header>"
        f"<article><header><h1>Privacy Policy</h1></header><p>{PROSE}</p><p>{PROSE}</p>"
        "</article><footer><p>Copyright Acme Inc, all rights reserved worldwide.</p></footer>"
    )
    assert out == f"# Privacy Policy\n\n# Privacy Policy\n\n{PROSE}\n\n{PROSE}\n"


def test_blocks_that_only_link_within_the_page_are_dropped():
    out = md(
        f"<p>{PROSE}</p><p align='right'><a href='#top'>Back to top</a></p>"
        f"<p>{PROSE}</p><div><a href='{URL}#top'>Top of page</a></div>"
        "<p>See <a href='#cookies'>the cookies section</a> for the details of it.</p>"
    )
    assert "Back to top" not in out and "Top of page" not in out
    assert "See the cookies section for the details of it." in out


# --- the sample site as a series -----------------------------------------------------------

SAMPLE_SITE = Path(__file__).resolve().parent / "sample_site"


def sample_series(prefix: str) -> list[tuple[str, Normalized]]:
    """Return (capture date, result) for every 200 capture of the sample site's pages whose
    file name starts with ``prefix``, in capture order."""
    captures = json.loads((SAMPLE_SITE / "captures.json").read_text(encoding="utf-8"))
    return [
        (
            Path(capture["file"]).stem.removeprefix(prefix),
            normalize(
                (SAMPLE_SITE / capture["file"]).read_bytes(),
                headers={"Content-Type": capture["content_type"]},
                url=capture["url"],
            ),
        )
        for capture in captures
        if capture["file"].startswith(f"pages/{prefix}") and capture["status"] == 200
    ]


def blocks(markdown: str) -> list[str]:
    """Return the blocks of a normalized capture's markdown after its ``# title`` line."""
    return markdown.split("\n\n")[1:]


def block_changes(old: str, new: str) -> tuple[list[str], list[str]]:
    """Return the blocks removed from ``old`` and those added in ``new``."""
    before, after = blocks(old), blocks(new)
    removed: list[str] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += before[i1:i2]
            added += after[j1:j2]
    return removed, added


COOKIES = ["## Cookies\n", "Our website uses cookies", "You can set your browser"]
# What each privacy capture's note in captures.json says changed: block starts removed, added.
PRIVACY_CHANGES: dict[str, tuple[list[str], list[str]]] = {
    "2004-09-02": ([], []),
    "2007-06-11": ([], []),
    "2008-11-20": ([], COOKIES),
    "2010-04-07": (["If you order by telephone or fax"], []),
    "2012-02-14": (["If you have any questions"], ["If you have any questions"]),
    "2013-08-30": (COOKIES, COOKIES),
    "2014-10-07": ([], []),
    "2015-05-19": (
        ["**We will not sell your personal information to third parties.**"],
        ["**We may share your personal information with selected partners.**"],
    ),
    "2016-03-03": ([], []),
    "2018-05-24": (
        [],
        [
            "## Your rights under the GDPR\n",
            "From 25 May 2018",
            "- **Access** —",
            "### How to exercise your rights\n",
            "E-mail [dataprotection@",
            "### Our legal bases\n",
            "We use your information to perform our contract",
        ],
    ),
    "2019-02-11": (
        [],
        ["## What we collect and why\n", "The table below", "| Categories of data we collect |"],
    ),
    "2020-01-15": (
        [],
        [
            "## California residents (CCPA)\n",
            "If you live in California",
            "- the right to know",
            "To make a request",
        ],
    ),
    "2021-06-09": (["## Prize draw\n", "Each month we hold a prize draw"], []),
}
TERMS_CHANGES: dict[str, tuple[list[str], list[str]]] = {
    "2014-02-20": (
        ["You may return any unused item within **14 days**"],
        ["You may return any unused item within **30 days**"],
    ),
    "2019-09-10": ([], ["## Governing law\n", "These terms are governed by Irish law"]),
}


def assert_starts(found: list[str], starts: list[str]) -> None:
    """Assert that the blocks ``found`` begin with ``starts``, one for one."""
    assert len(found) == len(starts), found
    for block, start in zip(found, starts, strict=True):
        assert (block + "\n").startswith(start), (block, start)


@pytest.mark.parametrize(
    "prefix, expected", [("privacy-", PRIVACY_CHANGES), ("terms-", TERMS_CHANGES)]
)
def test_sample_site_series_changes_exactly_as_its_notes_say(prefix, expected):
    series = sample_series(prefix)
    assert [date for date, _ in series[1:]] == list(expected)
    for (_, old), (date, new) in zip(series, series[1:], strict=False):
        assert old.reason is None and new.reason is None, date
        removed, added = block_changes(old.markdown, new.markdown)
        assert_starts(removed, expected[date][0])
        assert_starts(added, expected[date][1])


def test_sample_site_facts():
    series = dict(sample_series("privacy-"))
    body = {date: result.markdown.split("\n", 1)[1] for date, result in series.items()}
    assert body["2004-03-15"] == body["2004-09-02"] == body["2007-06-11"]
    assert body["2013-08-30"] == body["2014-10-07"]
    assert body["2015-05-19"] == body["2016-03-03"]
    gdpr = body["2018-05-24"].split("## Your rights under the GDPR\n\n")[1].split("\n## ")[0]
    assert sum(line.startswith("- **") for line in gdpr.splitlines()) == 7
    assert "### How to exercise your rights" in gdpr and "### Our legal bases" in gdpr
    for date, text in body.items():
        assert ("## Cookies\n" in text) == (date >= "2008"), date
        assert "## Sharing your information\n" in text, date
        assert text.count("\n# Privacy Policy\n") == 1, date
        for chrome in (
            "Accept",
            "Back to top",
            "Skip to content",
            "On this page",
            "Cookware",
            "Kettles &",
            "Basket",
            "Free delivery",
            "Need help",
            "Customer service",
            "All rights reserved",
            "](http://www.brightkettle.example/)\n",
        ):
            assert chrome not in text, (date, chrome)
    # The windows-1252 page reads like its neighbours.
    for text in (body["2010-04-07"], body["2008-11-20"], body["2012-02-14"]):
        assert "(“Brightkettle”, “we”, “us”)" in text and "Café Row" in text
        assert "€250" in text and "winner’s first name" in text
    assert "privacy@brightkettle.example" in body["2010-04-07"]
    assert "dataprotection@brightkettle.example" in body["2012-02-14"]


def test_sample_site_non_policies_have_reasons():
    captures = {c["file"]: c for c in json.loads((SAMPLE_SITE / "captures.json").read_text())}
    for name, reason in (
        ("pages/privacy-2016-01-12-404.html", "soft 404: page not found"),
        ("pages/privacy-2014-10-06-301.html", "moved stub"),
    ):
        capture = captures[name]
        result = normalize(
            (SAMPLE_SITE / name).read_bytes(),
            headers={"Content-Type": capture["content_type"]},
            url=capture["url"],
        )
        assert (result.markdown, result.reason) == ("", reason)


def test_binary_bodies_are_refused_whatever_their_content_type() -> None:
    binary = bytes(range(256)) * 40
    for content_type in ("text/html", "text/plain", ""):
        result = normalize(binary, headers={"Content-Type": content_type})
        assert result.markdown == ""
        assert result.reason and result.reason.startswith("binary content")
    utf16 = "<title>P</title><h1>Privacy</h1><p>We keep nothing.</p>".encode("utf-16")
    assert normalize(utf16, headers={"Content-Type": "text/html"}).reason != (
        "binary content served as text/html"
    )


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_read_when_declared(encoding: str) -> None:
    page = "<title>P</title><h1>Privacy</h1><p>" + "We keep your data safe. " * 10 + "</p>"
    result = normalize(page.encode(encoding), headers={"Content-Type": "text/html; charset=utf-16"})
    assert result.reason is None
    assert "We keep your data safe." in result.markdown
    ascii_mislabel = normalize(
        page.encode("ascii"), headers={"Content-Type": "text/html; charset=utf-16"}
    )
    assert "We keep your data safe." in ascii_mislabel.markdown
