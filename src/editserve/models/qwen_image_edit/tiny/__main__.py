"""``python -m editserve.models.qwen_image_edit.tiny OUT_DIR [MODEL]``: build a member's tiny
twin into OUT_DIR (MODEL: a member's model id; default: the family's first member)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from editserve.models.qwen_image_edit.members import MEMBERS, member
from editserve.models.qwen_image_edit.tiny.build import ensure_tiny_weights

USAGE = (
    "usage: python -m editserve.models.qwen_image_edit.tiny OUT_DIR [MODEL]\n"
    "  MODEL: a Qwen-Image-Edit family member's id (default: the family's first member)"
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr)
        return 2
    variant = member(args[1].lower()) if len(args) == 2 else MEMBERS[0]
    if variant is None:
        print(f"{args[1]} is not a model of the Qwen-Image-Edit family", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(ensure_tiny_weights(Path(args[0]), variant))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
