"""Serve a policytrail database in Datasette, with the project's metadata, templates and plugin.

The database is attached as ``policytrail`` whatever its file is called, so the metadata in
``db/metadata.json`` (titles, descriptions, facets, canned queries) applies to it and its URLs
are the same for every file: ``/policytrail/policies/1``.
"""

import asyncio
import json
import socket
from pathlib import Path

import uvicorn
from datasette.app import Datasette
from datasette.database import Database

from db.plugin import METADATA, STATIC, STATIC_MOUNT, TEMPLATES

DATABASE = "policytrail"


def make_datasette(db_path: str | Path, *, read_only: bool = True) -> Datasette:
    """A Datasette for the database at ``db_path`` with the project's metadata.

    Read-only (the default), every connection to the file is opened with ``mode=ro`` and
    ``PRAGMA query_only``, so nothing served can change it; the file may still be crawled into
    by another process meanwhile, and new rows show up.
    """
    metadata = json.loads(METADATA.read_text())
    metadata["databases"][DATABASE]["plugins"]["policytrail"]["read_only"] = read_only
    datasette = Datasette(
        metadata=metadata,
        template_dir=str(TEMPLATES),
        static_mounts=[(STATIC_MOUNT, str(STATIC))],
        settings={"truncate_cells_html": 400},
    )
    datasette.add_database(
        Database(datasette, path=str(Path(db_path).resolve()), is_mutable=True), name=DATABASE
    )
    return datasette


def serve(
    db_path: str | Path, *, host: str = "127.0.0.1", port: int = 8001, read_only: bool = True
) -> None:
    """Serve the database until interrupted; port 0 picks a free port.

    Prints ``Serving DB at URL`` once listening, with the port actually bound.
    """
    datasette = make_datasette(db_path, read_only=read_only)
    asyncio.run(datasette.invoke_startup())
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    mode = "read-only" if read_only else "writable"
    print(f"Serving {db_path} ({mode}) at http://{shown}:{bound}/", flush=True)
    config = uvicorn.Config(datasette.app(), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
