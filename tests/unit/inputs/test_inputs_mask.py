"""A masked edit's ``mask``: both encodings read to one binary mask (alpha: transparent =
edit; otherwise white = edit), checked against Picture 1, fetched and stored by the one
resolver; every refusal names ``mask`` and stores nothing."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from fixtures.inputs import settings_for
from PIL import Image

from editserve.blobs import LocalStorage
from editserve.core.errors import InvalidParams
from editserve.inputs import InputResolver, StoredInput
from editserve.inputs.mask import canonical_mask, read_mask, upright_size

BASE = "https://edit.example.com"
SIZE = (40, 30)
BOX = (10, 5, 30, 20)  # the region to edit in every mask below


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def alpha_mask(size: tuple[int, int] = SIZE) -> bytes:
    """OpenAI's encoding: the picture itself, opaque, with a transparent hole to edit."""
    image = Image.new("RGBA", size, (90, 120, 200, 255))
    image.paste((0, 0, 0, 0), BOX)
    return encode(image)


def white_mask(size: tuple[int, int] = SIZE, mode: str = "L") -> bytes:
    image = Image.new(mode, size, 0)
    image.paste(255 if mode == "L" else (255, 255, 255), BOX)
    return encode(image)


def edited(mask: Image.Image) -> set[tuple[int, int]]:
    width, height = mask.size
    return {(x, y) for y in range(height) for x in range(width) if mask.getpixel((x, y)) == 255}


BOX_PIXELS = {(x, y) for y in range(BOX[1], BOX[3]) for x in range(BOX[0], BOX[2])}


@pytest.mark.parametrize(
    "data",
    [
        alpha_mask(),
        white_mask(),
        white_mask(mode="RGB"),
        encode(Image.open(io.BytesIO(white_mask(mode="RGB"))).convert("RGBA")),  # opaque alpha
        encode(Image.open(io.BytesIO(white_mask())).convert("I;16").point(lambda v: v * 257)),
        encode(Image.open(io.BytesIO(white_mask(mode="RGB"))), "JPEG", quality=95),
    ],
    ids=["alpha-hole", "gray", "rgb", "rgba-opaque", "gray16", "jpeg"],
)
def test_both_encodings_read_to_the_same_binary_mask(data: bytes) -> None:
    mask = read_mask(data)
    assert mask.mode == "L" and mask.size == SIZE
    assert set(mask.tobytes()) == {0, 255}
    assert edited(mask) == BOX_PIXELS


def test_alpha_below_half_is_transparent_and_luminance_from_half_is_white() -> None:
    alpha = Image.new("LA", (4, 1), (0, 255))
    for x, value in enumerate((0, 127, 128, 255)):
        alpha.putpixel((x, 0), (0, value))
    assert list(read_mask(encode(alpha)).tobytes()) == [255, 255, 0, 0]
    gray = Image.new("L", (4, 1))
    for x, value in enumerate((0, 127, 128, 255)):
        gray.putpixel((x, 0), value)
    assert list(read_mask(encode(gray)).tobytes()) == [0, 0, 255, 255]


def test_the_canonical_mask_is_a_binary_grayscale_png() -> None:
    stored = Image.open(io.BytesIO(canonical_mask(alpha_mask(), SIZE)))
    assert stored.format == "PNG" and stored.mode == "L"
    assert edited(stored) == BOX_PIXELS


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (
            white_mask((30, 40)),
            "must have the size of Picture 1 (input_image[0]: 40x30); got 30x40",
        ),
        (encode(Image.new("L", SIZE, 0)), "marks nothing to edit"),
        (encode(Image.new("L", SIZE, 255)), "marks the whole picture"),
        (encode(Image.new("RGBA", SIZE, (0, 0, 0, 0))), "marks the whole picture"),
        (encode(Image.new("RGBA", SIZE, (0, 0, 0, 255))), "marks nothing to edit"),
    ],
    ids=["wrong-size", "empty", "full", "all-transparent", "all-opaque-black"],
)
def test_bad_masks_are_refused_naming_mask_and_the_rule(data: bytes, rule: str) -> None:
    with pytest.raises(InvalidParams) as info:
        canonical_mask(data, SIZE)
    assert info.value.detail.startswith("mask: ")
    assert rule in info.value.detail


def test_the_mask_is_read_upright_like_the_pictures() -> None:
    # stored 30x40 with "turn 90 degrees": decoded 40x30, as load_rgb decodes a picture
    turned = Image.open(io.BytesIO(white_mask())).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(turned, exif=exif.tobytes())
    assert upright_size(data) == (40, 30)
    assert read_mask(data).size == (40, 30)


# --- through the resolver: fetched, checked and stored like the pictures --------------------


class CountingStorage(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.puts.append(key)
        super().put(key, data, content_type)


async def no_uploads(upload_id: str, owner: str) -> StoredInput | None:
    return None


@pytest.fixture
def storage(tmp_path: Path) -> CountingStorage:
    return CountingStorage(tmp_path / "files")


@pytest.fixture
def resolver(tmp_path: Path, storage: CountingStorage) -> InputResolver:
    return InputResolver(settings_for(tmp_path), storage, no_uploads)


def picture(size: tuple[int, int] = SIZE) -> bytes:
    return encode(Image.new("RGB", size, (200, 30, 40)))


async def test_the_mask_comes_last_canonical_and_is_stored_with_the_pictures(
    resolver: InputResolver, storage: CountingStorage
) -> None:
    refs = [data_uri(picture()), data_uri(picture((8, 8)))]
    fetched = await resolver.fetch(refs, "alice", base_urls=[BASE], mask=data_uri(alpha_mask()))
    assert [item.field for item in fetched] == ["input_image[0]", "input_image[1]", "mask"]
    assert fetched[-1].size == SIZE and fetched[-1].stored.format == "PNG"
    assert storage.puts == []  # fetch stores nothing
    stored = await resolver.store(fetched)
    mask = Image.open(io.BytesIO(storage.get(stored[-1].key)))
    assert mask.mode == "L" and edited(mask) == BOX_PIXELS


async def test_a_refused_mask_names_mask_and_stores_nothing(
    resolver: InputResolver, storage: CountingStorage
) -> None:
    for mask, rule in (
        (data_uri(white_mask((20, 20))), "must have the size of Picture 1"),
        (data_uri(encode(Image.new("L", SIZE, 0))), "marks nothing to edit"),
        (data_uri(b"not an image at all"), "not a supported image"),
        ("ftp://example.com/mask.png", "must be an http(s) URL"),
    ):
        with pytest.raises(InvalidParams) as info:
            await resolver.fetch([data_uri(picture())], "alice", base_urls=[BASE], mask=mask)
        assert info.value.detail.startswith("mask: ") and rule in info.value.detail
    assert storage.puts == []
