"""`editserve smoke`: the verification step of a (GPU) deployment — load the model as a
worker would, run one edit, print the receipt and timings as JSON.

    smoke/
      run.py  what it runs: the test images, the jobs, the timings (imported when it runs)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from editserve.commands.common import server_options, settings_or_exit
from editserve.commands.startup import refuse_bad_model_options, setup_logging


@click.command()
@server_options
@click.option(
    "--model",
    help="Model id (default: the first of EDITSERVE_MODELS, else the default model).",
)
@click.option("--prompt", help="Edit instruction or prompt (default: a fixed test one).")
@click.option(
    "--images",
    type=click.IntRange(1, 3),
    default=1,
    show_default=True,
    help="Input pictures of an edit model (a text-to-image model takes none).",
)
@click.option(
    "--aspect-ratio",
    help="1:1, 16:9, ..., auto (default: auto for an edit model, else the model's own)",
)
@click.option("--preview", is_flag=True, help="Size output and VAE at EDITSERVE_PREVIEW_AREA.")
@click.option("--steps", type=int, help="Default: the request default (preset-aware).")
@click.option("--cfg", "true_cfg_scale", type=float, help="true_cfg_scale (default: preset-aware).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Save the output image here.")
@click.option("--no-warmup", is_flag=True, help="Skip the warm-up run a worker does.")
def smoke(**options: Any) -> None:
    """Load the model as a worker would, run one edit (or, for a text-to-image model, one
    generation), print the receipt and timings (JSON)."""
    from editserve.commands.smoke.run import SmokeFailed, SmokeRequest, run_smoke

    model = options.pop("model")
    request = SmokeRequest(
        prompt=options.pop("prompt") or SmokeRequest.prompt,
        images=options.pop("images"),
        aspect_ratio=options.pop("aspect_ratio"),
        preview=options.pop("preview"),
        steps=options.pop("steps"),
        true_cfg_scale=options.pop("true_cfg_scale"),
        seed=options.pop("seed"),
        batch=options.pop("batch"),
        out=options.pop("out"),
        warmup=not options.pop("no_warmup"),
    )
    device = options.get("device")
    settings = settings_or_exit(**options)
    served = settings.models[0] if settings.models else None
    request = dataclasses.replace(request, model=model or served)
    refuse_bad_model_options(settings, [device or settings.device])
    setup_logging(settings.log_level, settings.log_format)
    try:
        report = run_smoke(settings, request, device=device)
    except SmokeFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report, indent=2))


__all__ = ["smoke"]
