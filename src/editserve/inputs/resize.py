"""Shrinking a decoded RGB image to the size the model uses.

Speed (bench/images.py measures it against plain Pillow, with PSNR): where torch can be
imported (the worker), the resize is torch's antialiased bicubic on uint8 pixels, whose
kernels were written to match Pillow's BICUBIC (same filter, same fixed-point rounding;
pixels within a level or two) and run about 5-7x faster than Pillow's resize on 2-4 MP
inputs. No pixel is copied on the way in: Pillow exports its image memory through the
Arrow C data interface (RGB is stored as RGBX, 4 bytes a pixel) and torch reads it in
place as a channels-last tensor, the layout of its fast uint8 path, which then also
writes its output channels-last. (Pillow keeps an image in one piece up to its 16 MB
block size, 4 MP of RGB, which covers a 12 MP JPEG decoded at 1/2 scale; a larger one is
read from a packed copy, ``tobytes``, 2-5 ms at 3-4 MP.) Where torch or numpy is missing
(API-only nodes install without them), Pillow's bicubic resize with ``REDUCING_GAP`` does
it.
"""

from __future__ import annotations

import ctypes
import functools
import warnings
from typing import Any

from PIL import Image

# Pillow fallback: shrink by a whole factor (box) to within this factor of the size, then
# bicubic.
REDUCING_GAP = 2.0


def resize_rgb(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` (mode RGB) resized to ``size`` (width, height) with a bicubic, antialiased
    filter: torch's uint8 kernels when torch is importable, else Pillow's."""
    modules = _torch_and_numpy()
    if modules is None or image.mode != "RGB":
        return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP)
    torch, np = modules
    pixels = _pixels(image, np)  # (height, width, 4 or 3) uint8
    if pixels.flags.writeable:
        tensor = torch.from_numpy(pixels)
    else:
        with warnings.catch_warnings():
            # the packed copy is read-only and torch says so; it is only read here
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            tensor = torch.from_numpy(pixels)
    # NCHW shape with channels-last strides (the batch stride too, so that torch writes its
    # output channels-last as well and neither side repacks the pixels)
    batch = tensor.unsqueeze(0).permute(0, 3, 1, 2)
    width, height = size
    resized = torch.nn.functional.interpolate(
        batch, size=(height, width), mode="bicubic", antialias=True
    )
    out = resized[0].permute(1, 2, 0).numpy()  # (height, width, channels), contiguous
    if out.shape[2] == 4:
        return Image.frombytes("RGB", size, out, "raw", "RGBX")  # one pass, drops the X
    return Image.fromarray(out)


def _pixels(image: Image.Image, np: Any) -> Any:
    """``image``'s pixels: Pillow's own memory as (height, width, 4) RGBX where it exports
    it in one piece (the array keeps the export alive), else a packed (height, width, 3)
    copy."""
    try:
        schema, array = image.__arrow_c_array__()
    except (AttributeError, ValueError):  # Pillow < 11.2; rows in several memory blocks
        return np.asarray(image)
    memory = _rgbx_memory(schema, array, image.size)
    if memory is None:
        return np.asarray(image)
    memory.export = array  # Pillow keeps the memory while the export lives
    width, height = image.size
    return np.frombuffer(memory, np.uint8).reshape(height, width, 4)


def _rgbx_memory(schema_capsule: object, array_capsule: object, size: tuple[int, int]) -> Any:
    """The pixel buffer of an Arrow export of an RGB image (a fixed-size list of 4 uint8
    per pixel, in one buffer), or None if the export is laid out otherwise."""
    schema = _ArrowSchema.from_address(_capsule_pointer(schema_capsule, b"arrow_schema"))
    array = _ArrowArray.from_address(_capsule_pointer(array_capsule, b"arrow_array"))
    if schema.format != b"+w:4" or schema.n_children != 1 or array.n_children != 1:
        return None
    if schema.children[0].contents.format != b"C" or array.offset != 0:
        return None
    width, height = size
    child = array.children[0].contents
    if child.n_buffers != 2 or child.offset != 0 or child.length != width * height * 4:
        return None
    if not child.buffers[1]:
        return None
    return (ctypes.c_uint8 * child.length).from_address(child.buffers[1])


class _ArrowSchema(ctypes.Structure):
    """struct ArrowSchema of the Arrow C data interface."""


_ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowSchema))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]


class _ArrowArray(ctypes.Structure):
    """struct ArrowArray of the Arrow C data interface."""


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]
# Our own prototype (not ctypes.pythonapi's shared one, whose argtypes others may set);
# a wrong capsule name raises instead of returning NULL.
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi)
)


@functools.cache
def _torch_and_numpy() -> tuple[Any, Any] | None:
    """torch and numpy, imported on first use (never on API-only nodes' import path), or
    None where either cannot be imported."""
    try:
        import numpy
        import torch
    except (ImportError, OSError):  # OSError: a torch whose native libraries fail to load
        return None
    return torch, numpy
