"""Turn the raw bytes of a capture into text: media type and character encoding.

The charset comes from the HTTP ``Content-Type`` header first, then from the document's own
``<meta>`` declaration, then from detection. Like browsers, ISO-8859-1 and US-ASCII are read as
windows-1252. Bytes that are valid UTF-8 are read as UTF-8 whatever the declaration says (archived
pages are often re-encoded without their declaration being updated), and UTF-8 documents with
stray windows-1252 bytes are repaired with :meth:`bs4.dammit.UnicodeDammit.detwingle`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

import charset_normalizer
from bs4.dammit import EncodingDetector, UnicodeDammit

# Encodings browsers read as windows-1252 (WHATWG Encoding Standard, "windows-1252" labels).
_AS_CP1252 = {"ascii", "latin_1", "cp1252", "iso8859_1"}
# Detector answers trusted for undeclared bytes: encodings of other scripts. Any other answer
# (detectors often pick an exotic Latin code page for short western text) becomes windows-1252,
# the browsers' default.
_OTHER_SCRIPTS = frozenset(
    {
        "shift_jis",
        "cp932",
        "euc_jp",
        "iso2022_jp",
        "gb2312",
        "gbk",
        "gb18030",
        "big5",
        "big5hkscs",
        "cp950",
        "euc_kr",
        "cp949",
        "iso2022_kr",
        "johab",
        "cp1251",
        "koi8_r",
        "koi8_u",
        "iso8859_5",
        "mac_cyrillic",
        "cp866",
        "cp1253",
        "iso8859_7",
        "cp1255",
        "iso8859_8",
        "cp1256",
        "iso8859_6",
        "cp874",
        "tis_620",
        "cp1258",
    }
)
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
    rb"[\xf0-\xf4][\x80-\xbf]{3}"
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Detection only looks at a prefix: enough for a verdict, bounded in time on huge inputs.
_DETECT_BYTES = 200_000


def header(headers: Mapping[str, str] | None, name: str) -> str:
    """Return the value of HTTP header ``name`` (case-insensitive), or "" when absent."""
    if not headers:
        return ""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return str(value)
    return ""


def parse_content_type(value: str) -> tuple[str, str | None]:
    """Split a Content-Type value into (lower-cased media type, charset or None)."""
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return media.strip().lower(), charset


def codec_name(label: str | None) -> str | None:
    """Return Python's canonical codec name for a charset label, or None if unknown.

    Labels browsers treat as windows-1252 (latin-1, ascii) map to ``cp1252``.
    """
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name.replace("-", "_")
    except (LookupError, ValueError):
        return None
    if name in _AS_CP1252 or name == "iso8859_1":
        return "cp1252"
    return name


def _utf16_order(data: bytes) -> str | None:
    """``utf_16_le``/``utf_16_be`` for BOM-less UTF-16 text of a Latin script, else None."""
    head = data[:4096]
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if odd > len(head) // 3:
        return "utf_16_le"
    if even > len(head) // 3:
        return "utf_16_be"
    return None


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` decodes as strict UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect(data: bytes) -> str:
    """Guess the codec of undeclared, non-UTF-8 bytes (windows-1252 unless another script)."""
    best = charset_normalizer.from_bytes(data[:_DETECT_BYTES]).best()
    name = codec_name(best.encoding) if best is not None else None
    return name if name in _OTHER_SCRIPTS else "cp1252"


def decode(data: bytes, declared: str | None, *, html: bool) -> tuple[str, str]:
    """Decode ``data`` to text; return (text, codec used).

    ``declared`` is the charset of the HTTP header; for HTML the document's meta declaration is
    consulted when the header names none.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace"), name
    codec = codec_name(declared)
    if codec is None and html:
        codec = codec_name(EncodingDetector.find_declared_encoding(data, is_html=True))
    if codec in ("utf_16", "utf_16_le", "utf_16_be", "utf_32"):
        # A UTF-16 label on bytes without a BOM is often a mislabel of ASCII-like text: honour
        # it only when the bytes look like UTF-16 (markup with a NUL beside every character).
        codec = _utf16_order(data) if codec.startswith("utf_16") else None
        if codec:
            return data.decode(codec, errors="replace"), codec
    if data.isascii():
        return data.decode("ascii"), "ascii"
    if _is_utf8(data):
        return data.decode("utf-8"), "utf-8"
    if codec in (None, "utf_8") and _UTF8_MULTIBYTE.search(data[:_DETECT_BYTES]):
        # Mostly UTF-8 with stray windows-1252 bytes (mixed encodings): repair them.
        return UnicodeDammit.detwingle(data).decode("utf-8", errors="replace"), "utf-8"
    if codec is None or codec == "utf_8":
        codec = _detect(data)
    return data.decode(codec, errors="replace"), codec
