"""``python -m editserve.models.qwen_image_edit.tiny OUT_DIR [MODEL]``: build a member's tiny
twin into OUT_DIR (MODEL: an id or alias of a family member; default: the registry's first
model). Nothing imports this module, so it may look the registry up."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from editserve.models.qwen_image_edit.members import member
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights
from editserve.models.registry import default_registry

USAGE = (
    "usage: python -m editserve.models.qwen_image_edit.tiny OUT_DIR [MODEL]\n"
    "  MODEL: a Qwen-Image-Edit family id or alias (default: the registry's first model)"
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr)
        return 2
    registry = default_registry()
    spec = registry.find(args[1]) if len(args) == 2 else registry.default
    variant = member(spec.id) if spec else None
    if variant is None:
        print(f"{args[1]} is not a model of the Qwen-Image-Edit family", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(ensure_tiny_weights(Path(args[0]), variant))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
