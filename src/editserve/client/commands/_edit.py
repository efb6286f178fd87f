"""``editserve edit``: enqueue an edit, follow it with a progress display, save the image."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from editserve.client._base import DEFAULT_MODEL, lora_list
from editserve.client._client import Client
from editserve.client._exceptions import ClientError
from editserve.client._inputs import classify, is_url
from editserve.client._types import Generation
from editserve.client.commands._common import (
    EXIT_INTERRUPTED,
    F,
    connection_options,
    err,
    handle_errors,
    make_client,
    print_json,
)
from editserve.client.commands._control import CONTROL_OPTIONS, control_fields
from editserve.client.commands._progress import ProgressDisplay
from editserve.client.commands._sweep import SWEEP_OPTION, sweep_fields, wait_and_save

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "auto")
FORMATS = ("png", "jpg", "webp")

RUN_OPTIONS = (
    click.option(
        "--aspect-ratio",
        type=click.Choice(ASPECT_RATIOS),
        help="Output aspect ratio (left out: the model's default; auto follows the last image).",
    ),
    click.option("--negative-prompt", help="What to avoid (server default ' ')."),
    click.option(
        "--format", "output_format", type=click.Choice(FORMATS), help="Output format (default png)."
    ),
    click.option(
        "--seed", type=click.IntRange(0, 2**32 - 1), help="Random seed (default: random)."
    ),
    click.option("--steps", type=click.IntRange(1, 100), help="Denoising steps (default 40)."),
    click.option("--cfg", type=click.FloatRange(1.0, 20.0), help="true_cfg_scale (default 4.0)."),
    click.option(
        "--preview", is_flag=True, default=None, help="Fast draft at a quarter of the area."
    ),
    click.option(
        "--width",
        type=click.IntRange(16, None),
        help="Exact output width (with --height; multiples of 16). Overrides --aspect-ratio.",
    ),
    click.option("--height", type=click.IntRange(16, None), help="Exact output height."),
    click.option(
        "--quality",
        type=click.IntRange(1, 100),
        help="jpg/webp quality, 1-100 (server default 95).",
    ),
    click.option(
        "--lora",
        "loras",
        multiple=True,
        metavar="PATH[:SCALE]",
        help=(
            "A LoRA for this run (repeatable, up to 3): a name from `editserve models "
            "MODEL_ID` (the model's loras), owner/repo/file.safetensors, or an https URL; "
            "SCALE 0-4, default 1."
        ),
    ),
    click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=True),
        help="Where to save the image: a file, or a folder (default: <first image>-edited.<fmt>,"
        " or generated.<fmt>).",
    ),
    click.option("--no-wait", is_flag=True, help="Only enqueue; print the generation id and exit."),
    click.option("--timeout", type=float, help="Give up waiting after this many seconds."),
    click.option("-q", "--quiet", is_flag=True, help="No progress display."),
)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep an option that only some commands have (edit's --mask) for mask_fields()."""
    if value is not None:
        ctx.meta[f"editserve.{param.name}"] = value
    return value


def _checked_mask(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is not None:
        try:
            classify(value)  # a missing file or a non-image is a usage error
        except (OSError, ValueError) as exc:
            message = str(exc).replace("input_image[0]", "mask")
            raise click.BadParameter(message, ctx, param) from None
    return _remember(ctx, param, value)


def mask_fields() -> dict[str, Any]:
    """The masked edit's fields of this command (``editserve edit --mask``), or none."""
    meta = click.get_current_context().meta
    mask, feather = meta.get("editserve.mask"), meta.get("editserve.mask_feather")
    if mask is None and feather is not None:
        raise click.UsageError("--mask-feather needs --mask")
    return {} if mask is None else {"mask": mask, "mask_feather": feather}


_EDIT_OPTIONS = (
    click.argument("images", nargs=-1, required=True, metavar="IMAGE [IMAGE...]"),
    click.option("-p", "--prompt", required=True, help="What to change, e.g. 'Add a red hat'."),
    *RUN_OPTIONS,
    click.option(
        "--mask",
        metavar="FILE",
        expose_value=False,
        callback=_checked_mask,
        help=(
            "Masked edit: only this region of the first image changes (a file or URL of the "
            "first image's size; with alpha, transparent = edit; otherwise white = edit)."
        ),
    ),
    click.option(
        "--mask-feather",
        type=click.IntRange(0, 256),
        metavar="N",
        expose_value=False,
        callback=_remember,
        help="Soften the mask's seam over N pixels (default 0: a hard edge).",
    ),
    SWEEP_OPTION,
    *CONTROL_OPTIONS,
    click.option(
        "--model",
        default=DEFAULT_MODEL,
        show_default=True,
        help=(
            "Model id: qwen-image-edit-plus (2509, 1-3 images), qwen-image-edit-2511 "
            "(1-3 images) or qwen-image-edit (v1, one image)."
        ),
    ),
)


def edit_options(func: F) -> F:
    """The argument and options of ``editserve edit`` (besides the connection options)."""
    return with_options(func, _EDIT_OPTIONS)


def with_options(func: F, options: tuple[Any, ...]) -> F:
    for decorate in reversed(options):
        func = decorate(func)
    return func


@click.command()
@edit_options
@connection_options
def edit(
    images: tuple[str, ...],
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
    """Edit IMAGE(s) (local files or URLs, 1-3) with a text instruction.

    Shows live progress on stderr; Ctrl-C cancels the generation on the server.

    \b
    Example:
      editserve edit cat.png -p "Give the cat a red hat" -o hat.png
      editserve edit cat.png -p "..." --model qwen-image-edit-2511 --width 1280 --height 720
      editserve edit cat.png -p "..." --lora my-style:0.8 --lora owner/repo/relight.safetensors
    """
    _check_args(images, width, height, loras)
    try:
        run_generation(
            images,
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


def _check_args(
    images: tuple[str, ...], width: int | None, height: int | None, loras: tuple[str, ...]
) -> None:
    _check_images(images)
    check_run_args(width, height, loras)


def check_run_args(width: int | None, height: int | None, loras: tuple[str, ...]) -> None:
    if (width is None) != (height is None):
        raise click.UsageError("give --width and --height together (or neither)")
    if len(loras) > 3:
        raise click.UsageError("give at most 3 --lora")


def _check_images(images: tuple[str, ...]) -> None:
    """1-3 images that exist and are images (URLs are checked by the server)."""
    if not 1 <= len(images) <= 3:
        raise click.UsageError("give 1 to 3 input images")
    for index, image in enumerate(images):
        try:
            classify(image, index)  # a missing file or a non-image is a usage error
        except (OSError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="IMAGE") from None


def run_generation(
    images: tuple[str, ...],
    *,
    prompt: str,
    model: str,
    aspect_ratio: str | None,
    negative_prompt: str | None,
    output_format: str | None,
    seed: int | None,
    num_inference_steps: int | None,
    true_cfg_scale: float | None,
    preview: bool | None,
    size: tuple[int, int] | None,
    quality: int | None,
    loras: tuple[str, ...],
    output: str | None,
    no_wait: bool,
    timeout: float | None,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    with handle_errors(as_json), make_client(url, api_key) as client:
        params = _run_fields(preview, size, quality, loras)
        params.update(control_fields())  # --control TYPE:IMAGE (_control.py)
        gens = client.queue.submit(
            prompt=prompt,
            input_image=list(images) if images else None,  # none: a text-to-image model
            model=model,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=num_inference_steps,
            true_cfg_scale=true_cfg_scale,
            **params,
        )
        if params.get("sweep"):  # one generation per cell: each saved (_sweep.py)
            stem = _edited_name(images[0]) if images else "generated"
            return wait_and_save(client, gens, output, stem, timeout, as_json, no_wait)
        [gen] = gens
        if no_wait:
            if as_json:
                print_json({"generation_id": gen.generation_id, "status": gen.status})
            else:
                click.echo(gen.generation_id)
            return
        display = ProgressDisplay(gen.generation_id, enabled=not quiet)
        started = time.monotonic()
        try:
            with display:
                final = client.queue.wait(gen, timeout=timeout, on_event=display.on_event)
        except KeyboardInterrupt:
            _cancel_after_interrupt(client, gen.generation_id, as_json)
            sys.exit(EXIT_INTERRUPTED)
        path = final.save(_output_path(output, images, final))
        _report_saved(final, path, time.monotonic() - started, as_json)


def _run_fields(
    preview: bool | None, size: tuple[int, int] | None, quality: int | None, loras: tuple[str, ...]
) -> dict[str, Any]:
    """The request's fields from the options besides the common ones (--sweep too)."""
    params: dict[str, Any] = {"preview": True, **mask_fields()} if preview else mask_fields()
    if size is not None:
        params["width"], params["height"] = size
    if quality is not None:
        params["output_quality"] = quality
    if loras:
        params["loras"] = lora_list(loras)
    params.update(sweep_fields())  # --sweep: one generation per cell (_sweep.py)
    return params


def _cancel_after_interrupt(client: Client, generation_id: str, as_json: bool) -> None:
    err(f"\nInterrupted: cancelling generation {generation_id} ...")
    try:
        final = client.queue.cancel(generation_id, wait=True, timeout=30)
    except KeyboardInterrupt:
        err("Not waiting for the cancellation to finish.")
        return
    except ClientError as exc:
        err(f"could not cancel {generation_id}: {exc}")
        return
    err(f"Generation {generation_id} is {final.status}.")
    if as_json:
        print_json(final.raw)


def _output_path(output: str | None, images: tuple[str, ...], gen: Generation) -> Path:
    """``-o`` as given; or a fresh ``<first image>-edited.<fmt>`` in ``-o``'s folder (a path
    that is a folder or ends with a slash) or in the current folder."""
    ext = gen.params.get("output_format") or (gen.image.format if gen.image else None) or "png"
    is_folder = output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir())
    if output is not None and not is_folder:
        return Path(output)
    name = _edited_name(images[0]) if images else "generated"
    folder = Path(output) if output is not None else Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{ext}"
    counter = 2
    while path.exists():
        path = folder / f"{name}-{counter}.{ext}"
        counter += 1
    return path


def _edited_name(first: str) -> str:
    stem = Path(first.split("?", 1)[0]).stem if not first.startswith("data:") else ""
    if is_url(first) and not stem:
        stem = "image"
    return f"{stem or 'image'}-edited"


def _report_saved(gen: Generation, path: Path, seconds: float, as_json: bool) -> None:
    if as_json:
        print_json({**gen.raw, "output_path": str(path)})
        return
    size = f"{gen.width}x{gen.height}" if gen.width and gen.height else ""
    details = ", ".join(
        part for part in (size, f"seed {gen.seed}" if gen.seed is not None else "") if part
    )
    err(f"Saved {path} ({details}; {seconds:.1f} s) - generation {gen.generation_id}")
    click.echo(str(path))
