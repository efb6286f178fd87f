"""`editserve serve`: the HTTP API, and the worker processes it supervises."""

from __future__ import annotations

import logging
import signal
from typing import Any

import click

from editserve.commands.common import server_options, settings_or_exit
from editserve.commands.startup import (
    announce_first_key,
    refuse_bad_model_options,
    setup_logging,
    start_node_or_exit,
)


@click.command()
@server_options
@click.option("--host", help="EDITSERVE_HOST (default 127.0.0.1)")
@click.option("--port", type=int, help="EDITSERVE_PORT (default 8000)")
@click.option("--workers", type=int, help="EDITSERVE_WORKERS: worker processes (0 = API only)")
@click.option("--gpus", help="EDITSERVE_GPUS: CUDA device indexes, e.g. 0,1,2,3")
@click.option("--public-url", help="EDITSERVE_PUBLIC_URL: base URL in returned links")
def serve(**options: Any) -> None:
    """Start the HTTP API and supervise the worker processes."""
    import uvicorn

    from editserve.api.app import build_services, create_app
    from editserve.api.server import raise_open_file_limit, server_options
    from editserve.worker.supervisor import Supervisor, plan_devices

    settings = settings_or_exit(**options)
    devices = plan_devices(settings)
    refuse_bad_model_options(settings, devices)
    setup_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("editserve")
    node = start_node_or_exit(settings, "api")  # database, storage, agreed settings
    services = build_services(settings, store=node.store, storage=node.storage)
    announce_first_key(node)
    supervisor = Supervisor(settings, services.store, devices)
    log.info(
        "editserve on http://%s:%d  data: %s  workers: %s",
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
        ", ".join(devices) or "none",
    )
    open_files = raise_open_file_limit()  # before the workers start: they inherit it
    supervisor.start()
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    # would kill this process before the workers are stopped below.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        app = create_app(settings, services)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            # json: uvicorn's own loggers go through ours (one format on stderr)
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
            timeout_graceful_shutdown=5,
            # header timeout, head size, keep-alive, open connections (api/server.py)
            **server_options(settings, open_files),
        )
    finally:
        supervisor.stop()


__all__ = ["serve"]
