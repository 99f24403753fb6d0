"""The ``policytrail`` command line: track policies, crawl archives, and ask what changed."""

import contextlib
import functools
import json
import mimetypes
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from crawler.archive import DEFAULT_ARCHIVE, Archive, ArchiveError
from crawler.selection import INTERVALS
from db import Store, StoreError
from db.dates import InvalidDate, end_of
from db.policy_list import KINDS, Entry, is_domain, read_policy_list
from tracker.diff import Comparison, compare
from tracker.ingest import ingest as ingest_command
from tracker.options import db_option, json_option
from tracker.render import (
    comparison_to_dict,
    render_html,
    render_markdown,
    render_terminal,
    revision_summary,
)
from tracker.schedule import CrawlLock, ScheduleError, check_schedule, notify, run_on_schedule

FORMATS = ("terminal", "markdown", "html", "json")

console = Console(highlight=False)


def format_options(command: Callable) -> Callable:
    """Add ``--format`` and ``--all`` to commands that print a comparison."""
    command = click.option(
        "--all", "show_all", is_flag=True, help="Also show cosmetic changes (hidden by default)."
    )(command)
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="terminal",
        show_default=True,
        help="How to print the changes.",
    )(command)


def friendly_errors(command: Callable) -> Callable:
    """Turn the library's errors into one ``Error: ...`` line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (StoreError, ArchiveError, InvalidDate, ScheduleError, OSError) as error:
            raise click.ClickException(str(error)) from None

    return wrapper


def open_store(db_path: str, *, must_exist: bool = True) -> Store:
    """Open the database; a query against a database that does not exist is an error."""
    if must_exist and not Path(db_path).exists():
        raise click.ClickException(
            f"no database at {db_path}: add a policy first (policytrail add URL --db {db_path})"
        )
    return Store(db_path)


def print_json(data: Any) -> None:
    """Print data as indented JSON."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_comparison(
    comparison: Comparison, output_format: str, *, show_all: bool, title: str
) -> None:
    """Print a comparison in the chosen format."""
    if output_format == "json":
        print_json(comparison_to_dict(comparison))
    elif output_format == "markdown":
        click.echo(render_markdown(comparison, show_cosmetic=show_all))
    elif output_format == "html":
        click.echo(render_html(comparison, show_cosmetic=show_all, title=title))
    else:
        console.print(f"[bold]{escape(title)}[/bold]")
        render_terminal(comparison, console, show_cosmetic=show_all)


def change_counts(revision: dict) -> str:
    """``3 added, 1 modified (+40 -12 words)`` for a revision; ``first version`` for the first."""
    if revision["from_version"] is None:
        return "first version"
    words = f" (+{revision['words_added']} -{revision['words_removed']} words)"
    summary = revision_summary(revision) + words
    return f"technical: {summary}" if revision.get("technical") else summary


def short_date(iso: str | None) -> str:
    """``2018-05-25`` from ``2018-05-25T10:00:00Z``."""
    return (iso or "")[:10]


@click.group()
@click.version_option(package_name="policytrail")
def cli() -> None:
    """Reconstruct and track how website policies changed over the years.

    \b
    policytrail add https://www.example.com/privacy
    policytrail crawl
    policytrail history example.com-privacy
    """


@cli.command()
@click.argument("url", required=False)
@click.option("--name", help="A short name for the policy (default: from the URL).")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="privacy",
    show_default=True,
    help="What kind of policy it is.",
)
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Add every policy URL or domain in a file (one a line, or CSV: name,url,kind).",
)
@db_option
@json_option
@friendly_errors
def add(
    url: str | None,
    name: str | None,
    kind: str,
    from_file: str | None,
    db_path: str,
    as_json: bool,
) -> None:
    """Track the policy at URL, or register a site (a bare domain) for discover.

    Adding what is already tracked changes nothing. With --from-file, invalid lines are
    reported with their line numbers and skipped; the valid ones are added.

    \b
    policytrail add https://www.example.com/privacy --name example-privacy
    policytrail add example.com            # then: policytrail discover
    policytrail add --from-file policies.csv
    """
    if bool(url) == bool(from_file):
        raise click.UsageError("give either a URL or --from-file FILE")
    store = open_store(db_path, must_exist=False)
    errors: list[str] = []
    if url:
        entries = [Entry(0, url=url, name=name, kind=kind)]
        if is_domain(url):
            entries = [Entry(0, domain=url.strip("/").lower().removeprefix("www."))]
    else:
        entries, errors = read_policy_list(from_file or "")
    results = []
    for entry in entries:
        try:
            results.append(add_entry(store, entry))
        except StoreError as problem:
            if url:
                raise
            errors.append(f"line {entry.line}: {problem}")
    if as_json:
        print_json({"added": results, "errors": errors})
    else:
        for result in results:
            click.echo(result["message"])
        for line in errors:
            click.echo(f"Skipped {line}", err=True)
        if from_file:
            added = sum(1 for result in results if result["created"])
            click.echo(
                f"{added} added, {len(results) - added} already tracked, {len(errors)} skipped"
            )


def add_entry(store: Store, entry: Entry) -> dict:
    """Track one entry of a policy list; return what happened, with a message for people."""
    if entry.domain:
        created = store.add_site(entry.domain)
        verb = "Registered site" if created else "Site already registered:"
        return {"domain": entry.domain, "created": created, "message": f"{verb} {entry.domain}"}
    assert entry.url is not None
    policy = store.add_policy(entry.url, name=entry.name, kind=entry.kind)
    verb = "Tracking" if policy["created"] else "Already tracked as"
    return {**policy, "message": f"{verb} {policy['name']}: {policy['url']}"}


@cli.command()
@db_option
@json_option
@friendly_errors
def policies(db_path: str, as_json: bool) -> None:
    """List the tracked policies.

    \b
    policytrail policies --json
    """
    rows = open_store(db_path).policies()
    if as_json:
        print_json(rows)
        return
    table = Table("name", "kind", "urls", "captures", "versions", "last capture")
    for row in rows:
        table.add_row(
            escape(row["name"]),
            row["kind"],
            escape(row["urls"] or ""),
            str(row["captures"]),
            str(row["versions"]),
            short_date(row["last_capture"]),
        )
    console.print(table)


@cli.command()
@click.option(
    "--archive",
    default=DEFAULT_ARCHIVE,
    show_default=True,
    help="A Wayback-compatible archive: the Internet Archive or a pywb collection URL.",
)
@click.option("--policy", help="Crawl only this policy (name or id).")
@click.option(
    "--every",
    type=click.Choice(INTERVALS),
    default="all",
    show_default=True,
    help="Fetch one capture per interval, the one nearest its middle.",
)
@click.option("--from", "from_date", help="Only captures from this date (YYYY[MM[DD]]).")
@click.option("--to", "to_date", help="Only captures up to this date (YYYY[MM[DD]]).")
@click.option("--full", is_flag=True, help="List every capture, not only those newer than seen.")
@click.option("--collapse", is_flag=True, help="Ask CDX to drop adjacent identical captures.")
@click.option(
    "--status",
    metavar="REGEX",
    help="Only list captures whose HTTP status matches, e.g. '2..|3..' (default: all).",
)
@click.option("--dry-run", is_flag=True, help="List and plan, but fetch and store nothing.")
@click.option(
    "--cdx-per-minute",
    type=click.FloatRange(min=0),
    help="CDX queries a minute (default 24; 0 for no limit).",
)
@click.option(
    "--captures-per-second",
    type=click.FloatRange(min=0),
    help="Capture fetches a second (default 2; 0 for no limit).",
)
@click.option("--no-limits", is_flag=True, help="Lift the rate limits (for a local archive).")
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="A Scrapy setting, as with scrapy crawl -s (e.g. -s ARCHIVE_429_PAUSE=120).",
)
@click.option(
    "--schedule",
    metavar="CRON",
    help="Keep running, and crawl at each time of this cron schedule (e.g. '0 3 * * *').",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=1),
    help="Stop a crawl after this many seconds (what it fetched is kept).",
)
@click.option("--max-runs", type=click.IntRange(min=1), help="With --schedule: stop after N runs.")
@click.option("--notify", "notify_url", help="POST a JSON summary of new changes here after a run.")
@click.option(
    "--redis",
    "redis_url",
    envvar="POLICYTRAIL_REDIS",
    metavar="URL",
    help="Share the crawl with workers through this Redis; policytrail ingest stores it.",
)
@click.option(
    "--worker",
    is_flag=True,
    help="With --redis: join the crawl going on (no database needed; options come from the run).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log.")
@db_option
@json_option
@friendly_errors
def crawl(
    archive: str,
    policy: str | None,
    every: str,
    from_date: str | None,
    to_date: str | None,
    full: bool,
    collapse: bool,
    status: str | None,
    dry_run: bool,
    cdx_per_minute: float | None,
    captures_per_second: float | None,
    no_limits: bool,
    overrides: tuple[str, ...],
    schedule: str | None,
    deadline: float | None,
    max_runs: int | None,
    notify_url: str | None,
    redis_url: str | None,
    worker: bool,
    verbose: bool,
    db_path: str,
    as_json: bool,
) -> None:
    """Fetch new captures of the tracked policies from a web archive.

    Captures already stored are not fetched again and only captures newer than the last one
    seen are listed, so running it again adds only what is new. Captures whose fetch failed are
    tried again. The default rates suit the Internet Archive. One crawl at a time runs on a
    database; with --schedule the command keeps running and crawls at each cron time.

    \b
    policytrail crawl
    policytrail crawl --every half-year --dry-run
    policytrail crawl --archive http://127.0.0.1:8080/web --no-limits
    policytrail crawl --schedule '0 3 * * *' --deadline 14400 --notify https://hooks.example/x
    """
    from crawler.run import crawl_settings

    settings_overrides: dict[str, str] = {}
    for override in overrides:
        setting, equals, setting_value = override.partition("=")
        if not equals or not setting.isupper():
            raise click.BadParameter(f"{override!r} is not NAME=VALUE", param_hint="--set")
        settings_overrides[setting] = setting_value
    from_date, to_date = cdx_date(from_date), cdx_date(to_date)
    if from_date and to_date and from_date[:8] > to_date[:8]:
        raise click.BadParameter(f"--from {from_date} is after --to {to_date}")
    if status:
        try:
            re.compile(status)
        except re.error as error:
            raise click.BadParameter(
                f"not a regular expression: {error}", param_hint="--status"
            ) from None
    if schedule:
        check_schedule(schedule)
    elif max_runs:
        raise click.BadParameter("--max-runs goes with --schedule")
    if worker and not redis_url:
        raise click.BadParameter("--worker needs --redis URL", param_hint="--worker")
    if redis_url and dry_run:
        raise click.BadParameter("--dry-run plans in one process: leave out --redis")
    if not worker:
        store = open_store(db_path)
        if policy:
            store.policy(policy)
        elif not store.policies():
            raise click.ClickException("no policies tracked yet: add one with policytrail add URL")
        store.close()
    if no_limits:
        cdx_per_minute = captures_per_second = 0.0
        settings_overrides.setdefault("ARCHIVE_CONCURRENCY", "8")
    if deadline:
        settings_overrides["CLOSESPIDER_TIMEOUT"] = str(deadline)
    settings = crawl_settings(
        db_path,
        cdx_per_minute=cdx_per_minute,
        captures_per_second=captures_per_second,
        log_level="INFO" if verbose else "WARNING",
        overrides=settings_overrides,
    )
    one_crawl = functools.partial(
        crawl_once,
        settings,
        None if worker else Archive.from_url(archive),
        {
            "policy": policy or "",
            "every": every,
            "from_date": from_date or "",
            "to_date": to_date or "",
            "full": "1" if full else "0",
            "collapse": "1" if collapse else "0",
            "status": status or "",
            "dry_run": "1" if dry_run else "0",
        },
        notify_url=notify_url,
        as_json=as_json,
        show_progress=console.is_terminal and not (as_json or verbose or dry_run or schedule),
        redis_url=redis_url,
        worker=worker,
    )
    if schedule:
        run_on_schedule(
            schedule, lambda: exit_code(one_crawl), deadline=deadline, max_runs=max_runs
        )
    else:
        one_crawl()


def cdx_date(value: str | None) -> str | None:
    """A date as typed (``2015``, ``2015-06``, ``2015-06-01``, a timestamp) as a CDX timestamp
    prefix (``2015``, ``201506``, ``20150601``)."""
    if not value:
        return None
    try:
        end_of(value)
    except InvalidDate as error:
        raise click.BadParameter(str(error)) from None
    return re.sub(r"\D", "", value)


def exit_code(command: Callable[[], None]) -> int:
    """Run a command; print its error, if any, as the CLI would; return its exit code."""
    try:
        command()
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except (StoreError, ScheduleError, OSError) as error:
        click.echo(f"Error: {error}", err=True)
        return 1
    return 0


def crawl_once(
    settings: Any,
    archive: Archive | None,
    spider_args: dict[str, str],
    *,
    notify_url: str | None,
    as_json: bool,
    show_progress: bool,
    redis_url: str | None = None,
    worker: bool = False,
) -> None:
    """One crawl, holding the database's crawl lock: summary, notification, and a
    ClickException when anything failed (so cron and systemd see a non-zero exit)."""
    import redis

    from crawler.redis_run import NoRunToJoin, RunInProgress
    from crawler.run import ArchiveUnreachable, crawl_archive

    db_path = settings.get("POLICYTRAIL_DB")
    dry_run = spider_args["dry_run"] == "1"
    progress = crawl_progress() if show_progress else None
    try:
        with (
            # With --redis, `policytrail ingest` is the one writer and holds the lock.
            contextlib.nullcontext() if dry_run or redis_url else CrawlLock(db_path),
            progress or contextlib.nullcontext(),
        ):
            result = crawl_archive(
                settings,
                archive,
                on_progress=progress.update_from if progress else None,
                redis_url=redis_url,
                worker=worker,
                spider_args=spider_args,
            )
    except (
        ArchiveUnreachable,
        ScheduleError,
        RunInProgress,
        NoRunToJoin,
        redis.RedisError,
    ) as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:  # a setting or spider argument that Scrapy or the spider refused
        raise click.ClickException(f"the crawl could not start: {error}") from None
    if dry_run:
        print_plan(result.plan, settings, as_json=as_json)
        return
    print_crawl_summary(result.stats, as_json=as_json)
    if notify_url:
        store = Store(db_path)
        try:
            sent = notify(notify_url, store)
        finally:
            store.close()
        if not as_json:
            click.echo(f"Notified {notify_url} of {sent} new revisions")
    if result.count("cdx_failed"):
        raise click.ClickException(
            f"{result.count('cdx_failed')} CDX queries failed; the listing is "
            "incomplete (run with -v for details)"
        )
    if result.count("outcome/failed"):
        raise click.ClickException(
            f"{result.count('outcome/failed')} captures could not be fetched; the next crawl "
            "tries them again"
        )
    if result.stats.get("finish_reason") == "closespider_timeout":
        raise click.ClickException(
            "the crawl stopped at its deadline; the next crawl goes on from there"
        )


class RateColumn(ProgressColumn):
    """Captures a second."""

    def render(self, task: Task) -> Text:
        """The task's speed, once known."""
        return Text(f"{task.speed:.1f}/s" if task.speed else "")


class CrawlProgress(Progress):
    """A progress bar fed with the crawl's statistics."""

    def update_from(self, stats: dict[str, Any]) -> None:
        """Show captures done out of captures to do so far."""
        listed = stats.get("policytrail/listed", 0) - stats.get("policytrail/skipped", 0)
        done = sum(v for k, v in stats.items() if k.startswith("policytrail/outcome/"))
        self.update(self.task_ids[0], total=max(listed, done), completed=done)


def crawl_progress() -> CrawlProgress:
    """A progress bar with rate and time left."""
    progress = CrawlProgress(
        TextColumn("Crawling"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    progress.add_task("crawl", total=None)
    return progress


def print_crawl_summary(stats: dict[str, Any], *, as_json: bool) -> None:
    """Print what a crawl did."""
    summary = {
        key.removeprefix("policytrail/"): value
        for key, value in sorted(stats.items())
        if key.startswith("policytrail/")
    }
    if as_json:
        print_json(summary)
        return
    labels = {
        "listed": "captures listed",
        "skipped": "already stored",
        "fetched": "fetched",
        "outcome/version": "policy versions stored",
        "outcome/copy": "same bytes as a stored capture",
        "outcome/not-a-version": "not a policy (see captures.reason)",
        "outcome/redirect": "redirects",
        "outcome/http-error": "archived as an HTTP error",
        "outcome/failed": "failed (tried again next crawl)",
        "new_versions": "new versions",
        "new_revisions": "new revisions",
        "429_pauses": "pauses after a 429",
        "cdx_malformed": "malformed CDX rows skipped",
        "cdx_failed": "CDX queries failed",
    }
    table = Table("crawl", "count", title="Crawl summary")
    for key, label in labels.items():
        if summary.get(key):
            table.add_row(label, str(summary[key]))
    console.print(table)


def print_plan(plan: list, settings: Any, *, as_json: bool) -> None:
    """Print what a crawl would do, per policy, and how long it would take."""
    cdx_rate = settings.getfloat("ARCHIVE_CDX_PER_MINUTE") / 60
    fetch_rate = settings.getfloat("ARCHIVE_CAPTURES_PER_SECOND")
    rows = []
    for entry in plan:
        seconds = (entry.cdx_requests / cdx_rate if cdx_rate else 0) + (
            entry.to_fetch / fetch_rate if fetch_rate else 0
        )
        rows.append(
            {
                "policy": entry.name,
                "listed": entry.listed,
                "new": entry.new,
                "to_fetch": entry.to_fetch,
                "requests": entry.cdx_requests + entry.to_fetch,
                "seconds": round(seconds, 1),
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(
        "policy", "listed", "new", "to fetch", "requests", "time", title="Crawl plan (dry run)"
    )
    for row in rows:
        table.add_row(
            escape(row["policy"]),
            *(str(row[key]) for key in ("listed", "new", "to_fetch", "requests")),
            format_duration(row["seconds"]),
        )
    console.print(table)


def format_duration(seconds: float) -> str:
    """``1 h 05 min`` / ``3 min 20 s`` / ``12 s``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@cli.command()
@click.argument("domains", nargs=-1)
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Discover every domain in a file (one a line).",
)
@click.option(
    "--archive",
    default=DEFAULT_ARCHIVE,
    show_default=True,
    help="A Wayback-compatible archive: the Internet Archive or a pywb collection URL.",
)
@click.option("--from", "from_year", type=click.IntRange(1996, 2100), help="First year.")
@click.option("--to", "to_year", type=click.IntRange(1996, 2100), help="Last year.")
@click.option(
    "--every",
    type=click.Choice(INTERVALS[1:]),
    default="year",
    show_default=True,
    help="How often to look at the home page.",
)
@click.option("--no-limits", is_flag=True, help="Lift the rate limits (for a local archive).")
@db_option
@json_option
@friendly_errors
def discover(
    domains: tuple[str, ...],
    from_file: str | None,
    archive: str,
    from_year: int | None,
    to_year: int | None,
    every: str,
    no_limits: bool,
    db_path: str,
    as_json: bool,
) -> None:
    """Find sites' privacy policies and terms on their home pages over the years.

    Each site's home page captures (one a year by default) are searched for links to its
    privacy policy and terms, in several languages; each is registered as one tracked policy
    with every URL it had, which crawl then follows. Without DOMAINS, every registered site not
    yet discovered (see add) is.

    \b
    policytrail discover example.com --from 2005 --to 2020
    policytrail discover --from-file domains.txt
    """
    from crawler.run import ArchiveUnreachable, crawl_archive, crawl_settings
    from crawler.spiders.discover import DiscoverSpider

    store = open_store(db_path, must_exist=False)
    names = [d.lower().removeprefix("www.") for d in domains]
    if from_file:
        entries, errors = read_policy_list(from_file)
        names += [entry.domain for entry in entries if entry.domain]
        for error in errors:
            click.echo(f"Skipped {error}", err=True)
    for name in names:
        if not is_domain(name):
            raise click.BadParameter(f"{name!r} is not a domain", param_hint="DOMAINS")
        store.add_site(name)
    if not names and not store.sites(undiscovered=True):
        raise click.ClickException("no sites to discover: give domains or add them first")
    store.close()
    rate = 0.0 if no_limits else None
    settings = crawl_settings(db_path, cdx_per_minute=rate, captures_per_second=rate)
    try:
        with CrawlLock(db_path):
            crawl_archive(
                settings,
                Archive.from_url(archive),
                spider=DiscoverSpider,
                spider_args={
                    "domains": ",".join(names),
                    "every": every,
                    "from_date": str(from_year or ""),
                    "to_date": str(to_year or ""),
                },
            )
    except ArchiveUnreachable as error:
        raise click.ClickException(str(error)) from None
    store = open_store(db_path)
    found = {
        row["domain"]: json.loads(row["found"] or "{}")
        for row in store.db.table("sites").rows
        if not names or row["domain"] in names
    }
    if as_json:
        print_json(found)
        return
    table = Table("site", "kind", "URLs over time", title="Policies found")
    for domain, kinds in found.items():
        for kind, urls in kinds.items() or [("-", [])]:
            table.add_row(escape(domain), kind, escape("\n".join(urls)) or "none found")
    console.print(table)


@cli.command()
@click.argument("policy")
@db_option
@json_option
@friendly_errors
def history(policy: str, db_path: str, as_json: bool) -> None:
    """Show each version of POLICY and what changed when it came in.

    \b
    policytrail history example-privacy
    """
    store = open_store(db_path)
    row = store.policy(policy)
    revisions = store.history(row["id"])
    if as_json:
        print_json(revisions)
        return
    table = Table(
        "in force from",
        "last seen",
        "captures",
        "words",
        "changes",
        title=f"{escape(row['name'])}: {len(revisions)} revisions",
    )
    for revision in revisions:
        table.add_row(
            short_date(revision["date"]),
            short_date(revision["last_seen"]),
            str(revision["capture_count"]),
            str(revision["words"]),
            change_counts(revision),
        )
    console.print(table)


@cli.command()
@click.argument("policy")
@click.option("--at", "at", help="A date (YYYY, YYYY-MM, YYYY-MM-DD): the version then in force.")
@db_option
@json_option
@friendly_errors
def show(policy: str, at: str | None, db_path: str, as_json: bool) -> None:
    """Print the text of POLICY as it stood at a date (default: the latest version).

    \b
    policytrail show example-privacy --at 2012-06-30
    """
    store = open_store(db_path)
    version = store.version_at(store.policy(policy)["id"], at)
    if as_json:
        print_json(version)
    else:
        click.echo(version["markdown"], nl=False)


@cli.command()
@click.argument("policy")
@click.option("--from", "start", help="A date: compare the version then in force...")
@click.option("--to", "end", help="...with the version in force at this date (default: latest).")
@format_options
@db_option
@friendly_errors
def diff(
    policy: str,
    start: str | None,
    end: str | None,
    output_format: str,
    show_all: bool,
    db_path: str,
) -> None:
    """Show what changed in POLICY between two dates (default: its latest change).

    \b
    policytrail diff example-privacy --from 2017 --to 2018-12-31
    policytrail diff example-privacy --format html > change.html
    """
    store = open_store(db_path)
    row = store.policy(policy)
    old, new, comparison = store.compare_dates(row["id"], start=start, end=end)
    title = (
        f"{row['name']}: version of {short_date(old['first_seen'])} -> "
        f"version of {short_date(new['first_seen'])}"
    )
    print_comparison(comparison, output_format, show_all=show_all, title=title)


@cli.command()
@click.argument("policy")
@click.option("--at", help="A date (YYYY, YYYY-MM, YYYY-MM-DD): the version then in force.")
@db_option
@json_option
@friendly_errors
def blame(policy: str, at: str | None, db_path: str, as_json: bool) -> None:
    """Show each clause of POLICY with when it first appeared and when its wording last changed.

    \b
    policytrail blame example-privacy
    policytrail blame example-privacy --at 2016
    """
    store = open_store(db_path)
    row = store.policy(policy)
    version, clauses = store.blame(row["id"], at)
    if as_json:
        print_json(
            {
                "version": version["id"],
                "in_force_from": version["in_force_from"],
                "clauses": clauses,
            }
        )
        return
    table = Table(
        "first seen",
        "wording since",
        "clause",
        title=f"{escape(row['name'])}: version in force from "
        f"{short_date(version['in_force_from'])}",
    )
    for clause in clauses:
        table.add_row(
            short_date(clause["first_seen"]),
            short_date(clause["changed"]),
            escape(shorten(clause["text"], 200)),
        )
    console.print(table)


@cli.command(name="clause")
@click.argument("policy")
@click.argument("text")
@db_option
@json_option
@friendly_errors
def clause_command(policy: str, text: str, db_path: str, as_json: bool) -> None:
    """Show the life of the clause of POLICY that best matches TEXT: when it appeared, each
    rewording with its word diff, each move, and when it was removed.

    \b
    policytrail clause example-privacy "we will not sell your personal information"
    """
    store = open_store(db_path)
    row = store.policy(policy)
    best, events = store.clause_history(row["id"], text)
    if as_json:
        print_json({"clause": best, "events": events})
        return
    console.print(f"[bold]{escape(row['name'])}[/bold]: {escape(shorten(best['text'], 300))}")
    for event in events:
        line = Text(f"{short_date(event['date'])}  {event['event']:<9} ", style="bold")
        if "diff" in event:
            for op, piece in event["diff"]:
                line.append(piece, style={-1: "red strike", 1: "green", 0: ""}[op])
        elif event["event"] == "moved":
            line.append(f"to {event['section']}")
        else:
            line.append(shorten(event["text"], 300))
        console.print(line)


@cli.command()
@click.argument("query")
@click.option("--policy", help="Search only this policy (name or id).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@db_option
@json_option
@friendly_errors
def search(query: str, policy: str | None, limit: int, db_path: str, as_json: bool) -> None:
    """Find clauses of every version that match QUERY, with when that wording was in force.

    QUERY is SQLite full-text syntax: words (all must match), "a phrase", OR, prefix*.

    \b
    policytrail search sell
    policytrail search '"will not sell"' --policy example-privacy
    """
    store = open_store(db_path)
    policy_id = store.policy(policy)["id"] if policy else None
    results = store.search(query, policy_id=policy_id, limit=limit)
    if as_json:
        print_json(results)
        return
    if not results:
        click.echo(f"No clause matches {query!r}")
        return
    table = Table("policy", "in force", "section", "clause", title=f"Clauses matching {query!r}")
    for result in results:
        table.add_row(
            escape(result["policy"]),
            "\n".join(format_spell(*spell) for spell in result["in_force"]),
            escape(result["section"]),
            escape(shorten(result["text"], 300)),
        )
    console.print(table)


def format_spell(start: str, end: str | None) -> str:
    """``2004-03-15 to 2014-10-07``, or ``since 2018-05-24`` for the text in force."""
    return f"{short_date(start)} to {short_date(end)}" if end else f"since {short_date(start)}"


def shorten(text: str, width: int) -> str:
    """Text cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


@cli.command(name="renormalize")
@click.argument("policy", required=False)
@db_option
@json_option
@friendly_errors
def renormalize_command(policy: str | None, db_path: str, as_json: bool) -> None:
    """Rebuild versions and changes from the stored raw captures with the current normalizer.

    Nothing is fetched. Revisions that only the new normalizer creates are marked technical
    (not policy changes) and stay out of the change feeds.

    \b
    policytrail renormalize
    policytrail renormalize example-privacy
    """
    from tracker.renormalize import renormalize

    store = open_store(db_path)
    targets = [store.policy(policy)] if policy else store.policies()
    with CrawlLock(db_path):
        reports = [renormalize(store, row["id"]) for row in targets]
    if as_json:
        print_json([vars(report) for report in reports])
        return
    table = Table(
        "policy",
        "captures",
        "texts changed",
        "new revisions",
        "versions removed",
        title="Renormalized",
    )
    for report in reports:
        table.add_row(
            escape(report.policy),
            *(
                str(value)
                for value in (
                    report.captures,
                    report.texts_changed,
                    report.new_revisions,
                    report.versions_removed,
                )
            ),
        )
    console.print(table)


def read_policy_file(path: str, url: str | None) -> str:
    """Markdown of a local file: HTML, text or PDF is normalized, markdown read as it is."""
    from tracker.normalize import normalize

    data = Path(path).read_bytes()
    if path.endswith((".md", ".markdown")):
        return data.decode("utf-8", errors="replace")
    content_type = mimetypes.guess_type(path)[0] or "text/html"
    result = normalize(data, headers={"Content-Type": content_type}, url=url)
    if result.reason:
        raise click.ClickException(f"{path} is not a policy: {result.reason}")
    return result.markdown


@cli.command(name="normalize")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="The page's original URL, to make its links absolute.")
@friendly_errors
def normalize_command(file: str, url: str | None) -> None:
    """Print the policy in an archived HTML FILE as clean markdown.

    \b
    policytrail normalize capture.html --url https://www.example.com/privacy
    """
    sys.stdout.write(read_policy_file(file, url))


@cli.command(name="compare")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="The pages' original URL, to make links absolute.")
@format_options
@friendly_errors
def compare_command(
    old: str, new: str, url: str | None, output_format: str, show_all: bool
) -> None:
    """Compare two local policy files (HTML, text, PDF or markdown) clause by clause.

    \b
    policytrail compare privacy-2017.html privacy-2018.html
    policytrail compare old.md new.md --format json
    """
    comparison = compare(read_policy_file(old, url), read_policy_file(new, url))
    title = f"{os.path.basename(old)} -> {os.path.basename(new)}"
    print_comparison(comparison, output_format, show_all=show_all, title=title)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.option("--write", is_flag=True, help="Serve the database writable (default: read-only).")
@db_option
@friendly_errors
def serve(host: str, port: int, write: bool, db_path: str) -> None:
    """Browse the database in Datasette: timelines, diffs, search and feeds.

    \b
    policytrail serve --port 8001
    """
    from tracker.serve import serve as serve_datasette

    open_store(db_path).close()
    serve_datasette(db_path, host=host, port=port, read_only=not write)


cli.add_command(ingest_command)
