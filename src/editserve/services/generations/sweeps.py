"""Parameter sweeps (an extension): one request × a grid over a few parameters.

``"sweep": {"seed": [1, 2, 3], "true_cfg_scale": [2.5, 4]}`` on POST /api/ai/queue makes one
generation per cell of the grid (at most :data:`MAX_SWEEP_CELLS`), siblings of one batch in
row-major order over the axes in the order given. Each cell is an ordinary generation: its
params are the request's with the cell's values in place (validated by the model's own
request model), so its receipt reproduces it alone. Each cell also records the sweep in
its params (``sweep``: the id, the axes, its values and position) for laying out a sheet;
a worker runs a sweep's cells together and encodes the prompt and the pictures once
(worker/sweep.py).

Axes: ``seed``, ``true_cfg_scale``, ``num_inference_steps`` (lists of values) and
``lora_scales`` (``{"<path of one of the request's loras>": [scales]}``, one axis per LoRA).
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.spec import ModelSpec

MAX_SWEEP_CELLS = 16
SEED_SPACE = 2**32  # seeds are drawn below it; a given one is taken modulo it
# The plain axes: a list of values each; a LoRA's scales are an axis of their own.
PLAIN_AXES = ("seed", "true_cfg_scale", "num_inference_steps")
LORA_AXIS = "lora_scales"
# The key of a cell's params that records its sweep (also its view's extension field).
SWEEP_KEY = "sweep"

_Values = list[Any]


class SweepField(BaseModel):
    """The envelope's ``sweep`` field: the grid's axes, each a non-empty list of values."""

    model_config = ConfigDict(extra="forbid")
    seed: list[int] | None = Field(default=None, min_length=1, max_length=MAX_SWEEP_CELLS)
    true_cfg_scale: list[float] | None = Field(
        default=None, min_length=1, max_length=MAX_SWEEP_CELLS
    )
    num_inference_steps: list[int] | None = Field(
        default=None, min_length=1, max_length=MAX_SWEEP_CELLS
    )
    lora_scales: dict[str, list[float]] | None = Field(default=None, min_length=1)


@dataclass(frozen=True)
class Axis:
    """One axis of the grid: a parameter (``lora_scales`` with the LoRA's path) and values."""

    name: str
    values: tuple[Any, ...]
    lora: str | None = None

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"axis": self.name, "values": list(self.values)}
        if self.lora is not None:
            shown["lora"] = self.lora
        return shown

    @property
    def label(self) -> str:
        return f"{LORA_AXIS}.{self.lora}" if self.lora is not None else self.name


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: its axes in the order given and every cell's validated params."""

    axes: tuple[Axis, ...]
    cells: tuple[BaseModel, ...]

    def positions(self) -> list[tuple[int, ...]]:
        """Each cell's index along every axis, row-major (the last axis fastest)."""
        return list(itertools.product(*(range(len(axis.values)) for axis in self.axes)))

    def marker(self, sweep_id: str, index: int) -> dict[str, Any]:
        """What cell `index` records of its sweep (its params' ``sweep``)."""
        position = self.positions()[index]
        return {
            "id": sweep_id,
            "index": index,
            "cells": len(self.cells),
            "axes": [axis.view() for axis in self.axes],
            "position": list(position),
            "cell": [axis.values[i] for axis, i in zip(self.axes, position, strict=True)],
        }


def _raw_axes(raw: Mapping[str, Any], checked: SweepField) -> list[Axis]:
    """The axes in the order the request gave them (the validated values)."""
    axes: list[Axis] = []
    for name in raw:
        if name == LORA_AXIS:
            scales = checked.lora_scales or {}
            axes += [Axis(LORA_AXIS, tuple(values), lora=path) for path, values in scales.items()]
        else:
            axes.append(Axis(name, tuple(getattr(checked, name) or ())))
    for axis in axes:
        if not axis.values:
            raise InvalidParams(f"sweep.{axis.label}: must be a non-empty list of values")
    return axes


def plan_sweep(
    raw: Any,
    num_generations: int,
    spec: ModelSpec,
    fields: Mapping[str, Any],
    settings: Settings,
    describe: Callable[[ValidationError, str], str],
) -> SweepPlan:
    """The sweep of a request whose model fields are `fields`, or InvalidParams naming
    ``sweep.<axis>`` and the rule. `describe` words a pydantic ValidationError."""
    if not isinstance(raw, dict) or not raw:
        raise InvalidParams("sweep: must be an object of axes, each a list of values")
    try:
        checked = SweepField.model_validate(raw)
    except ValidationError as exc:
        raise InvalidParams(describe(exc, "sweep")) from None
    if num_generations != 1:
        raise InvalidParams("num_generations: must be 1 with a sweep (the grid makes the cells)")
    axes = _raw_axes(raw, checked)
    cells = math.prod(len(axis.values) for axis in axes)
    if cells > MAX_SWEEP_CELLS:
        raise InvalidParams(
            f"sweep: {cells} cells, at most {MAX_SWEEP_CELLS} (the product of the axes' lengths)"
        )
    _check_axes_apply(axes, spec, fields)
    plan = SweepPlan(tuple(axes), ())
    validated = []
    for position in plan.positions():
        values = [axis.values[i] for axis, i in zip(axes, position, strict=True)]
        cell_fields = _cell_fields(fields, axes, values)
        try:
            validated.append(spec.validate_params(cell_fields, settings))
        except ValidationError as exc:
            raise InvalidParams(describe(exc, "sweep")) from None
    return SweepPlan(tuple(axes), tuple(validated))


def _check_axes_apply(axes: list[Axis], spec: ModelSpec, fields: Mapping[str, Any]) -> None:
    """Every axis is a parameter of the model; every LoRA axis names one of the request's."""
    known = spec.params_model.model_fields
    loras = [str(item.get("path")) for item in fields.get("loras") or [] if isinstance(item, dict)]
    for axis in axes:
        if axis.name not in known and not (axis.lora is not None and "loras" in known):
            raise InvalidParams(f"sweep.{axis.name}: {spec.id} has no parameter {axis.name}")
        if axis.lora is not None and axis.lora not in loras:
            raise InvalidParams(
                f"sweep.{LORA_AXIS}.{axis.lora}: not one of the request's loras "
                f"(name a `loras` entry by its path: {', '.join(loras) or 'none given'})"
            )


def _cell_fields(fields: Mapping[str, Any], axes: list[Axis], values: list[Any]) -> dict[str, Any]:
    """The request's model fields with one cell's values in place."""
    cell = dict(fields)
    for axis, value in zip(axes, values, strict=True):
        if axis.lora is None:
            cell[axis.name] = value
            continue
        cell["loras"] = [
            {**item, "scale": value} if item.get("path") == axis.lora else item
            for item in cell.get("loras") or []
        ]
    return cell


def _stored_params(params: BaseModel) -> dict[str, Any]:
    """A request's params as recorded: an edit's inline images are stored as inputs, and
    the record keeps only a marker."""
    stored = params.model_dump()
    if "input_image" in stored:
        stored["input_image"] = [
            "data:" if ref.startswith("data:") else ref for ref in stored["input_image"]
        ]
    return stored


def generation_params(
    params: BaseModel, count: int, sweep: SweepPlan | None, batch_id: str
) -> list[tuple[dict[str, Any], int]]:
    """Each generation's params and seed: N siblings whose seeds follow the given one (or
    are drawn), or a sweep's cells (services/generations/sweeps.py), each with its own
    values, a seed shared where the sweep has no seed axis (given, or drawn once), and the
    sweep's record."""
    if sweep is None:
        stored = _stored_params(params)
        given = stored.get("seed")
        return [
            (
                stored,
                (given + i) % SEED_SPACE if given is not None else secrets.randbelow(SEED_SPACE),
            )
            for i in range(count)
        ]
    drawn = secrets.randbelow(SEED_SPACE)
    cells: list[tuple[dict[str, Any], int]] = []
    for index, cell in enumerate(sweep.cells):
        own = _stored_params(cell)
        own[SWEEP_KEY] = sweep.marker(batch_id, index)
        seed = own.get("seed")
        cells.append((own, seed % SEED_SPACE if seed is not None else drawn))
    return cells
