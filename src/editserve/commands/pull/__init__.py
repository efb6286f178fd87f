"""``editserve pull``: the weights of the configured (or named) models, into the Hugging Face
cache, before anything starts.

    pull/
      run.py  what it runs: plan, disk check, fetch, progress (imported when it runs)
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from editserve.commands.common import settings_or_exit


@click.command()
@click.argument("models", nargs=-1)
@click.option("--model-weights", help="EDITSERVE_MODEL_WEIGHTS: auto | hub id | folder")
@click.option("--model-revision", help="EDITSERVE_MODEL_REVISION: branch, tag or commit")
@click.option("--lightning", help="EDITSERVE_LIGHTNING: off | 4 | 8 (also fetches its LoRA)")
@click.option("--lightning-lora", help="EDITSERVE_LIGHTNING_LORA")
@click.option(
    "--keep-free", default="1GB", show_default=True, help="Refuse unless this stays free."
)
@click.option(
    "--annotators",
    is_flag=True,
    help="Also fetch the control-map annotators' weights (depth and pose; the OpenCV ones "
    "need none).",
)
@click.option("--parallel", type=click.IntRange(1, 16), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
def pull(
    models: tuple[str, ...],
    keep_free: str,
    parallel: int,
    as_json: bool,
    annotators: bool,
    **options: Any,
) -> None:
    """Download the weights of the configured (or named) MODELS into the Hugging Face cache.

    With bytes, speed and ETA; Ctrl-C and run it again to resume; pinned to the configured
    revision; every file checked against the hub; refused up front if the disk is too small.
    With --annotators, also the weights the depth and pose control maps load.
    """
    from editserve.commands.pull.run import (
        EXIT_INTERRUPTED,
        PullOptions,
        allow_downloads,
        parse_size,
        run_pull,
    )

    if allow_downloads() and not as_json:
        click.echo("HF_HUB_OFFLINE is set: lifted for this pull.", err=True)
    settings = settings_or_exit(**options)
    try:
        reserve = parse_size(keep_free)
    except ValueError:
        raise click.BadParameter(
            f"{keep_free!r} is not a size such as 5GB", param_hint="--keep-free"
        ) from None
    request = PullOptions(list(models), as_json, reserve, parallel, annotators=annotators)
    code = run_pull(settings, request)
    if code == EXIT_INTERRUPTED:  # a transfer stalled in a read must not hold the exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


__all__ = ["pull"]
