"""Where a computed control map is kept: a blob key made of what determines its pixels.

    map_key(sha256_of_input_bytes, "canny", {"low_threshold": 50})  ->  "maps/<64 hex>.png"

The key hashes the input's bytes (their sha256), the type, every option with its value
(defaults filled in, so ``{}`` and the defaults written out give one key), the annotator's
version and, for the model annotators, the weights' repos and revisions. A worker looks the
key up in the blob store before computing, so a map is computed once per input and
settings. No torch, no OpenCV.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from editserve.models.annotators.options import AnnotatorOptions, canonical, parse_options
from editserve.models.annotators.registry import annotator

MAP_PREFIX = "maps/"
# Bump when the key's recipe changes (every earlier map is then recomputed once).
KEY_FORMAT = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def map_key(
    image_sha256: str,
    kind: str,
    options: AnnotatorOptions | Mapping[str, Any] | None = None,
) -> str:
    """The blob key of the map of the input whose bytes hash to ``image_sha256``.

    ``options`` are the type's options (a parsed model, or a mapping without or with a
    matching ``type``). Raises ValueError on a malformed hash or a type mismatch, pydantic's
    ValidationError on bad options.
    """
    if not _SHA256.match(image_sha256):
        raise ValueError(
            f"image_sha256: must be 64 lowercase hex digits (got {image_sha256[:80]!r})"
        )
    info = annotator(kind)
    if options is None or isinstance(options, Mapping):
        raw = dict(options or {})
        if raw.setdefault("type", kind) != kind:
            raise ValueError(f"options: type {raw['type']!r} does not match {kind!r}")
        parsed = parse_options(raw)
    else:
        parsed = options
        if parsed.type != kind:
            raise ValueError(f"options: type {parsed.type!r} does not match {kind!r}")
    recipe = {
        "format": KEY_FORMAT,
        "input": image_sha256,
        "type": kind,
        "version": info.version,
        "options": canonical(parsed),
        "weights": [f"{w.repo}@{w.ref}" for w in info.weights],
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return f"{MAP_PREFIX}{digest}.png"


def input_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = ["KEY_FORMAT", "MAP_PREFIX", "input_sha256", "map_key"]
