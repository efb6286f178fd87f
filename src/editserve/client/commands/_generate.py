"""``editserve generate``: make a picture from a prompt with a text-to-image model, with
the same progress display, Ctrl-C cancel, output options and exit codes as ``edit``."""

from __future__ import annotations

import sys

import click

from editserve.client._base import DEFAULT_GENERATE_MODEL
from editserve.client.commands._common import EXIT_INTERRUPTED, connection_options, err
from editserve.client.commands._edit import (
    RUN_OPTIONS,
    check_run_args,
    run_generation,
    with_options,
)

_GENERATE_OPTIONS = (
    click.option("-p", "--prompt", required=True, help="What to make, e.g. 'A red fox in snow'."),
    *RUN_OPTIONS,
    click.option(
        "--model",
        default=DEFAULT_GENERATE_MODEL,
        show_default=True,
        help="Model id: qwen-image or qwen-image-2512 (text-to-image).",
    ),
)


@click.command()
@lambda func: with_options(func, _GENERATE_OPTIONS)
@connection_options
def generate(
    prompt: str,
    aspect_ratio: str | None,
    negative_prompt: str | None,
    output_format: str | None,
    seed: int | None,
    steps: int | None,
    cfg: float | None,
    preview: bool | None,
    width: int | None,
    height: int | None,
    quality: int | None,
    loras: tuple[str, ...],
    model: str,
    output: str | None,
    no_wait: bool,
    timeout: float | None,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Make a picture from a text prompt (a text-to-image model such as qwen-image).

    Shows live progress on stderr; Ctrl-C cancels the generation on the server.

    \b
    Example:
      editserve generate -p "A red fox in the snow, watercolour" -o fox.png
      editserve generate -p "..." --model qwen-image-2512 --aspect-ratio 16:9 --seed 7
    """
    check_run_args(width, height, loras)
    try:
        run_generation(
            (),
            prompt=prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=steps,
            true_cfg_scale=cfg,
            preview=preview,
            size=(width, height) if width is not None and height is not None else None,
            quality=quality,
            loras=loras,
            output=output,
            no_wait=no_wait,
            timeout=timeout,
            quiet=quiet,
            url=url,
            api_key=api_key,
            as_json=as_json,
        )
    except KeyboardInterrupt:
        err("\nInterrupted.")
        sys.exit(EXIT_INTERRUPTED)
