"""``policytrail ingest``: the one writer of a crawl spread over workers through Redis.

A ``click.Command`` of its own module, registered by ``tracker/cli.py`` with
``cli.add_command(ingest)``.
"""

import json

import click

from db import StoreError
from tracker.options import db_option, json_option
from tracker.schedule import CrawlLock, ScheduleError


@click.command(name="ingest")
@click.option(
    "--redis",
    "redis_url",
    required=True,
    envvar="POLICYTRAIL_REDIS",
    metavar="URL",
    help="The Redis the crawl workers share (redis://HOST:6379/0, or set POLICYTRAIL_REDIS).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for a crawl to begin.",
)
@db_option
@json_option
def ingest(redis_url: str, wait: float, db_path: str, as_json: bool) -> None:
    """Store the captures that crawl workers send through Redis, until the crawl is over.

    Run it once per crawl on the machine with the database, next to policytrail crawl --redis
    URL (which seeds the crawl from the database) and any number of policytrail crawl --redis
    URL --worker on other machines. It is the only process that writes to the database. It
    exits 1 if captures could not be fetched or were lost with a worker (the next crawl fetches
    them), or if CDX queries failed.

    \b
    policytrail ingest --redis redis://127.0.0.1:6379/0 &
    policytrail crawl --redis redis://127.0.0.1:6379/0
    """
    import redis

    from crawler.ingest import IngestBusy
    from crawler.ingest import ingest as ingest_run
    from crawler.redis_run import NoRunToJoin

    try:
        with CrawlLock(db_path):
            result = ingest_run(db_path, redis_url, wait=wait)
    except (
        IngestBusy,
        NoRunToJoin,
        StoreError,
        ScheduleError,
        OSError,
        redis.RedisError,
    ) as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps({"run": result.run_id, "status": result.status, **result.stats}))
    else:
        click.echo(
            f"Run {result.run_id} {result.status}: {result.stored} captures stored, "
            f"{result.count('new_versions')} new versions, "
            f"{result.count('new_revisions')} new revisions, {result.lost} lost."
        )
    if result.count("cdx_failed"):
        raise click.ClickException(
            f"{result.count('cdx_failed')} CDX queries failed; the listing is incomplete"
        )
    failed = result.count("outcome/failed")
    if failed:
        raise click.ClickException(
            f"{failed} captures could not be fetched; the next crawl tries them again"
        )
