"""JSON for what crawl workers share through Redis: scheduled requests and capture items.

Requests go through scrapy-redis's queue as dicts (``Request.to_dict``); items through the item
list. Both may hold bytes (request bodies and headers, raw capture bodies) and a
:class:`~crawler.items.CaptureItem` (a request's ``cb_kwargs``), which plain JSON cannot carry:
bytes become ``{"$bytes": BASE64}`` and captures ``{"$capture": {...}}``. Unlike pickle (the
scrapy-redis default), loading this runs no code, so a worker trusts Redis only with data.

This module is a scrapy-redis serializer: ``SCHEDULER_SERIALIZER = "crawler.serialize"``.
"""

import base64
import json
from dataclasses import asdict, fields
from typing import Any

from crawler.items import CaptureItem

_CAPTURE_FIELDS = {field.name for field in fields(CaptureItem)}


def _encode(value: Any) -> Any:
    """A JSON-ready form of a value that json cannot encode by itself."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, CaptureItem):
        return {"$capture": {key: _tag(item) for key, item in asdict(value).items()}}
    raise TypeError(f"cannot share a {type(value).__name__} through Redis: {value!r}")


def _tag(value: Any) -> Any:
    """``value`` with bytes and captures nested in dicts and lists made JSON-ready."""
    if isinstance(value, dict):
        return {
            (key.decode("latin-1") if isinstance(key, bytes) else key): _tag(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_tag(item) for item in value]
    if isinstance(value, bytes | CaptureItem):
        return _encode(value)
    return value


def _untag(value: dict[str, Any]) -> Any:
    """The value a tagged dict stands for (a json ``object_hook``)."""
    if len(value) == 1:
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        if "$capture" in value:
            data = value["$capture"]
            unknown = set(data) - _CAPTURE_FIELDS
            if unknown:
                raise ValueError(f"unknown capture fields {sorted(unknown)}")
            return CaptureItem(**data)
    return value


def dumps(value: Any) -> bytes:
    """Encode a value (e.g. a request dict) as JSON bytes."""
    return json.dumps(_tag(value), separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode what :func:`dumps` made."""
    return json.loads(data, object_hook=_untag)


def item_to_json(item: CaptureItem) -> str:
    """One capture item as JSON text (its raw body in base64)."""
    return dumps(item).decode("utf-8")


def item_from_json(data: bytes | str) -> CaptureItem:
    """The capture item that :func:`item_to_json` encoded."""
    item = loads(data)
    if not isinstance(item, CaptureItem):
        raise ValueError(f"not a capture item: {str(data)[:80]!r}")
    return item
