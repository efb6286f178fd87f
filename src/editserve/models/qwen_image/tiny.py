"""``python -m editserve.models.qwen_image.tiny OUT_DIR [MODEL]``: build a text-to-image
member's tiny twin into OUT_DIR (MODEL: its id; default qwen-image). The builder is the
edit family's (qwen_image_edit/tiny/build.py): the same tokenizer, text encoder, VAE and
scheduler, saved as a ``QwenImagePipeline`` folder without a processor."""

from __future__ import annotations

from editserve.models.qwen_image.members import MEMBERS
from editserve.models.qwen_image_edit.tiny.cli import build_cli


def main(argv: list[str] | None = None) -> int:
    return build_cli(argv, MEMBERS, "Qwen-Image text-to-image", "editserve.models.qwen_image.tiny")


if __name__ == "__main__":
    raise SystemExit(main())
