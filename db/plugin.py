"""The policytrail Datasette plugin: rendered versions and diffs, policy timelines, Atom feeds.

Archived text is untrusted. Everything this module turns into HTML is built from escaped parts
(:func:`markupsafe.escape`) or by markdown-it with raw HTML disabled and only web and mail
links allowed, so a capture holding ``<script>``, ``onerror=`` or ``javascript:`` links shows
as text and runs nothing.

The plugin acts on databases whose metadata has a ``policytrail`` plugin section (the shipped
``metadata.json`` gives one to the database named ``policytrail``, which is how
:func:`tracker.serve.make_datasette` attaches the file); other databases pass through untouched.
"""

import json
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import (
    escape_sqlite,
    path_with_added_args,
    path_with_removed_args,
    tilde_decode,
)
from datasette.utils.asgi import NotFound, Response
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from tracker.render import revision_summary

PACKAGE = Path(__file__).parent
METADATA = PACKAGE / "metadata.json"
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
#: Where :func:`tracker.serve.make_datasette` mounts :data:`STATIC`.
STATIC_MOUNT = "-/policytrail-static"

#: Id columns of query results that link to a row, and the table they point into.
ID_COLUMNS = {
    "revision_id": "revisions",
    "change_id": "changes",
    "version_id": "versions",
    "from_version": "versions",
    "to_version": "versions",
    "policy_id": "policies",
}
FEED_LIMIT = 50
LINK_SCHEMES = ("http:", "https:", "mailto:")


def _validate_link(url: str) -> bool:
    """Allow web and mail links and plain relative ones; refuse every other scheme."""
    scheme = url.strip().lower().split("/", 1)[0]
    return ":" not in scheme or scheme.startswith(LINK_SCHEMES)


_markdown = MarkdownIt("commonmark", {"html": False}).disable("image")
_markdown.validateLink = _validate_link  # type: ignore[method-assign]


def render_markdown(text: str) -> Markup:
    """Policy markdown as HTML: raw HTML and images are shown as text, unsafe links dropped."""
    return Markup(_markdown.render(text))


def diff_html(diff: list) -> Markup:
    """A word-level diff (``[op, text]`` pairs, op -1/0/1) with ``<del>`` and ``<ins>`` marks."""
    tags = {-1: "del", 1: "ins"}
    parts = []
    for op, text in diff:
        tag = tags.get(op)
        parts.append(f"<{tag}>{escape(text)}</{tag}>" if tag else str(escape(text)))
    return Markup("".join(parts))


def _parse_diff(value: Any) -> list | None:
    """The pairs of a stored ``diff`` cell, or None if the value is not one."""
    if not isinstance(value, str) or not value.startswith("["):
        return None
    try:
        pairs = json.loads(value)
    except ValueError:
        return None
    valid = all(
        isinstance(pair, list)
        and len(pair) == 2
        and pair[0] in (-1, 0, 1)
        and isinstance(pair[1], str)
        for pair in pairs
    )
    return pairs if valid else None


def change_html(change: dict) -> Markup:
    """One stored change (a ``changes`` row) as an HTML list item."""
    kind = change["kind"]
    old, new = change["old_text"], change["new_text"]
    pairs = _parse_diff(change["diff"])
    note = ""
    if pairs:
        body = diff_html(pairs)
    elif old and new and old != new:
        body = Markup("<del>{}</del> <ins>{}</ins>").format(old, new)
    elif new and kind == "added":
        body = Markup("<ins>{}</ins>").format(new)
    elif old and kind == "removed":
        body = Markup("<del>{}</del>").format(old)
    else:
        body = escape(new or old or "")
    if kind == "moved" and change["old_position"] is not None:
        note = f"from clause {change['old_position'] + 1} to {change['new_position'] + 1}"
    return Markup(
        '<li class="pt-change pt-{kind}"><span class="pt-kind">{label}</span>'
        '<span class="pt-section">{section}</span> <span class="pt-note">{note}</span>'
        '<div class="pt-text">{body}</div></li>'
    ).format(
        kind=kind,
        label=kind.capitalize(),
        section=change["section"] or "",
        note=note,
        body=body,
    )


def changes_html(changes: list[dict]) -> Markup:
    """A revision's stored changes as an HTML list."""
    items = Markup("").join(change_html(change) for change in changes)
    return Markup('<ul class="pt-changes">{}</ul>').format(items)


def _year(iso: str) -> float:
    """A date as a fractional year, for placing it on the timeline."""
    moment = datetime.fromisoformat(iso)
    start = datetime(moment.year, 1, 1, tzinfo=moment.tzinfo)
    return moment.year + (moment - start).days / 366


def timeline_svg(revisions: list[dict]) -> Markup:
    """An SVG chart of a policy's revisions: the length of the text in force over time (top)
    and the words each change added and removed (bars, each linking to its diff).

    Each revision dict has ``date``, ``words``, ``words_added``, ``words_removed``,
    ``from_version``, ``summary`` and ``url``.
    """
    width, left, right = 760, 56, 16
    top_y, top_h, mid_y, bar_h = 24, 90, 180, 56
    first = int(_year(revisions[0]["date"]))
    last = int(_year(revisions[-1]["date"])) + 1

    def x(year: float) -> float:
        return left + (year - first) / (last - first) * (width - left - right)

    longest = max(r["words"] or 0 for r in revisions) or 1
    changed = [r for r in revisions if r["from_version"] is not None]
    biggest = max([r["words_added"] for r in changed] + [r["words_removed"] for r in changed] + [1])
    parts = [
        f'<svg class="pt-timeline" viewBox="0 0 {width} {mid_y + bar_h + 28}" role="img" '
        'aria-label="Timeline of the policy: its length and the size of each change" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for year in range(first, last + 1):
        parts.append(
            f'<line x1="{x(year):.1f}" x2="{x(year):.1f}" y1="{top_y}" y2="{mid_y + bar_h}" '
            f'class="pt-grid"/><text x="{x(year):.1f}" y="{mid_y + bar_h + 18}" '
            f'class="pt-year">{year}</text>'
        )
    parts += [
        f'<text x="{left}" y="14" class="pt-axis">Length of the text in force '
        f"(words, up to {longest:,})</text>",
        f'<text x="{left}" y="{mid_y - bar_h - 8}" class="pt-axis">Words added (up) and '
        f"removed (down) by each change, up to {biggest:,}</text>",
        f'<line x1="{left}" x2="{width - right}" y1="{mid_y}" y2="{mid_y}" class="pt-base"/>',
    ]
    points = []
    for revision, following in zip(revisions, [*revisions[1:], None], strict=True):
        height = top_y + top_h - (revision["words"] or 0) / longest * top_h
        start = x(_year(revision["date"]))
        end = x(_year(following["date"])) if following else width - right
        points.append(f"{start:.1f},{height:.1f} {end:.1f},{height:.1f}")
    parts.append(f'<polyline points="{" ".join(points)}" class="pt-length"/>')
    for revision in revisions:
        position = x(_year(revision["date"]))
        label = escape(
            f"{revision['date'][:10]}: {revision['summary']}, "
            f"+{revision['words_added']} / -{revision['words_removed']} words"
        )
        parts.append(
            f'<a href="{escape(revision["url"])}" class="pt-revision"><title>{label}</title>'
        )
        if revision["from_version"] is None:
            parts.append(f'<circle cx="{position:.1f}" cy="{mid_y}" r="5" class="pt-first"/>')
        else:
            up = max(revision["words_added"] / biggest * bar_h, 1)
            down = max(revision["words_removed"] / biggest * bar_h, 1)
            parts.append(
                f'<rect x="{position - 4:.1f}" y="{mid_y - up:.1f}" width="8" '
                f'height="{up:.1f}" class="pt-added"/><rect x="{position - 4:.1f}" '
                f'y="{mid_y}" width="8" height="{down:.1f}" class="pt-removed"/>'
            )
        parts.append("</a>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _config(datasette: Any, database: str | None) -> dict | None:
    """The plugin's settings for a database, or None if it is not a policytrail database."""
    if database is None:
        return None
    return datasette.plugin_config("policytrail", database=database, fallback=False)


def _row_id(request: Any) -> int | None:
    """The integer primary key of the row a row page shows, if it has one."""
    pks = tilde_decode(request.url_vars.get("pks", ""))
    return int(pks) if pks.isdigit() else None


@hookimpl
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    """Make every connection to a read-only policytrail database refuse writes."""
    config = _config(datasette, database)
    if config is not None and config.get("read_only", True):
        conn.execute("PRAGMA query_only = 1")


@hookimpl
def extra_css_urls(database: str | None, datasette: Any) -> list[str]:
    """The plugin's stylesheet, on pages of policytrail databases."""
    if _config(datasette, database) is None:
        return []
    return [datasette.urls.path(f"/{STATIC_MOUNT}/policytrail.css")]


@hookimpl
def render_cell(
    value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | Callable[[], Awaitable[Markup]] | None:
    """Render versions as markdown, diffs with marks, and link changes and result ids."""
    if _config(datasette, database) is None:
        return None
    if table == "versions" and column == "markdown" and isinstance(value, str):
        return Markup('<div class="pt-markdown">{}</div>').format(render_markdown(value))
    if table in ("changes", None) and column == "diff":
        pairs = _parse_diff(value)
        return Markup('<div class="pt-text">{}</div>').format(diff_html(pairs)) if pairs else None
    if table == "changes" and column == "revision_id":
        revision_id = value["value"] if isinstance(value, dict) else value
        return _revision_links(datasette, database, revision_id)
    if table is None and column in ID_COLUMNS and isinstance(value, int):
        url = datasette.urls.row(database, ID_COLUMNS[column], str(value))
        return Markup('<a href="{}">{}</a>').format(url, value)
    return None


def _revision_links(
    datasette: Any, database: str, revision_id: int
) -> Callable[[], Awaitable[Markup]]:
    """A change's revision cell: links to the revision, its policy and its two versions."""

    async def inner() -> Markup:
        rows = await datasette.get_database(database).execute(
            "SELECT r.id, r.date, r.policy_id, r.from_version, r.to_version, p.name "
            "FROM revisions r JOIN policies p ON p.id = r.policy_id WHERE r.id = ?",
            [revision_id],
        )
        row = rows.first()
        if row is None:
            return escape(revision_id)
        url = datasette.urls.row
        return Markup(
            '<a href="{}">{}</a> of <a href="{}">{}</a>: '
            '<a href="{}">version {}</a> &rarr; <a href="{}">version {}</a>'
        ).format(
            url(database, "revisions", str(row["id"])),
            row["date"][:10],
            url(database, "policies", str(row["policy_id"])),
            row["name"],
            url(database, "versions", str(row["from_version"])),
            row["from_version"],
            url(database, "versions", str(row["to_version"])),
            row["to_version"],
        )

    return inner


@hookimpl
def extra_template_vars(
    view_name: str, database: str | None, table: str | None, request: Any, datasette: Any
) -> Callable[[], Awaitable[dict]] | None:
    """A policy's timeline on its row page, and a revision's rendered diff on its row page."""
    if view_name != "row" or table not in ("policies", "revisions"):
        return None
    if _config(datasette, database) is None or request is None:
        return None
    row_id = _row_id(request)
    if row_id is None:
        return None
    assert database is not None
    if table == "policies":
        return lambda: _policy_vars(datasette, database, row_id)
    return lambda: _revision_vars(datasette, database, row_id)


async def _revisions(datasette: Any, database: str, where: str, params: list) -> list[dict]:
    """Revisions with their policy name, text length, summary and page URL, by date."""
    rows = await datasette.get_database(database).execute(
        "SELECT r.*, p.name AS policy, v.words FROM revisions r "
        "JOIN policies p ON p.id = r.policy_id JOIN versions v ON v.id = r.to_version "
        f"WHERE {where} ORDER BY r.date, r.id",
        params,
    )
    revisions = [dict(row) for row in rows.rows]
    for revision in revisions:
        revision["summary"] = revision_summary(revision)
        revision["url"] = datasette.urls.row(database, "revisions", str(revision["id"]))
    return revisions


def feed_url(datasette: Any, database: str, policy: str | None = None) -> str:
    """The path of the Atom feed of a database's changes, or of one policy's."""
    path = datasette.urls.path(f"/-/policytrail/{database}/changes.atom")
    return f"{path}?{urlencode({'policy': policy})}" if policy else path


async def _policy_vars(datasette: Any, database: str, policy_id: int) -> dict:
    """Template variables of a policy's page: its revisions and their chart."""
    revisions = await _revisions(datasette, database, "r.policy_id = ?", [policy_id])
    if not revisions:
        return {}
    return {
        "policytrail_policy": {
            "name": revisions[0]["policy"],
            "revisions": revisions,
            "chart": timeline_svg(revisions),
            "feed": feed_url(datasette, database, revisions[0]["policy"]),
        }
    }


async def _revision_vars(datasette: Any, database: str, revision_id: int) -> dict:
    """Template variables of a revision's page: its changes, rendered, and its neighbours."""
    db = datasette.get_database(database)
    found = await _revisions(datasette, database, "r.id = ?", [revision_id])
    if not found:
        return {}
    revision = found[0]
    timeline = await _revisions(datasette, database, "r.policy_id = ?", [revision["policy_id"]])
    index = next(i for i, item in enumerate(timeline) if item["id"] == revision_id)
    changes = await db.execute(
        "SELECT * FROM changes WHERE revision_id = ? ORDER BY seq", [revision_id]
    )
    url = datasette.urls.row
    return {
        "policytrail_revision": {
            "revision": revision,
            "changes": changes_html([dict(row) for row in changes.rows]),
            "change_count": len(changes.rows),
            "policy_url": url(database, "policies", str(revision["policy_id"])),
            "from_url": revision["from_version"]
            and url(database, "versions", str(revision["from_version"])),
            "to_url": url(database, "versions", str(revision["to_version"])),
            "previous": timeline[index - 1] if index > 0 else None,
            "next": timeline[index + 1] if index + 1 < len(timeline) else None,
        }
    }


@hookimpl
def register_routes() -> list[tuple[str, Callable]]:
    """The Atom feeds of changes."""
    return [(r"^/-/policytrail/(?P<database>[^/]+)/changes\.atom$", atom_feed)]


async def atom_feed(request: Any, datasette: Any) -> Response:
    """An Atom feed of the latest revisions, of every policy or of ``?policy=NAME``."""
    database = request.url_vars["database"]
    if database not in datasette.databases or _config(datasette, database) is None:
        raise NotFound(f"no policytrail database {database!r}")
    await datasette.ensure_permissions(
        request.actor,
        [("view-table", (database, "revisions")), ("view-database", database), "view-instance"],
    )
    policy = request.args.get("policy")
    # Revisions that only a new normalizer made are no policy change: no feed entry.
    where, params = ("r.technical = 0", [])
    if policy:
        where, params = ("r.technical = 0 AND p.name = ?", [policy])
        known = await datasette.get_database(database).execute(
            "SELECT 1 FROM policies WHERE name = ?", [policy]
        )
        if not known.rows:
            raise NotFound(f"no tracked policy {policy!r}")
    revisions = (await _revisions(datasette, database, where, params))[-FEED_LIMIT:][::-1]
    changes = await _feed_changes(datasette, database, [r["id"] for r in revisions])
    absolute = datasette.absolute_url
    feed = ET.Element("feed", xmlns="http://www.w3.org/2005/Atom")
    about = f"policy {policy}" if policy else "all policies"
    ET.SubElement(feed, "title").text = f"policytrail: changes of {about}"
    ET.SubElement(feed, "id").text = absolute(request, feed_url(datasette, database, policy))
    ET.SubElement(feed, "link", rel="self", href=absolute(request, request.full_path))
    ET.SubElement(
        feed,
        "link",
        rel="alternate",
        href=absolute(request, datasette.urls.table(database, "revisions")),
    )
    ET.SubElement(feed, "updated").text = (
        revisions[0]["date"] if revisions else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = "policytrail"
    for revision in revisions:
        entry = ET.SubElement(feed, "entry")
        page = absolute(request, revision["url"])
        ET.SubElement(entry, "title").text = f"{revision['policy']}: {revision['summary']}"
        ET.SubElement(entry, "id").text = page
        ET.SubElement(entry, "link", rel="alternate", href=page)
        ET.SubElement(entry, "updated").text = revision["date"]
        ET.SubElement(entry, "summary").text = (
            f"{revision['policy']} changed on {revision['date'][:10]}: {revision['summary']}; "
            f"{revision['words_added']} words added, {revision['words_removed']} removed."
        )
        if revision["id"] in changes:
            content = changes_html(changes[revision["id"]])
            ET.SubElement(entry, "content", type="html").text = str(content)
    body = ET.tostring(feed, encoding="unicode", xml_declaration=True)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


async def _feed_changes(datasette: Any, database: str, revision_ids: list[int]) -> dict:
    """The stored changes of some revisions, grouped by revision id."""
    grouped: dict[int, list[dict]] = {}
    if not revision_ids:
        return grouped
    marks = ", ".join("?" for _ in revision_ids)
    rows = await datasette.get_database(database).execute(
        f"SELECT * FROM changes WHERE revision_id IN ({marks}) ORDER BY revision_id, seq",
        revision_ids,
    )
    for row in rows.rows:
        grouped.setdefault(row["revision_id"], []).append(dict(row))
    return grouped


class YearFacet(Facet):
    """Facet a date column by year: ``{"year": "date"}`` in a table's ``facets``.

    Choosing a year filters with Datasette's own ``COLUMN__startswith=YEAR``.
    """

    type = "year"

    async def facet_results(self) -> tuple[list[dict], list[str]]:
        """Each configured column's years, newest first, with their row counts."""
        results, timed_out = [], []
        args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            quoted = escape_sqlite(column)
            sql = (
                f"SELECT substr({quoted}, 1, 4) AS value, count(*) AS count FROM ({self.sql}) "
                f"WHERE {quoted} GLOB '[0-9][0-9][0-9][0-9]*' "
                f"GROUP BY value ORDER BY value DESC LIMIT {size + 1}"
            )
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            key = f"{column}__startswith"
            values = []
            for row in rows.rows[:size]:
                selected = args.get(key) == row["value"]
                change = path_with_removed_args if selected else path_with_added_args
                values.append(
                    {
                        "value": row["value"],
                        "label": row["value"],
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(
                            self.request, change(self.request, {key: row["value"]})
                        ),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": path_with_removed_args(self.request, {"_facet_year": column}),
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out


@hookimpl
def register_facet_classes() -> list[type[Facet]]:
    """The year facet."""
    return [YearFacet]
