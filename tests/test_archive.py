"""Archive URLs and CDX parsing, in every format the Internet Archive and pywb answer."""

import json

import pytest

from crawler.archive import (
    Archive,
    ArchiveError,
    CDXPage,
    is_policy_move,
    original_url,
    parse_cdx,
)

IA_JSON = json.dumps(
    [
        ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
        [
            "com,example)/privacy",
            "20040315093112",
            "http://example.com/privacy",
            "text/html",
            "200",
            "AAAA",
            "2760",
        ],
        [
            "com,example)/privacy",
            "20100101000000",
            "http://example.com/privacy",
            "warc/revisit",
            "-",
            "AAAA",
            "-",
        ],
    ]
)
IA_TEXT = (
    "com,example)/privacy 20040315093112 http://example.com/privacy text/html 200 AAAA 2760\n"
    "com,example)/privacy 20141006022917 http://example.com/privacy text/html 301 BBBB 400\n"
)
PYWB_JSON = (
    '{"urlkey": "com,example)/privacy", "timestamp": "20040315093112", '
    '"url": "http://example.com/privacy", "mime": "text/html", "status": "200", '
    '"digest": "AAAA", "length": "2760", "offset": "314", "filename": "a.warc.gz"}\n'
)
CDXJ = 'com,example)/privacy 20160112230451 {"url": "http://example.com/privacy", "status": "404"}'


@pytest.mark.parametrize("answer", [IA_JSON, IA_TEXT, PYWB_JSON, CDXJ])
def test_every_cdx_format_parses(answer: str) -> None:
    page = parse_cdx(answer)
    snapshots, malformed = page.snapshots, page.malformed
    assert malformed == 0
    assert snapshots
    assert all(s.original == "http://example.com/privacy" for s in snapshots)
    assert all(len(s.timestamp) == 14 for s in snapshots)


def test_fields_are_read_by_name() -> None:
    (ia,) = parse_cdx(IA_TEXT.splitlines()[1]).snapshots
    assert (ia.statuscode, ia.digest, ia.length) == ("301", "BBBB", "400")
    (pywb,) = parse_cdx(PYWB_JSON).snapshots
    assert (pywb.mimetype, pywb.statuscode, pywb.digest) == ("text/html", "200", "AAAA")
    (cdxj,) = parse_cdx(CDXJ).snapshots
    assert (cdxj.timestamp, cdxj.statuscode, cdxj.digest) == ("20160112230451", "404", "-")


def test_malformed_rows_are_skipped_and_counted() -> None:
    answer = IA_TEXT + "garbage\ncom,x)/ 2004 http://x/ text/html 200 D 1\n{not json\n"
    page = parse_cdx(answer)
    snapshots, malformed = page.snapshots, page.malformed
    assert len(snapshots) == 2
    assert malformed == 3


def test_an_empty_answer_has_no_rows() -> None:
    assert parse_cdx("") == CDXPage()
    assert parse_cdx("[]") == CDXPage()


def test_resume_keys_are_read_from_json_and_text() -> None:
    table = json.loads(IA_JSON) + [[], ["com,example)/privacy 20100101000000"]]
    page = parse_cdx(json.dumps(table))
    assert len(page.snapshots) == 2
    assert page.resume_key == "com,example)/privacy 20100101000000"
    page = parse_cdx(IA_TEXT + "\ncom%2Cexample%29%2Fprivacy+20141006022917\n")
    key = "com%2Cexample%29%2Fprivacy+20141006022917"
    assert (len(page.snapshots), page.resume_key) == (2, key)
    assert parse_cdx(IA_TEXT).resume_key is None


def test_internet_archive_layout() -> None:
    archive = Archive.from_url("https://web.archive.org/")
    assert archive.cdx_query("http://example.com/p") == (
        "https://web.archive.org/cdx/search/cdx?url=http%3A%2F%2Fexample.com%2Fp&output=json"
    )
    paged = archive.cdx_query(
        "http://example.com/p", collapse=True, page_size=500, resume_key="k 1", until="2019"
    )
    assert paged.endswith("&to=2019&collapse=digest&limit=500&showResumeKey=true&resumeKey=k%201")
    assert archive.capture_url("20040315093112", "http://example.com/p") == (
        "https://web.archive.org/web/20040315093112id_/http://example.com/p"
    )


def test_pywb_collection_layout() -> None:
    archive = Archive.from_url("http://127.0.0.1:8080/web")
    assert archive.cdx_query("http://example.com/p", since="2015").startswith(
        "http://127.0.0.1:8080/web/cdx?url="
    )
    assert archive.cdx_query("http://example.com/p", since="2015").endswith("&from=2015")
    assert "limit" not in archive.cdx_query("http://example.com/p", page_size=500)
    assert archive.capture_url("2004", "http://example.com/p") == (
        "http://127.0.0.1:8080/web/2004id_/http://example.com/p"
    )


@pytest.mark.parametrize(
    "bad", ["web.archive.org", "ftp://x/", "", "http://", "http://[::1", "http://127.0.0.1:99999/w"]
)
def test_bad_archive_urls_are_refused(bad: str) -> None:
    with pytest.raises(ArchiveError):
        Archive.from_url(bad)


@pytest.mark.parametrize(
    ("archived", "original"),
    [
        ("https://web.archive.org/web/20150101000000/http://x.example/a", "http://x.example/a"),
        ("/web/20150101000000id_/https://x.example/a?b=1", "https://x.example/a?b=1"),
        ("http://127.0.0.1:8080/web/2015im_/http://x.example/i.png", "http://x.example/i.png"),
        ("https://web.archive.org/web/2015/http:/x.example/", "http://x.example/"),
        ("http://x.example/web/page", "http://x.example/web/page"),
    ],
)
def test_archive_urls_unwrap_to_the_original(archived: str, original: str) -> None:
    assert original_url(archived) == original


def test_a_redirect_home_is_not_a_move() -> None:
    source = "http://www.x.example/privacy.html"
    assert is_policy_move(source, "http://x.example/legal/privacy")
    assert is_policy_move(source, "https://legal.x.example/privacy")
    assert not is_policy_move(source, "http://x.example/")
    assert not is_policy_move(source, "http://x.example")
    assert not is_policy_move(source, "https://login.other.example/signin")
    assert not is_policy_move(source, None)
