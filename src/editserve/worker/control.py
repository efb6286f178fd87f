"""Control maps on a worker: the ``control`` request field and the control-map jobs of
``POST /api/ai/images/control-map``.

A generation with ``control`` stores its control picture after its ``input_image`` items
(and before a mask). Before the pipeline runs, :func:`control_inputs` swaps that picture
for its map, so the map is the job's last picture, Picture N (N = len(input_image) + 1):

- ``preprocess`` true: the map is looked up in blob storage under
  ``map_key(sha256 of the picture, type, options)`` (models/annotators/cache_key.py); when
  absent it is computed (``compute_map`` on the worker's device; the tiny annotator twins
  when the worker runs development weights) and stored as a PNG. The same picture and
  settings are computed once, whichever generation or call asks.
- ``preprocess`` false: the picture is the map, as given.

The map's key goes into the generation's receipt (``control_map``), which the generation
view shows as ``control_map_url``. A control-map job (``params["control_map"]``: the type
and its options; its one input the picture) makes the map the same way and returns it as
the generation's result.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from editserve.blobs.base import BlobStorage
from editserve.core.errors import NotFound
from editserve.core.settings import Settings
from editserve.domain.record import Generation
from editserve.inputs.decode import load_rgb
from editserve.models.annotators.cache_key import map_key
from editserve.models.annotators.options import AnnotatorOptions, parse_options
from editserve.models.annotators.registry import annotator
from editserve.models.base import EditResult
from editserve.worker.output import encode_image

log = logging.getLogger("editserve.worker")

MAP_JOB = "control_map"  # the params key of a control-map job
TINY_ANNOTATORS_FOLDER = "tiny-annotators"  # beside the tiny models' folders


@dataclass
class ControlInputs:
    """The blobs a job decodes, in order (a control picture replaced by its map), what
    the receipt records and the seconds the map took (None: no map was made)."""

    keys: list[str]
    receipt: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None


def is_map_job(gen: Generation) -> bool:
    return MAP_JOB in gen.params


def options_of(stored: dict[str, Any]) -> AnnotatorOptions:
    """The annotator options of a stored ``control`` (or a control-map job's params)."""
    return parse_options({k: v for k, v in stored.items() if k not in ("image", "preprocess")})


def control_inputs(
    gen: Generation, storage: BlobStorage, settings: Settings, weights: dict[str, Any] | None
) -> ControlInputs:
    """The input blobs of ``gen`` with its control picture's map in its place."""
    keys = [str(item["key"]) for item in gen.inputs]
    control = gen.params.get("control")
    if not control:
        return ControlInputs(keys)
    index = len(gen.params.get("input_image") or [])  # Picture N - 1
    source = gen.inputs[index]
    if control.get("preprocess", True) is False:
        return ControlInputs(keys, {"control_map": keys[index], "control_type": control["type"]})
    t0 = time.perf_counter()
    key = ensure_map(storage, source, options_of(control), settings, weights)
    keys[index] = key
    receipt = {"control_map": key, "control_type": control["type"]}
    return ControlInputs(keys, receipt, round(time.perf_counter() - t0, 3))


def map_job(
    gen: Generation, storage: BlobStorage, settings: Settings, weights: dict[str, Any] | None
) -> EditResult:
    """A control-map job's result: the map of its one input (computed once, stored under
    its map key), which the worker then stores as the generation's output too."""
    t0 = time.perf_counter()
    key = ensure_map(storage, gen.inputs[0], options_of(gen.params[MAP_JOB]), settings, weights)
    picture = Image.open(io.BytesIO(storage.get(key)))
    picture.load()
    seconds = time.perf_counter() - t0
    receipt = {"control_map": key, "control_type": gen.params[MAP_JOB]["type"]}
    return EditResult(image=picture, timings={"control_map": seconds}, receipt=receipt)


def ensure_map(
    storage: BlobStorage,
    source: dict[str, Any],
    options: AnnotatorOptions,
    settings: Settings,
    weights: dict[str, Any] | None,
) -> str:
    """The key of the map of the stored input ``source``: stored already, or computed now
    and stored (PNG)."""
    key = map_key(str(source["sha256"]), options.type, options)
    if storage.exists(key):
        log.info("control map %s: stored already", key)
        return key
    try:
        data = storage.get(str(source["key"]))
    except NotFound:
        raise RuntimeError("the control picture is no longer stored (pruned?)") from None
    picture = load_rgb(data)  # upright, full size: the map does not depend on the job
    device = str((weights or {}).get("device") or "cpu")
    root = annotator_weights_root(settings, weights, options.type)
    computed = compute_map(picture, options, device=device, weights_root=root)
    encoded, content_type = encode_image(computed, "png", None)
    storage.put(key, encoded, content_type)
    log.info("control map %s: computed (%s on %s)", key, options.type, device)
    return key


def compute_map(
    picture: Image.Image, options: AnnotatorOptions, *, device: str, weights_root: Path | None
) -> Image.Image:
    """models/annotators/runtime's compute_map (imported here: OpenCV and torch load only
    on a worker that makes a map; tests count the calls through this name)."""
    from editserve.models.annotators.runtime import compute_map as compute

    return compute(picture, options, device=device, weights_root=weights_root)


def annotator_weights_root(
    settings: Settings, weights: dict[str, Any] | None, kind: str
) -> Path | None:
    """None (the Hugging Face cache) on a worker with real weights; the tiny twins' folder
    (built once) on one running development weights, beside the tiny models' folders."""
    if not (weights or {}).get("is_tiny") or not annotator(kind).needs_weights:
        return None
    from editserve.models.annotators.tiny import ensure_tiny_annotators

    base = (
        Path(settings.tiny_weights_dir).expanduser().parent
        if settings.tiny_weights_dir
        else settings.data_dir / "models"
    )
    return ensure_tiny_annotators(base / TINY_ANNOTATORS_FOLDER)


__all__ = [
    "MAP_JOB",
    "ControlInputs",
    "annotator_weights_root",
    "compute_map",
    "control_inputs",
    "ensure_map",
    "is_map_job",
    "map_job",
    "options_of",
]
