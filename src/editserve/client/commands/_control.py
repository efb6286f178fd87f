"""Control maps from the shell: ``editserve edit --control TYPE:IMAGE [--control-option
K=V ...] [--control-ready]`` (the request's ``control`` field: the map of IMAGE appended as
the last picture) and ``editserve control-map TYPE IMAGE -o map.png`` (one map, computed
by a worker: ``POST /api/ai/images/control-map``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from editserve.client.commands._common import (
    connection_options,
    handle_errors,
    make_client,
    print_json,
)

TYPES = ("canny", "lineart", "scribble", "gray", "depth", "pose")


def _value(text: str) -> Any:
    """``50`` → 50, ``0.4`` → 0.4, ``true`` → True; anything else stays text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    options: dict[str, Any] = {}
    for item in value:
        name, sep, given = item.partition("=")
        if not sep or not name.strip() or not given.strip():
            raise click.BadParameter(f"{item!r}: give NAME=VALUE", ctx, param)
        options[name.strip()] = _value(given.strip())
    if options:
        ctx.meta["editserve.control_options"] = options
    return value


def parse_control(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return value
    kind, sep, image = value.partition(":")
    if not sep or kind not in TYPES or not image:
        raise click.BadParameter(
            f"{value!r}: give TYPE:IMAGE, TYPE one of {', '.join(TYPES)}", ctx, param
        )
    ctx.meta["editserve.control"] = {"type": kind, "image": image}
    return value


def _ready(ctx: click.Context, param: click.Parameter, value: bool) -> Any:
    if value:
        ctx.meta["editserve.control_ready"] = True
    return value


CONTROL_OPTIONS = (
    click.option(
        "--control",
        metavar="TYPE:IMAGE",
        expose_value=False,
        callback=parse_control,
        help=(
            "A control map made from IMAGE (a file or URL) and appended as the last picture: "
            f"TYPE one of {', '.join(TYPES)}, e.g. --control pose:dancer.jpg."
        ),
    ),
    click.option(
        "--control-option",
        multiple=True,
        metavar="NAME=VALUE",
        expose_value=False,
        callback=parse_option,
        help="An option of the control type, e.g. low_threshold=50; repeat for more.",
    ),
    click.option(
        "--control-ready",
        is_flag=True,
        expose_value=False,
        callback=_ready,
        help="IMAGE is a map already (preprocess: false).",
    ),
)


def control_fields() -> dict[str, Any]:
    """The request's ``control`` field from the ``--control*`` options, or none."""
    meta = click.get_current_context().meta
    control = meta.get("editserve.control")
    options = meta.get("editserve.control_options") or {}
    if control is None:
        if options or meta.get("editserve.control_ready"):
            raise click.UsageError("--control-option and --control-ready need --control")
        return {}
    ready = {"preprocess": False} if meta.get("editserve.control_ready") else {}
    return {"control": {**control, **ready, **options}}


@click.command("control-map")
@click.argument("kind", metavar="TYPE", type=click.Choice(TYPES))
@click.argument("image")
@click.option(
    "-O",
    "--option",
    "options",
    multiple=True,
    metavar="NAME=VALUE",
    help="An option of the type, e.g. -O low_threshold=50; repeat for more.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save the map here.")
@click.option("--model", help="Whose workers compute it (default: the first edit model).")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds.")
@connection_options
def control_map(
    kind: str,
    image: str,
    options: tuple[str, ...],
    output: str | None,
    model: str | None,
    timeout: float | None,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Compute the TYPE control map of IMAGE (a file or URL) on a worker and print its
    lasting link (or save it with -o); reuse the link with --control TYPE:LINK
    --control-ready.

    \b
    Example:
      editserve control-map -o pose.png pose dancer.jpg
      editserve control-map -O low_threshold=50 canny cat.png
    """
    parsed: dict[str, Any] = {}
    for item in options:
        name, sep, given = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: give NAME=VALUE", param_hint="--option")
        parsed[name.strip()] = _value(given.strip())
    with handle_errors(as_json), make_client(url, api_key) as client:
        result = client.images.control_map(kind, image, model=model, timeout=timeout, **parsed)
        if output is not None:
            Path(output).write_bytes(result.read_bytes())
        if as_json:
            print_json({"url": result.url, "generation_id": result.generation_id})
        else:
            click.echo(output if output is not None else result.url)


__all__ = ["CONTROL_OPTIONS", "control_fields", "control_map"]
