"""``editserve edit --sweep AXIS=V1,V2,...``: a parameter sweep (one generation per cell of
the grid; the server's ``sweep`` field), its cells waited for and saved one file each."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from editserve.client._client import Client
from editserve.client._types import Generation
from editserve.client.commands._common import err, print_json

# The axes, and the short names the command's own options use for two of them.
AXES = {"seed": int, "num_inference_steps": int, "true_cfg_scale": float}
ALIASES = {"steps": "num_inference_steps", "cfg": "true_cfg_scale"}
LORA_PREFIX = "lora_scales."


def _parse(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """``seed=1,2,3`` / ``cfg=2.5,4`` / ``lora_scales.my-style=0.5,1`` → the sweep field,
    kept in the context for :func:`sweep_fields` (axes in the order given)."""
    sweep: dict[str, Any] = {}
    for item in value:
        name, sep, values = item.partition("=")
        name = ALIASES.get(name.strip(), name.strip())
        if not sep or not values.strip():
            raise click.BadParameter(f"{item!r}: give AXIS=V1,V2,...", ctx, param)
        kind = float if name.startswith(LORA_PREFIX) else AXES.get(name)
        if kind is None:
            known = ", ".join([*AXES, *ALIASES, LORA_PREFIX + "<lora path>"])
            raise click.BadParameter(f"{name!r}: not an axis ({known})", ctx, param)
        try:
            parsed = [kind(part.strip()) for part in values.split(",") if part.strip()]
        except ValueError:
            raise click.BadParameter(f"{item!r}: values must be numbers", ctx, param) from None
        if name.startswith(LORA_PREFIX):
            sweep.setdefault("lora_scales", {})[name.removeprefix(LORA_PREFIX)] = parsed
        else:
            sweep[name] = parsed
    if sweep:
        ctx.meta["editserve.sweep"] = sweep
    return value


SWEEP_OPTION = click.option(
    "--sweep",
    multiple=True,
    metavar="AXIS=V1,V2",
    expose_value=False,
    callback=_parse,
    help=(
        "A parameter sweep, one generation per cell (at most 16); repeat for more axes: "
        "seed, steps, cfg, lora_scales.<lora path>. E.g. --sweep seed=1,2,3 --sweep cfg=2.5,4."
    ),
)


def sweep_fields() -> dict[str, Any]:
    """The request's ``sweep`` field from ``--sweep`` options, or none."""
    sweep = click.get_current_context().meta.get("editserve.sweep")
    return {"sweep": sweep} if sweep else {}


def cell_label(gen: Generation) -> str:
    """``true_cfg_scale=4 seed=2``: a cell's values, from its sweep record."""
    sweep = gen.raw.get("sweep") or {}
    parts = []
    for axis, value in zip(sweep.get("axes", []), sweep.get("cell", []), strict=False):
        name = f"{LORA_PREFIX}{axis['lora']}" if "lora" in axis else axis["axis"]
        parts.append(f"{name}={value}")
    return " ".join(parts)


def wait_and_save(
    client: Client,
    gens: list[Generation],
    output: str | None,
    stem: str,
    timeout: float | None,
    as_json: bool,
    no_wait: bool = False,
) -> None:
    """Wait for every cell, save each as ``<stem>-cell-<n>.<ext>`` in the `output` folder
    (default: the current one), and say
    which values each has (JSON: the generations with their ``output_path``); with
    `no_wait`, only the cells' generation ids."""
    if no_wait:
        ids = [gen.generation_id for gen in gens]
        print_json(ids) if as_json else click.echo("\n".join(ids))
        return
    started = time.monotonic()
    folder = Path(output) if output is not None else Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for index, gen in enumerate(gens, start=1):
        final = client.queue.wait(gen, timeout=timeout)
        ext = final.params.get("output_format") or "png"
        path = final.save(folder / f"{stem}-cell-{index}.{ext}")
        done.append({**final.raw, "output_path": str(path)})
        if not as_json:
            err(f"Saved {path} ({cell_label(final)}) - generation {final.generation_id}")
            click.echo(str(path))
    if as_json:
        print_json(done)
    else:
        err(f"{len(gens)} cells in {time.monotonic() - started:.1f} s")
