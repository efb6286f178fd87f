"""`editserve worker`: one worker process in the foreground."""

from __future__ import annotations

import sys
from typing import Any

import click

from editserve.commands.common import server_options, settings_or_exit
from editserve.commands.startup import (
    refuse_bad_model_options,
    setup_logging,
    start_node_or_exit,
)


@click.command()
@server_options
@click.option("--worker-id", help="Name of this worker (default host-pid).")
@click.option("--model", "model_id", help="Model id this worker serves.")
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process is gone.")
def worker(
    worker_id: str | None, model_id: str | None, parent_pid: int | None, **options: Any
) -> None:
    """Run one worker process in the foreground (claims jobs from the shared store)."""
    from editserve.worker.loop import Worker

    device = options.get("device")
    settings = settings_or_exit(**options)
    refuse_bad_model_options(settings, [device or settings.device])
    setup_logging(settings.log_level, settings.log_format)
    node = start_node_or_exit(settings, "worker")  # database, storage, agreed settings
    runner = Worker(
        settings, worker_id=worker_id, device=device, model=model_id, parent_pid=parent_pid,
        store=node.store, storage=node.storage,
    )  # fmt: skip
    runner.install_signal_handlers()
    sys.exit(runner.run())


__all__ = ["worker"]
