"""Masked edits through a real `editserve serve` process on the tiny model: the OpenAI
SDK's ``images.edit(image=..., mask=..., prompt=...)`` (a PNG with alpha, transparent =
edit), the hosted API's sync edit with a white-on-black mask and a feather, and the Python
client. Every pixel outside the mask (beyond the feather) is the input's; inside, pixels
change; the output has the input's size. A bad mask is a 400 naming it."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fixtures.support import LiveServer, start_server, stop_server
from PIL import Image

pytestmark = pytest.mark.slow

SIZE = (72, 56)  # not a multiple of 16: the output keeps it
BOX = (20, 12, 52, 40)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Any) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("masked-server"))
    try:
        yield live
    finally:
        stop_server(live.process)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def picture() -> Image.Image:
    array = np.zeros((SIZE[1], SIZE[0], 3), dtype=np.uint8)
    array[..., 0] = np.linspace(0, 255, SIZE[0], dtype=np.uint8)[None, :]
    array[..., 1] = 120
    array[..., 2] = np.linspace(255, 0, SIZE[1], dtype=np.uint8)[:, None]
    return Image.fromarray(array)


def alpha_mask() -> bytes:
    """OpenAI's kind: the picture itself with a transparent hole where to edit."""
    mask = picture().convert("RGBA")
    mask.paste((0, 0, 0, 0), BOX)
    return encode(mask)


def white_mask() -> bytes:
    mask = Image.new("L", SIZE, 0)
    mask.paste(255, BOX)
    return encode(mask)


def kept(feather: int) -> np.ndarray:
    """Pixels farther than `feather` from the box (chessboard distance)."""
    ys, xs = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    near = (
        (xs >= BOX[0] - feather)
        & (xs < BOX[2] + feather)
        & (ys >= BOX[1] - feather)
        & (ys < BOX[3] + feather)
    )
    return ~near


def check_masked(output: bytes, feather: int) -> None:
    image = Image.open(io.BytesIO(output)).convert("RGB")
    assert image.size == SIZE
    out, original = np.asarray(image).astype(int), np.asarray(picture()).astype(int)
    keep = kept(feather)
    assert np.array_equal(out[keep], original[keep])
    inside = ~kept(0)
    assert (out[inside] != original[inside]).any(axis=-1).mean() > 0.9


def test_the_openai_sdk_edits_with_a_mask(server: LiveServer) -> None:
    from openai import OpenAI

    sdk = OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key)
    result = sdk.images.edit(
        image=("photo.png", encode(picture()), "image/png"),
        mask=("mask.png", alpha_mask(), "image/png"),
        prompt="a red hat",
        extra_body={"num_inference_steps": 2},
    )
    assert result.size == f"{SIZE[0]}x{SIZE[1]}"
    check_masked(base64.b64decode(result.data[0].b64_json or ""), feather=0)


def test_the_sync_edit_with_a_white_mask_and_a_feather(server: LiveServer) -> None:
    def uri(data: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(data).decode()

    with server.client() as client:
        response = client.post(
            "/api/ai/images/edit",
            json={
                "model": "qwen-image-edit-plus",
                "prompt": "a red hat",
                "input_image": [uri(encode(picture()))],
                "mask": uri(white_mask()),
                "mask_feather": 6,
                "num_inference_steps": 2,
            },
        )
        assert response.status_code == 200, response.text
        check_masked(httpx.get(response.json()["images"][0]["url"]).content, feather=6)
        refused = client.post(
            "/api/ai/queue",
            json={
                "model": "qwen-image-edit-plus",
                "prompt": "a red hat",
                "input_image": [uri(encode(picture()))],
                "mask": uri(encode(Image.new("L", SIZE, 255))),
            },
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["detail"].startswith("mask: marks the whole picture")


def test_the_python_client_edits_with_a_mask(server: LiveServer) -> None:
    from editserve import Client

    with Client(server.base_url, server.api_key) as client:
        result = client.images.edit(
            prompt="a red hat",
            input_image=picture(),
            mask=white_mask(),
            num_inference_steps=2,
        )
        check_masked(result.images[0].read_bytes(), feather=0)
