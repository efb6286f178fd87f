"""``python -m editserve.models.qwen_image_layered.tiny OUT_DIR``: build qwen-image-layered's
tiny twin into OUT_DIR. The builder is the Qwen-Image family's (qwen_image_edit/tiny/
build.py): the same tokenizer, text encoder, processor and scheduler, a transformer with the
layered flags and an RGBA (4-channel) VAE, saved as a ``QwenImageLayeredPipeline`` folder."""

from __future__ import annotations

from editserve.models.qwen_image_edit.tiny.cli import build_cli
from editserve.models.qwen_image_layered.members import MEMBERS


def main(argv: list[str] | None = None) -> int:
    return build_cli(
        argv, MEMBERS, "Qwen-Image-Layered", "editserve.models.qwen_image_layered.tiny"
    )


if __name__ == "__main__":
    raise SystemExit(main())
