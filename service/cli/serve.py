"""`kotae serve` and `kotae worker`: the long-running processes."""

from __future__ import annotations

from typing import Annotated

import typer

from service.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the web app and API (OpenAPI docs at /docs)."""
    # Imported here: the web stack is only loaded by the command that serves it (the core never imports it).
    import uvicorn

    from service.api import create_app

    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


def worker(threads: Annotated[int, typer.Option(help="Batches drafted at once by this process.")] = 1) -> None:
    """Serve the drafting queue (scaled setup: KOTAE_QUEUE_URL, shared PostgreSQL and Chroma server)."""
    from service.jobs.queue import run_worker

    run_worker(threads)
