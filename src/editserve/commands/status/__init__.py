"""``editserve status``: the fleet as the store sees it — models, workers, devices, start-up
stages, queue depth — once, or refreshed (``--watch``).

    status/
      run.py  what it runs: the snapshot and its rendering (imported when it runs)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from editserve.commands.common import settings_or_exit, store_from, store_options


@click.command()
@store_options
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds (--watch).")
@click.option("--json", "as_json", is_flag=True, help="JSON (one document per refresh).")
def status(
    data_dir: Path | None, database_url: str | None, watch: bool, interval: float, as_json: bool
) -> None:
    """Models, workers, devices, start-up stages and queue depth, read from the store."""
    from editserve.commands.status.run import run_status
    from editserve.models.registry import served_registry

    store = store_from(data_dir, database_url)
    served = served_registry(settings_or_exit(data_dir=data_dir, database_url=database_url))
    sys.exit(
        run_status(
            store, watch=watch, interval=max(0.2, interval), as_json=as_json, registry=served
        )
    )


__all__ = ["status"]
