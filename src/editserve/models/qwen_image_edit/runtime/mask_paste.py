"""A masked edit's last step: the generated picture composited over Picture 1.

The mask (mode "L", 255 = edit) is feathered outward by ``feather`` pixels: grown by
``ceil(feather / 2)`` pixels, then box-averaged over ``floor(feather / 2)`` pixels each way
(both in the chessboard metric). So the alpha is exactly 255 inside the mask, exactly 0
farther than ``feather`` pixels from it, and ramps between. Sums are separable running
sums (numpy), so the cost does not grow with the feather. The composite is Pillow's paste
through the alpha: where it is 0 the output holds Picture 1's bytes, untouched.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

HALF = 128


def feathered_alpha(mask: Image.Image, feather: int) -> Image.Image:
    """The composite's alpha (mode "L"): the binary mask, softened outward by `feather`."""
    if feather <= 0:
        return mask.point(lambda value: 255 if value >= HALF else 0)
    import numpy as np

    edit = (np.asarray(mask.convert("L")) >= HALF).astype(np.int32)
    grow, soften = (feather + 1) // 2, feather // 2
    grown = (_box_sums(edit, grow) > 0).astype(np.int32)
    if soften == 0:
        return Image.fromarray((grown * 255).astype(np.uint8), mode="L")
    sums = _box_sums(grown, soften)
    counts = _box_sums(np.ones_like(grown), soften)
    alpha = np.rint(sums * (255.0 / counts)).astype(np.uint8)
    return Image.fromarray(alpha, mode="L")


def _box_sums(values: Any, radius: int) -> Any:
    """Each pixel's sum over the (2 * radius + 1)² square around it, clipped at the edges."""
    for axis in (0, 1):
        values = _window_sums(values, radius, axis)
    return values


def _window_sums(values: Any, radius: int, axis: int) -> Any:
    import numpy as np

    length = values.shape[axis]
    shape = list(values.shape)
    shape[axis] = 1
    running = np.concatenate(
        [np.zeros(shape, dtype=values.dtype), np.cumsum(values, axis=axis, dtype=values.dtype)],
        axis=axis,
    )
    index = np.arange(length)
    high = np.minimum(index + radius + 1, length)
    low = np.maximum(index - radius, 0)
    return np.take(running, high, axis=axis) - np.take(running, low, axis=axis)


def paste_back(generated: Any, picture: Image.Image, alpha: Image.Image) -> Image.Image:
    """`generated` at Picture 1's size, over `picture` through `alpha` (255 = generated)."""
    image = generated.convert("RGB")
    if image.size != picture.size:
        image = image.resize(picture.size, Image.Resampling.LANCZOS)
    result = picture.convert("RGB")  # a copy
    result.paste(image, (0, 0), alpha)
    return result
