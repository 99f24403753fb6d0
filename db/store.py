"""Store policies, their captures and their distinct versions in SQLite, and record what changed.

One capture travels: CDX row -> :meth:`Store.save_capture` (with its raw body and normalized
markdown) -> :meth:`Store.refresh` (version dates, revisions and clause changes). Every method
is safe to call again with the same data: nothing is duplicated and nothing stored is lost.
"""

import hashlib
import json
import re
import sqlite3
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from db.dates import end_of, now_iso, timestamp_to_iso
from db.schema import migrate
from tracker.clauses import split_clauses, words
from tracker.diff import KINDS, Comparison, compare, word_diff

#: Capture outcomes. ``failed`` is the only one a later crawl tries again.
OUTCOMES = ("version", "not-a-version", "redirect", "http-error", "failed")
#: Outcomes of captures whose bytes were fetched and are kept.
_FETCHED = "('version', 'not-a-version', 'redirect')"
#: Outcomes of fetched captures that were normalized (a version, or the reason they are none).
_NORMALIZED = "('version', 'not-a-version')"


class StoreError(Exception):
    """A request the store cannot satisfy; its message is meant for people."""


class PolicyNotFound(StoreError):
    """No tracked policy has that name or id."""


def policy_name_for(url: str) -> str:
    """A readable default name for a policy URL: ``example.com-privacy`` for
    ``https://www.example.com/privacy.html``."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").removeprefix("www.")
    path = re.sub(r"\.[a-z0-9]{2,5}$", "", parts.path.strip("/"), flags=re.I)
    slug = re.sub(r"[^a-z0-9.]+", "-", path.lower()).strip("-")
    return f"{host}-{slug}" if slug else host


#: Host names as found in archives: labels of letters, digits, ``-`` and ``_`` (real sites use
#: both), at least two of them.
_HOST = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """A policy URL in canonical form: scheme and host lower-cased, default port and fragment
    dropped, ``/`` for an empty path; raise :class:`StoreError` if it is no web page URL."""
    candidate = url.strip()
    if "://" not in candidate:
        candidate = f"http://{candidate}"
    try:
        parts = urlsplit(candidate)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise StoreError(f"not a web page URL: {url!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not _HOST.match(host):
        raise StoreError(f"not a web page URL: {url!r}")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def url_variants(url: str) -> list[str]:
    """The forms of a canonical URL that archives treat as the same page: either scheme, with
    or without ``www.``."""
    scheme, rest = url.split("://", 1)
    bare = rest.removeprefix("www.")
    return [f"{s}://{host}" for s in ("http", "https") for host in (bare, f"www.{bare}")]


def _oldest(clause: dict, clauses: dict[int, dict], *, same_wording: bool = False) -> dict:
    """The oldest ancestor of a clause (with ``same_wording``: reached without a rewording)."""
    node, seen = clause, {clause["id"]}
    while node["ancestor_id"] in clauses and node["ancestor_id"] not in seen:
        parent = clauses[node["ancestor_id"]]
        if same_wording and parent["key"] != clause["key"]:
            break
        node = parent
        seen.add(node["id"])
    return node


def _life_event(previous: list[dict] | None, current: list[dict] | None) -> dict | None:
    """What happened to a clause between two versions (None: nothing)."""
    if not previous and not current:
        return None
    if not current:
        return {"event": "removed", "text": " ".join(c["text"] for c in previous or [])}
    text = " ".join(c["text"] for c in current)
    section = current[0]["section"]
    if not previous:
        return {"event": "appeared", "text": text, "section": section}
    old_text = " ".join(c["text"] for c in previous)
    if [c["key"] for c in previous] != [c["key"] for c in current]:
        kind = (
            "split"
            if len(current) > len(previous)
            else "merged"
            if len(current) < len(previous)
            else "reworded"
        )
        return {
            "event": kind,
            "text": text,
            "section": section,
            "diff": word_diff(old_text, text),
        }
    if previous[0]["section"] != section:
        return {"event": "moved", "text": text, "section": section}
    return None


def _merge_spells(spells: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """Join sorted ``(from, until)`` spells that touch into longer ones."""
    merged: list[tuple[str, str | None]] = []
    for start, end in spells:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class Store:
    """A policytrail database: open (and create or upgrade) the SQLite file at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite_utils.Database(self.path)
        try:
            self.db.enable_wal()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a policytrail database: {error}") from None
        # In WAL mode NORMAL loses no committed data when a process dies, only on power loss.
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA busy_timeout = 30000")
        migrate(self.db)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def _insert(self, table: str, row: dict) -> int:
        """Insert a row; return its primary key."""
        pk = self.db.table(table).insert(row).last_pk
        assert pk is not None
        return int(pk)

    # Policies -------------------------------------------------------------------------------

    def add_policy(self, url: str, *, name: str | None = None, kind: str = "privacy") -> dict:
        """Track the policy at ``url``; return its row, with ``created`` False if it was tracked.

        A URL is tracked already when any of its forms (``http``/``https``, with or without
        ``www.``) belongs to a policy: archives list them as one page.
        """
        url = normalize_url(url)
        name = name or policy_name_for(url)
        variants = url_variants(url)
        marks = ", ".join("?" for _ in variants)
        try:
            with self.db.conn:
                self.db.execute("BEGIN IMMEDIATE")
                known = self.db.execute(
                    f"SELECT policy_id FROM policy_urls WHERE url IN ({marks})", variants
                ).fetchone()
                if known:
                    return {**self.policy(known[0]), "created": False}
                if self.db.table("policies").count_where("name = ?", [name]):
                    raise StoreError(f"a policy named {name!r} already exists with another URL")
                policy_id = int(
                    self.db.execute(
                        "INSERT INTO policies (name, kind, url, added_at) VALUES (?, ?, ?, ?)",
                        [name, kind, url, now_iso()],
                    ).lastrowid
                    or 0
                )
                self.db.execute(
                    "INSERT INTO policy_urls (policy_id, url, added_at, found_via) "
                    "VALUES (?, ?, ?, 'added')",
                    [policy_id, url, now_iso()],
                )
        except sqlite3.IntegrityError as error:
            raise StoreError(f"could not add {url}: {error}") from None
        return {**self.policy(policy_id), "created": True}

    def add_site(self, domain: str) -> bool:
        """Register a site whose policies ``discover`` will look for; True if it is new."""
        if self.db.table("sites").count_where("domain = ?", [domain]):
            return False
        self.db.table("sites").insert({"domain": domain, "added_at": now_iso()})
        return True

    def sites(self, *, undiscovered: bool = False) -> list[str]:
        """Registered sites' domains (only those never discovered, if asked)."""
        where = "discovered_at IS NULL" if undiscovered else None
        rows = self.db.table("sites").rows_where(where, order_by="domain")
        return [row["domain"] for row in rows]

    def mark_discovered(self, domain: str, found: dict[str, list[str]]) -> None:
        """Record a site's discovery and the policy URLs found, by kind."""
        self.db.table("sites").upsert(
            {"domain": domain, "discovered_at": now_iso(), "found": json.dumps(found)},
            pk="domain",
            alter=False,
        )

    def add_policy_url(self, policy_id: int, url: str, *, found_via: str) -> bool:
        """Follow the policy at one more URL (it moved); return True if the URL is new.

        A URL that any policy tracks already (in any of its forms) is left to that policy, and
        one that is no web page URL (archived redirects can point anywhere) is not followed.
        """
        try:
            url = normalize_url(url)
        except StoreError:
            return False
        variants = url_variants(url)
        marks = ", ".join("?" for _ in variants)
        if self.db.execute(
            f"SELECT 1 FROM policy_urls WHERE url IN ({marks})", variants
        ).fetchone():
            return False
        self.db.table("policy_urls").insert(
            {"policy_id": policy_id, "url": url, "added_at": now_iso(), "found_via": found_via}
        )
        return True

    def policy(self, ref: str | int) -> dict:
        """The policy with this name, or else this id; raise :class:`PolicyNotFound` if none."""
        rows = list(self.db.table("policies").rows_where("name = ?", [str(ref)], limit=1))
        if not rows and str(ref).isdigit():
            rows = list(self.db.table("policies").rows_where("id = ?", [int(ref)], limit=1))
        if not rows:
            raise PolicyNotFound(f"no tracked policy {ref!r} (see: policytrail policies)")
        return rows[0]

    def policies(self) -> list[dict]:
        """Every tracked policy with its URLs and counts, by name."""
        return list(
            self.db.query(
                """
                SELECT p.*,
                  (SELECT group_concat(url, ' ') FROM policy_urls u
                   WHERE u.policy_id = p.id) AS urls,
                  (SELECT count(*) FROM captures c WHERE c.policy_id = p.id) AS captures,
                  (SELECT count(*) FROM versions v WHERE v.policy_id = p.id) AS versions,
                  (SELECT max(captured_at) FROM captures c WHERE c.policy_id = p.id) AS last_capture
                FROM policies p ORDER BY p.name
                """
            )
        )

    def policy_urls(self, policy_id: int) -> list[str]:
        """The URLs the policy has had, in the order they were found."""
        return [
            row["url"]
            for row in self.db.table("policy_urls").rows_where(
                "policy_id = ?", [policy_id], order_by="rowid"
            )
        ]

    # Captures -------------------------------------------------------------------------------

    def settled_captures(self, policy_id: int) -> set[tuple[str, str]]:
        """``(url, timestamp)`` of the policy's captures that need no fetch again."""
        return {
            (row[0], row[1])
            for row in self.db.execute(
                "SELECT url, timestamp FROM captures WHERE policy_id = ? AND outcome != 'failed'",
                [policy_id],
            )
        }

    def listed_until(self, policy_id: int) -> dict[str, str | None]:
        """Each of the policy's URLs, with the timestamp up to which its captures are settled.

        Only a crawl that finished sets it (:meth:`mark_listed`), so captures listed by a crawl
        that was killed are listed again.
        """
        return {
            row["url"]: row["listed_until"]
            for row in self.db.table("policy_urls").rows_where(
                "policy_id = ?", [policy_id], order_by="rowid"
            )
        }

    def mark_listed(self, policy_id: int, url: str, until: str) -> None:
        """Record that every capture of a policy URL up to ``until`` is settled."""
        self.db.execute(
            "UPDATE policy_urls SET listed_until = max(coalesce(listed_until, ''), ?) "
            "WHERE policy_id = ? AND url = ?",
            [until, policy_id, url],
        )
        self.db.conn.commit()

    def failed_captures(self, policy_id: int) -> list[dict]:
        """The policy's captures whose fetch failed, to be tried again."""
        return list(
            self.db.table("captures").rows_where(
                "policy_id = ? AND outcome = 'failed'", [policy_id], order_by="timestamp"
            )
        )

    def fetched_digests(self, policy_id: int) -> set[tuple[str, str]]:
        """``(url, digest)`` of the policy's captures whose bytes are stored.

        A capture listed with one of these has the same bytes, so it is recorded as a copy
        (:meth:`twin_capture`) without fetching it again.
        """
        return {
            (url, digest)
            for url, digest in self.db.execute(
                f"""
                SELECT DISTINCT c.url, c.digest FROM captures c
                JOIN raw_captures r ON r.capture_id = c.id
                WHERE c.policy_id = ? AND c.digest IS NOT NULL AND c.outcome IN {_FETCHED}
                """,
                [policy_id],
            )
        }

    def twin_capture(self, policy_id: int, url: str, digest: str) -> int | None:
        """The id of a stored capture with this URL and digest (the same bytes), if any."""
        row = self.db.execute(
            f"""
            SELECT c.id FROM captures c JOIN raw_captures r ON r.capture_id = c.id
            WHERE c.policy_id = ? AND c.url = ? AND c.digest = ? AND c.outcome IN {_FETCHED}
            ORDER BY c.id LIMIT 1
            """,
            [policy_id, url, digest],
        ).fetchone()
        return row[0] if row else None

    def save_capture(
        self,
        capture: Mapping[str, Any],
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        markdown: str | None = None,
        title: str | None = None,
        same_as: int | None = None,
    ) -> int:
        """Record one capture (a CDX row and what fetching it gave); return its id.

        ``capture`` has ``policy_id``, ``url``, ``timestamp``, ``outcome`` (one of
        :data:`OUTCOMES`) and optionally ``status``, ``mimetype``, ``digest``, ``length``,
        ``reason`` and ``redirect_to``. ``body`` is kept compressed; ``markdown`` (the normalized
        policy) becomes a version, shared by every capture with the same text. ``same_as`` names
        a stored capture with the same bytes (same URL and digest), whose outcome and version
        this one shares without a fetch. A capture already recorded is updated in place, except
        that a settled outcome is never replaced by ``failed``.
        """
        if capture["outcome"] not in OUTCOMES:
            raise StoreError(f"unknown capture outcome {capture['outcome']!r}")
        key = [capture["policy_id"], capture["url"], capture["timestamp"]]
        existing = self.db.execute(
            "SELECT id, outcome FROM captures WHERE policy_id = ? AND url = ? AND timestamp = ?",
            key,
        ).fetchone()
        if existing and capture["outcome"] == "failed" and existing[1] != "failed":
            return existing[0]
        row = {
            "policy_id": capture["policy_id"],
            "url": capture["url"],
            "timestamp": capture["timestamp"],
            "captured_at": timestamp_to_iso(capture["timestamp"]),
            "status": capture.get("status"),
            "mimetype": capture.get("mimetype"),
            "digest": capture.get("digest"),
            "length": capture.get("length"),
            "outcome": capture["outcome"],
            "reason": capture.get("reason"),
            "redirect_to": capture.get("redirect_to"),
            "version_id": None,
            "fetched_at": now_iso() if body is not None else None,
        }
        if same_as is not None:
            twin = self.db.table("captures").get(same_as)
            shared = ("outcome", "reason", "redirect_to", "version_id")
            row.update({key: twin[key] for key in shared})
        with self.db.conn:
            if markdown:
                row["version_id"] = self._version_id(capture["policy_id"], markdown, title or "")
            if existing:
                capture_id = existing[0]
                self.db.table("captures").update(capture_id, row)
            else:
                capture_id = self._insert("captures", row)
            if body is not None:
                self.db.table("raw_captures").upsert(
                    {
                        "capture_id": capture_id,
                        "headers": json.dumps(dict(headers or {}), sort_keys=True),
                        "size": len(body),
                        "body_zlib": zlib.compress(body, 6),
                    },
                    pk="capture_id",
                )
        return capture_id

    def fetched_captures(self, policy_id: int) -> Iterator[tuple[dict, bytes, dict[str, str]]]:
        """Each of the policy's captures whose bytes are stored, with its body and headers."""
        for row in self.db.query(
            f"""
            SELECT c.*, r.body_zlib, r.headers AS raw_headers FROM captures c
            JOIN raw_captures r ON r.capture_id = c.id
            WHERE c.policy_id = ? AND c.outcome IN {_NORMALIZED}
            ORDER BY c.captured_at, c.id
            """,
            [policy_id],
        ):
            body = zlib.decompress(row.pop("body_zlib"))
            yield row, body, json.loads(row.pop("raw_headers"))

    def reclassify(
        self,
        capture_id: int,
        *,
        markdown: str | None,
        title: str = "",
        reason: str | None = None,
    ) -> None:
        """Give a fetched capture (and its copies) a new normalization: a version, or a reason
        it is not one."""
        capture = self.db.table("captures").get(capture_id)
        with self.db.conn:
            version_id = (
                self._version_id(capture["policy_id"], markdown, title) if markdown else None
            )
            update = {
                "outcome": "version" if markdown else "not-a-version",
                "reason": None if markdown else reason,
                "version_id": version_id,
            }
            self.db.table("captures").update(capture_id, update)
            if capture["digest"]:
                self.db.execute(
                    f"""
                    UPDATE captures SET outcome = :outcome, reason = :reason,
                      version_id = :version_id
                    WHERE policy_id = :policy_id AND url = :url AND digest = :digest
                      AND outcome IN {_NORMALIZED}
                      AND id NOT IN (SELECT capture_id FROM raw_captures)
                    """,
                    {**update, **{key: capture[key] for key in ("policy_id", "url", "digest")}},
                )

    def prune_versions(self, policy_id: int) -> int:
        """Delete the policy's versions that no capture has any more; return how many."""
        with self.db.conn:
            orphans = [
                row[0]
                for row in self.db.execute(
                    "SELECT id FROM versions WHERE policy_id = ? AND id NOT IN "
                    "(SELECT version_id FROM captures WHERE version_id IS NOT NULL)",
                    [policy_id],
                )
            ]
            for version_id in orphans:
                self.db.execute("DELETE FROM clauses WHERE version_id = ?", [version_id])
                self.db.execute("DELETE FROM versions WHERE id = ?", [version_id])
        return len(orphans)

    def start_run(self, archive: str) -> int:
        """Record the start of a crawl run; return its id.

        Runs still marked ``running`` were killed (one process writes at a time): they are
        marked ``interrupted``.
        """
        with self.db.conn:
            self.db.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            return self._insert(
                "runs", {"started_at": now_iso(), "status": "running", "archive": archive}
            )

    def finish_run(self, run_id: int, *, status: str, **counts: Any) -> None:
        """Record how a crawl run ended and what it did."""
        with self.db.conn:
            self.db.table("runs").update(
                run_id, {"ended_at": now_iso(), "status": status, **counts}
            )

    def latest_run(self) -> dict | None:
        """The most recent crawl run, if any."""
        rows = list(self.db.table("runs").rows_where(order_by="id desc", limit=1))
        return rows[0] if rows else None

    def revisions_recorded_since(self, moment: str) -> list[dict]:
        """Revisions (not technical, not first versions) recorded at or after ``moment``, with
        their policy and their clause changes."""
        revisions = list(
            self.db.query(
                """
                SELECT r.*, p.name AS policy, p.url AS policy_url FROM revisions r
                JOIN policies p ON p.id = r.policy_id
                WHERE r.recorded_at >= ? AND r.technical = 0 AND r.from_version IS NOT NULL
                ORDER BY r.policy_id, r.date
                """,
                [moment],
            )
        )
        for revision in revisions:
            revision["changes"] = list(
                self.db.query(
                    "SELECT kind, section, old_text, new_text FROM changes "
                    "WHERE revision_id = ? ORDER BY seq",
                    [revision["id"]],
                )
            )
        return revisions

    def count(self, table: str, where: str | None = None, args: Iterable = ()) -> int:
        """Rows in a table (matching ``where``)."""
        return (
            self.db.table(table).count_where(where, list(args))
            if where
            else (self.db.table(table).count)
        )

    def raw_capture(self, capture_id: int) -> tuple[bytes, dict[str, str]]:
        """The stored raw body and headers of a capture."""
        rows = list(self.db.table("raw_captures").rows_where("capture_id = ?", [capture_id]))
        if not rows:
            raise StoreError(f"capture {capture_id} has no stored body")
        return zlib.decompress(rows[0]["body_zlib"]), json.loads(rows[0]["headers"])

    def _version_id(self, policy_id: int, markdown: str, title: str) -> int:
        """The id of the version with this exact text, created with its clauses if new."""
        digest = hashlib.sha256(markdown.encode("utf-8")).hexdigest()
        found = self.db.execute(
            "SELECT id FROM versions WHERE policy_id = ? AND sha256 = ?", [policy_id, digest]
        ).fetchone()
        if found:
            return found[0]
        version_id = self._insert(
            "versions",
            {
                "policy_id": policy_id,
                "sha256": digest,
                "title": title,
                "markdown": markdown,
                "words": len(markdown.split()),
                "capture_count": 0,
            },
        )
        self.db.table("clauses").insert_all(
            {
                "version_id": version_id,
                "position": clause.position,
                "kind": clause.kind,
                "section": clause.section,
                "text": clause.text,
                "key": clause.key,
            }
            for clause in split_clauses(markdown)
        )
        return version_id

    # Versions, revisions and changes ----------------------------------------------------------

    def refresh(self, policy_id: int, *, technical: bool = False) -> int:
        """Bring the policy's version dates, revisions and changes up to date with its captures.

        A revision is a point on the timeline where the text in force changed. Revisions the
        captures no longer support are deleted, missing ones computed; return how many were
        added. With ``technical`` (after a normalizer change), a revision on a date that had
        none before is marked technical: it comes from the normalizer, not from the policy.
        """
        with self.db.conn:
            self.db.execute(
                """
                UPDATE versions SET first_seen = seen.first, last_seen = seen.last,
                  capture_count = seen.n
                FROM (
                  SELECT version_id, min(captured_at) AS first, max(captured_at) AS last,
                    count(*) AS n
                  FROM captures WHERE policy_id = ? AND version_id IS NOT NULL
                  GROUP BY version_id
                ) AS seen
                WHERE versions.id = seen.version_id AND (versions.first_seen IS NOT seen.first
                  OR versions.last_seen IS NOT seen.last OR versions.capture_count != seen.n)
                """,
                [policy_id],
            )
            wanted = self._timeline(policy_id)
            have = {
                (row["from_version"], row["to_version"], row["date"]): row
                for row in self.db.table("revisions").rows_where("policy_id = ?", [policy_id])
            }
            flags = {row["date"]: row["technical"] for row in have.values()}
            for stale in set(have) - set(wanted):
                self.db.execute("DELETE FROM changes WHERE revision_id = ?", [have[stale]["id"]])
                self.db.execute("DELETE FROM revisions WHERE id = ?", [have[stale]["id"]])
            added = [step for step in wanted if step not in have]
            for from_version, to_version, date in added:
                flag = flags.get(date, 1 if technical else 0)
                self._record_revision(policy_id, from_version, to_version, date, technical=flag)
        return len(added)

    def _timeline(self, policy_id: int) -> list[tuple[int | None, int, str]]:
        """``(from_version, to_version, date)`` for each change of the text in force."""
        steps: list[tuple[int | None, int, str]] = []
        previous: int | None = None
        for version_id, captured_at in self.db.execute(
            """
            SELECT version_id, captured_at FROM captures
            WHERE policy_id = ? AND version_id IS NOT NULL ORDER BY captured_at, id
            """,
            [policy_id],
        ):
            if version_id != previous:
                steps.append((previous, version_id, captured_at))
                previous = version_id
        return steps

    def _record_revision(
        self,
        policy_id: int,
        from_version: int | None,
        to_version: int,
        date: str,
        *,
        technical: int = 0,
    ) -> None:
        """Compare two versions and store the revision with its clause changes."""
        new_text = self.version(to_version)["markdown"]
        old_text = self.version(from_version)["markdown"] if from_version else ""
        comparison = compare(old_text, new_text)
        summary = comparison.summary
        revision_id = self._insert(
            "revisions",
            {
                "policy_id": policy_id,
                "from_version": from_version,
                "to_version": to_version,
                "date": date,
                **{kind: summary.get(kind, 0) for kind in KINDS},
                "words_added": summary.get("words_added", 0),
                "words_removed": summary.get("words_removed", 0),
                "significance": summary.get("significance", 0.0),
                "technical": technical,
                "recorded_at": now_iso(),
            },
        )
        first = self.db.execute(
            "SELECT min(date) FROM revisions WHERE policy_id = ? AND to_version = ?",
            [policy_id, to_version],
        ).fetchone()[0]
        if first == date:
            self._link_ancestors(from_version, to_version, comparison.pairs)
        if from_version is None:
            return
        self.db.table("changes").insert_all(
            {
                "revision_id": revision_id,
                "seq": seq,
                "kind": change.kind,
                "section": (change.new or change.old).section,  # type: ignore[union-attr]
                "old_text": change.old.text if change.old else None,
                "new_text": change.new.text if change.new else None,
                "old_position": change.old.position if change.old else None,
                "new_position": change.new.position if change.new else None,
                "diff": json.dumps(change.diff) if change.diff else None,
            }
            for seq, change in enumerate(comparison.changes)
        )

    def in_force(self, policy_id: int) -> dict[int, list[tuple[str, str | None]]]:
        """Each version's spells in force: ``(from, until)`` dates, ``until`` None for the text
        in force at the last capture."""
        spells: dict[int, list[tuple[str, str | None]]] = {}
        revisions = list(
            self.db.execute(
                "SELECT to_version, date FROM revisions WHERE policy_id = ? ORDER BY date, id",
                [policy_id],
            )
        )
        for (version_id, start), following in zip(
            revisions, [*revisions[1:], (None, None)], strict=True
        ):
            spells.setdefault(version_id, []).append((start, following[1]))
        return spells

    def search(self, query: str, *, policy_id: int | None = None, limit: int = 20) -> list[dict]:
        """Clauses matching a full-text query, one result per policy and wording, each with
        the spells in which that wording was in force, best matches first.

        The query uses SQLite FTS syntax (``"will not sell"``, ``sell OR share``, ``shar*``); a
        query that is not valid FTS is searched for as plain words.
        """
        where = "version_id IN (SELECT id FROM versions WHERE policy_id = :policy)"
        options: dict[str, Any] = {
            "columns": ["id", "version_id", "section", "text", "key"],
            "include_rank": True,
            "limit": 5000,
            "where": where if policy_id else None,
            "where_args": {"policy": policy_id} if policy_id else None,
        }
        try:
            hits = list(self.db.table("clauses").search(query, **options))
        except sqlite3.OperationalError:
            plain = " ".join(f'"{word}"' for word in re.findall(r"\w+", query))
            hits = list(self.db.table("clauses").search(plain, **options)) if plain else []
        hit_versions = json.dumps(sorted({hit["version_id"] for hit in hits}))
        versions = {
            row["id"]: row
            for row in self.db.query(
                "SELECT v.id, v.policy_id, p.name FROM versions v "
                "JOIN policies p ON p.id = v.policy_id "
                "WHERE v.id IN (SELECT value FROM json_each(?))",
                [hit_versions],
            )
        }
        groups: dict[tuple[int, str], dict] = {}
        for hit in hits:
            version = versions[hit["version_id"]]
            group = groups.setdefault(
                (version["policy_id"], hit["key"]),
                {
                    "policy": version["name"],
                    "policy_id": version["policy_id"],
                    "rank": hit["rank"],
                    "versions": set(),
                },
            )
            group.update(section=hit["section"], text=hit["text"])
            group["rank"] = min(group["rank"], hit["rank"])
            group["versions"].add(hit["version_id"])
        spells_by_policy: dict[int, dict[int, list[tuple[str, str | None]]]] = {}
        results = []
        for group in sorted(groups.values(), key=lambda g: g["rank"])[:limit]:
            pid = group.pop("policy_id")
            if pid not in spells_by_policy:
                spells_by_policy[pid] = self.in_force(pid)
            spells = sorted(
                spell
                for version_id in group.pop("versions")
                for spell in spells_by_policy[pid].get(version_id, [])
            )
            group["in_force"] = _merge_spells(spells)
            results.append(group)
        return results

    def _link_ancestors(
        self, from_version: int | None, to_version: int, pairs: list[tuple[int, int]]
    ) -> None:
        """Link each clause of a version to the clause it came from in the version before it
        (its first predecessor on the timeline)."""
        self.db.execute("UPDATE clauses SET ancestor_id = NULL WHERE version_id = ?", [to_version])
        if from_version is None or not pairs:
            return
        old = self._clause_ids(from_version)
        new = self._clause_ids(to_version)
        self.db.conn.executemany(
            "UPDATE clauses SET ancestor_id = ? WHERE id = ?",
            [(old[i], new[j]) for i, j in pairs if i in old and j in new],
        )

    def _clause_ids(self, version_id: int) -> dict[int, int]:
        """A version's clause ids by position."""
        return dict(
            self.db.execute(
                "SELECT position, id FROM clauses WHERE version_id = ?", [version_id]
            ).fetchall()
        )

    def blame(self, policy_id: int, at: str | None = None) -> tuple[dict, list[dict]]:
        """The version in force at ``at`` (default: the latest), and each of its clauses with
        ``first_seen`` (when the clause first appeared, whatever its wording then) and
        ``changed`` (when its present wording came in)."""
        version = self.version_at(policy_id, at)
        clauses = self._policy_clauses(policy_id)
        came_in = self._first_in_force(policy_id)
        rows = []
        for clause in sorted(
            (c for c in clauses.values() if c["version_id"] == version["id"]),
            key=lambda c: c["position"],
        ):
            first = _oldest(clause, clauses)
            wording = _oldest(clause, clauses, same_wording=True)
            rows.append(
                {
                    **{key: clause[key] for key in ("position", "kind", "section", "text")},
                    "first_seen": came_in.get(first["version_id"]),
                    "changed": came_in.get(wording["version_id"]),
                }
            )
        return version, rows

    def _policy_clauses(self, policy_id: int) -> dict[int, dict]:
        """Every clause of every version of a policy, by id."""
        return {
            row["id"]: row
            for row in self.db.query(
                "SELECT c.id, c.version_id, c.ancestor_id, c.position, c.kind, c.section, "
                "c.text, c.key FROM clauses c JOIN versions v ON v.id = c.version_id "
                "WHERE v.policy_id = ?",
                [policy_id],
            )
        }

    def _first_in_force(self, policy_id: int) -> dict[int, str]:
        """When each version of a policy first came into force."""
        return dict(
            self.db.execute(
                "SELECT to_version, min(date) FROM revisions WHERE policy_id = ? "
                "GROUP BY to_version",
                [policy_id],
            ).fetchall()
        )

    def clause_history(self, policy_id: int, text: str) -> tuple[dict, list[dict]]:
        """The clause of the policy that best matches ``text``, and the events of its life in
        timeline order: ``appeared``, ``reworded`` (with a word diff), ``moved`` (to another
        section), ``removed``.

        Its life is followed through the clause lineage: its ancestors and descendants in every
        version (a split clause's parts, a merged clause's sources included).
        """
        clauses = self._policy_clauses(policy_id)
        wanted = Counter(words(text))
        if not clauses or not wanted:
            raise StoreError("no clause to match: the policy has no stored version")
        came_in = self._first_in_force(policy_id)

        def score(clause: dict) -> tuple[float, str]:
            found = Counter(words(clause["text"]))
            overlap = sum((found & wanted).values())
            dice = 2 * overlap / (sum(found.values()) + sum(wanted.values()) or 1)
            return dice, came_in.get(clause["version_id"], "")

        best = max(clauses.values(), key=score)
        if score(best)[0] == 0:
            raise StoreError(f"no clause of this policy resembles {text!r}")
        family = self._family(best, clauses)
        members: dict[int, list[dict]] = {}
        for clause in sorted(family, key=lambda c: c["position"]):
            members.setdefault(clause["version_id"], []).append(clause)
        events: list[dict] = []
        previous: list[dict] | None = None
        for version_id, date in self.db.execute(
            "SELECT to_version, date FROM revisions WHERE policy_id = ? ORDER BY date, id",
            [policy_id],
        ).fetchall():
            current = members.get(version_id)
            event = _life_event(previous, current)
            if event:
                events.append({**event, "date": date, "version": version_id})
            previous = current
        return best, events

    def _family(self, clause: dict, clauses: dict[int, dict]) -> list[dict]:
        """A clause with all its ancestors and all their descendants."""
        children: dict[int, list[int]] = {}
        for row in clauses.values():
            if row["ancestor_id"] is not None:
                children.setdefault(row["ancestor_id"], []).append(row["id"])
        root = _oldest(clause, clauses)
        found: dict[int, dict] = {}
        stack = [root["id"]]
        while stack:
            node = stack.pop()
            if node not in found:
                found[node] = clauses[node]
                stack.extend(children.get(node, []))
        return list(found.values())

    def version(self, version_id: int) -> dict:
        """One version's row."""
        return self.db.table("versions").get(version_id)

    def history(self, policy_id: int) -> list[dict]:
        """The policy's revisions in date order, each with its version and change counts."""
        return list(
            self.db.query(
                """
                SELECT r.*, v.first_seen, v.last_seen, v.capture_count, v.words, v.title
                FROM revisions r JOIN versions v ON v.id = r.to_version
                WHERE r.policy_id = ? ORDER BY r.date, r.id
                """,
                [policy_id],
            )
        )

    def version_at(self, policy_id: int, at: str | None = None) -> dict:
        """The version in force at the end of the date ``at`` (default: the latest)."""
        moment = end_of(at) if at else "9999"
        rows = list(
            self.db.query(
                """
                SELECT v.*, r.date AS in_force_from FROM revisions r
                JOIN versions v ON v.id = r.to_version
                WHERE r.policy_id = ? AND r.date <= ? ORDER BY r.date DESC, r.id DESC LIMIT 1
                """,
                [policy_id, moment],
            )
        )
        if not rows:
            when = f" at {at}" if at else ""
            name = self.policy(policy_id)["name"]
            raise StoreError(f"policy {name} has no stored version{when}")
        return rows[0]

    def compare_dates(
        self, policy_id: int, *, start: str | None = None, end: str | None = None
    ) -> tuple[dict, dict, Comparison]:
        """Compare the versions in force at ``start`` and ``end``.

        Without ``start``, the version before the one in force at ``end`` is the old one, so a
        bare diff shows the latest change.
        """
        new = self.version_at(policy_id, end)
        if start:
            old = self.version_at(policy_id, start)
        else:
            previous = self.db.execute(
                """
                SELECT from_version FROM revisions WHERE policy_id = ? AND to_version = ?
                AND date = ? """,
                [policy_id, new["id"], new["in_force_from"]],
            ).fetchone()
            old = self.version(previous[0]) if previous and previous[0] else new
        return old, new, compare(old["markdown"], new["markdown"])

    def changes(self, revision_ids: Iterable[int]) -> list[dict]:
        """The stored clause changes of some revisions, in order."""
        ids = list(revision_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return list(
            self.db.query(
                f"SELECT * FROM changes WHERE revision_id IN ({marks}) ORDER BY revision_id, seq",
                ids,
            )
        )
