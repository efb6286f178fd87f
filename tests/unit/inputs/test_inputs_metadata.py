"""Stored inputs lose their EXIF (GPS included), XMP and text metadata, byte by byte, and
still decode to the very same upright pixels (inputs/check.py and the format modules)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fixtures.inputs import (
    XMP_ROTATED,
    make_image,
    png_chunk,
    settings_for,
    tell_tale_exif,
    two_tone,
)
from PIL import Image, PngImagePlugin

from editserve.blobs import LocalStorage
from editserve.inputs import InputResolver
from editserve.inputs.check import check_image
from editserve.inputs.decode import load_rgb

TELL_TALES = (b"SecretPhoneMaker", b"Secretville", b"secret note", b"GPS", b"XMP")
LIMIT = 4096 * 4096


def saved(fmt: str, image: Image.Image | None = None, **options: object) -> bytes:
    buffer = io.BytesIO()
    (image or two_tone()).save(buffer, fmt, **options)
    return buffer.getvalue()


def stored(data: bytes) -> bytes:
    return check_image(data, max_pixels=LIMIT, keep_metadata=False).data


def assert_same_upright_pixels(original: bytes, kept: bytes) -> None:
    before, after = load_rgb(original), load_rgb(kept)
    assert before.size == after.size
    assert np.array_equal(np.asarray(before), np.asarray(after))


def assert_no_tell_tales(data: bytes) -> None:
    for tell_tale in TELL_TALES:
        assert tell_tale not in data, tell_tale


def exif_of(data: bytes) -> dict[int, object]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return dict(image.getexif())


def jpeg_with_everything(orientation: int | None = 6) -> bytes:
    data = saved(
        "JPEG",
        exif=tell_tale_exif(orientation),
        xmp=XMP_ROTATED if orientation else b"<x:xmpmeta/>",
        comment=b"secret note",
        quality=95,
        icc_profile=b"\0" * 200,
    )
    iptc = b"Photoshop 3.0\0" + b"8BIM\x04\x04\0\0\0\0\0\x0bsecret note\0"
    app13 = b"\xff\xed" + (len(iptc) + 2).to_bytes(2, "big") + iptc
    return data[:2] + app13 + data[2:] + b"trailing secret note"


@pytest.mark.parametrize("orientation", [6, None])
def test_jpeg_loses_exif_gps_xmp_iptc_comments_and_trailers(orientation: int | None) -> None:
    original = jpeg_with_everything(orientation)
    assert all(tell_tale in original for tell_tale in (b"SecretPhoneMaker", b"secret note"))
    kept = stored(original)
    assert_no_tell_tales(kept)
    assert_same_upright_pixels(original, kept)
    assert exif_of(kept) == ({0x0112: 6} if orientation else {})
    assert Image.open(io.BytesIO(kept)).info["icc_profile"] == b"\0" * 200  # colour is kept
    assert kept.endswith(b"\xff\xd9")


def test_jpeg_orientation_from_xmp_alone_is_kept_as_exif() -> None:
    original = saved("JPEG", xmp=XMP_ROTATED, quality=95)
    kept = stored(original)
    assert b"Secretville" not in kept
    assert exif_of(kept) == {0x0112: 6}
    assert_same_upright_pixels(original, kept)
    assert load_rgb(kept).size == (20, 40)  # turned upright


def test_mpo_keeps_its_first_picture_only() -> None:
    first, second = two_tone(), Image.new("RGB", (40, 20), (0, 255, 0))
    original = saved("MPO", first, save_all=True, append_images=[second], exif=tell_tale_exif())
    assert Image.open(io.BytesIO(original)).n_frames == 2
    kept = stored(original)
    assert_no_tell_tales(kept)
    assert getattr(Image.open(io.BytesIO(kept)), "n_frames", 1) == 1
    assert_same_upright_pixels(original, kept)


@pytest.mark.parametrize("where", ["exif", "xmp", "raw profile"])
def test_png_loses_its_text_and_exif_chunks_and_keeps_the_turn(where: str) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret note")
    info.add_text("Software", "secret note", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP_ROTATED.decode(), zip=True)
    options: dict[str, object] = {"pnginfo": info}
    if where == "exif":
        options["exif"] = tell_tale_exif(6)
    elif where == "raw profile":  # as ImageMagick writes EXIF into PNG
        raw = tell_tale_exif(6).tobytes()
        info.add_text("Raw profile type exif", f"\nexif\n{len(raw)}\n{raw.hex()}\n", zip=True)
    original = saved("PNG", **options) + b"trailing secret note"
    if where != "exif":
        assert b"eXIf" not in original
    kept = stored(original)
    assert_no_tell_tales(kept)
    for chunk in (b"tEXt", b"zTXt", b"iTXt"):
        assert chunk not in kept
    assert exif_of(kept) == {0x0112: 6}
    assert_same_upright_pixels(original, kept)
    assert kept.endswith(png_chunk(b"IEND", b""))


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_loses_exif_and_xmp_and_keeps_the_turn(lossless: bool) -> None:
    original = saved("WEBP", exif=tell_tale_exif(6), xmp=XMP_ROTATED, lossless=lossless)
    kept = stored(original)
    assert_no_tell_tales(kept)
    assert exif_of(kept) == {0x0112: 6}
    assert kept[20] & 0x0C == 0x08  # VP8X flags: EXIF yes, XMP no
    assert int.from_bytes(kept[4:8], "little") == len(kept) - 8
    assert_same_upright_pixels(original, kept)


def test_animated_webp_keeps_its_frames() -> None:
    frames = [Image.new("RGB", (16, 16), (i * 60, 0, 0)) for i in range(3)]
    original = saved("WEBP", frames[0], save_all=True, append_images=frames[1:], xmp=XMP_ROTATED)
    kept = stored(original)
    assert b"Secretville" not in kept
    assert Image.open(io.BytesIO(kept)).n_frames == 3
    assert_same_upright_pixels(original, kept)


def test_gif_loses_its_comments() -> None:
    original = saved("GIF", two_tone().convert("P"), comment=b"secret note")
    kept = stored(original)
    assert b"secret note" not in kept
    assert_same_upright_pixels(original, kept)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_files_without_metadata_are_stored_as_they_came(fmt: str) -> None:
    original = make_image(fmt, (9, 7))
    assert stored(original) is original


async def test_the_resolver_stores_stripped_bytes_unless_told_to_keep_them(tmp_path: Path) -> None:
    original = jpeg_with_everything()
    storage = LocalStorage(tmp_path / "files")

    async def no_uploads(upload_id: str, owner: str) -> None:
        return None

    settings = settings_for(tmp_path, max_input_bytes=1 << 20)
    resolver = InputResolver(settings, storage, no_uploads)
    result = await resolver.store_upload(original)
    kept = storage.get(result.key)
    assert_no_tell_tales(kept)
    assert result.size == len(kept) < len(original)
    assert result.key == f"inputs/{result.sha256}.jpg"
    assert_same_upright_pixels(original, kept)

    keeping = settings_for(tmp_path, max_input_bytes=1 << 20, keep_input_metadata=True)
    result = await InputResolver(keeping, storage, no_uploads).store_upload(original)
    assert storage.get(result.key) == original
