"""``python -m editserve.models.qwen_image_edit.tiny OUT_DIR [MODEL]``: build a member's tiny
twin into OUT_DIR (MODEL: a member's model id; default: the family's first member)."""

from __future__ import annotations

from editserve.models.qwen_image_edit.members import MEMBERS
from editserve.models.qwen_image_edit.tiny.cli import build_cli


def main(argv: list[str] | None = None) -> int:
    return build_cli(argv, MEMBERS, "Qwen-Image-Edit", "editserve.models.qwen_image_edit.tiny")


if __name__ == "__main__":
    raise SystemExit(main())
