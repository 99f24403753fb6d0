"""Command-line options shared by every command: declared once, used the same way everywhere."""

from collections.abc import Callable

import click

#: The database a command uses when neither ``--db`` nor ``$POLICYTRAIL_DB`` names one.
DEFAULT_DB = "policytrail.db"


def db_option(command: Callable) -> Callable:
    """Add ``--db PATH`` (default ``policytrail.db``, or ``$POLICYTRAIL_DB``)."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False),
        envvar="POLICYTRAIL_DB",
        default=DEFAULT_DB,
        show_default=True,
        help="The SQLite database (or set POLICYTRAIL_DB).",
    )(command)


def json_option(command: Callable) -> Callable:
    """Add ``--json`` for output that scripts read."""
    return click.option("--json", "as_json", is_flag=True, help="Output JSON.")(command)
