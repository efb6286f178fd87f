"""Masked edits at the API: ``mask`` and ``mask_feather`` in the served schema; a good mask
is fetched, made canonical and stored after the pictures, and the output has Picture 1's
size; a bad mask is a 400 naming ``mask`` and the rule with nothing stored or enqueued;
models without masks refuse the field by name. OpenAI's ``images.edit(mask=...)`` takes
the same path (transparent = edit)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import BASE, App, SyncASGITransport
from PIL import Image

SIZE = (40, 30)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


PICTURE = encode(Image.new("RGB", SIZE, (200, 40, 40)))


def white_box(size: tuple[int, int] = SIZE) -> bytes:
    mask = Image.new("L", size, 0)
    mask.paste(255, (10, 5, 30, 20))
    return encode(mask)


def alpha_hole(size: tuple[int, int] = SIZE) -> bytes:
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (10, 5, 30, 20))
    return encode(mask)


@pytest.fixture
def app(tmp_path: Path) -> App:
    edits = ["qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit"]
    return App(tmp_path, models=[*edits, "qwen-image", "qwen-image-layered"])


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(app.app) as client:
        client.headers["Authorization"] = f"Bearer {app.key}"
        yield client


def stored_keys(app: App) -> list[str]:
    root = Path(app.services.settings.data_dir)
    return sorted(str(path.relative_to(root)) for path in root.rglob("inputs/*"))


def enqueue(client: TestClient, **fields: Any) -> httpx.Response:
    body = {"model": "qwen-image-edit-plus", "prompt": "a hat", "input_image": [data_uri(PICTURE)]}
    return client.post("/api/ai/queue", json={**body, **fields})


def test_the_schema_documents_mask_and_mask_feather(client: TestClient) -> None:
    for model in ("qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit"):
        properties = client.get(f"/api/ai/models/{model}").json()["json_request_schema"][
            "properties"
        ]
        mask, feather = properties["mask"], properties["mask_feather"]
        assert mask["type"] == "string" and mask["renderType"] == "image-url"
        assert "transparent = edit" in mask["description"]
        assert "white = edit" in mask["description"]
        assert feather == {**feather, "type": "integer", "minimum": 0, "maximum": 256, "default": 0}
        assert "pixels" in feather["description"]


def test_a_masked_edit_stores_the_canonical_mask_last_and_keeps_picture_1s_size(
    app: App, client: TestClient
) -> None:
    response = enqueue(client, mask=data_uri(alpha_hole()), mask_feather=8)
    assert response.status_code == 200, response.text
    [queued] = response.json()["generations"]
    gen = app.services.store.get_generation(queued["generation_id"], None)
    assert gen is not None and (gen.width, gen.height) == SIZE
    assert len(gen.inputs) == 2 and gen.inputs[1]["format"] == "PNG"
    assert gen.params["mask"] == "data:" and gen.params["mask_feather"] == 8
    stored = app.services.storage.get(gen.inputs[1]["key"])
    mask = Image.open(io.BytesIO(stored))
    assert mask.mode == "L" and mask.getbbox() == (10, 5, 30, 20)
    view = client.get(f"/api/ai/queue/{gen.id}").json()
    assert view["mask"] == "data:" and view["mask_feather"] == 8


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"mask": data_uri(white_box((30, 40)))}, "mask: must have the size of Picture 1"),
        ({"mask": data_uri(encode(Image.new("L", SIZE, 0)))}, "mask: marks nothing to edit"),
        ({"mask": data_uri(encode(Image.new("L", SIZE, 255)))}, "mask: marks the whole picture"),
        ({"mask": data_uri(b"GIF89a not really")}, "mask: "),
        ({"mask": "file:///etc/passwd"}, "mask: must be an http(s) URL"),
        ({"mask": data_uri(white_box()), "mask_feather": 257}, "mask_feather: "),
        ({"mask": data_uri(white_box()), "width": 256, "height": 256}, "Picture 1's size (40x30)"),
    ],
    ids=["size", "empty", "full", "not-an-image", "scheme", "feather", "exact-size"],
)
def test_bad_masks_are_400s_naming_the_field_and_nothing_is_stored(
    app: App, client: TestClient, fields: dict[str, Any], rule: str
) -> None:
    response = enqueue(client, **fields)
    assert response.status_code == 400, response.text
    assert rule in response.json()["error"]["detail"]
    assert stored_keys(app) == []
    owner = app.services.store.list_keys()[0].id
    assert app.services.store.list_generations(owner)[1] == 0


def test_models_without_masks_refuse_the_field_by_name(client: TestClient) -> None:
    generate = client.post(
        "/api/ai/images/generate",
        json={"model": "qwen-image", "prompt": "a cat", "mask": data_uri(white_box())},
    )
    assert generate.status_code == 400 and "mask: unknown field" in generate.text
    layered = enqueue(client, model="qwen-image-layered", mask=data_uri(white_box()))
    assert layered.status_code == 400 and "mask: unknown field" in layered.text


# --- OpenAI's images.edit(mask=...) ---------------------------------------------------------


@pytest.fixture
def sdk(app: App) -> Iterator[openai.OpenAI]:
    http = httpx.Client(transport=SyncASGITransport(app.app), base_url=BASE)
    yield openai.OpenAI(base_url=f"{BASE}/v1", api_key=app.key, http_client=http, max_retries=0)
    http.close()


def test_openai_images_edit_with_a_mask_is_a_masked_edit(app: App, sdk: openai.OpenAI) -> None:
    app.run_worker(steps=1)
    result = sdk.images.edit(
        model="qwen-image-edit-plus",
        image=("photo.png", PICTURE, "image/png"),
        mask=("mask.png", alpha_hole(), "image/png"),
        prompt="a hat",
    )
    assert len(result.data) == 1
    owner = app.services.store.list_keys()[0].id
    [gen], _total = app.services.store.list_generations(owner)
    assert gen.params["mask"] == "data:" and (gen.width, gen.height) == SIZE
    mask = Image.open(io.BytesIO(app.services.storage.get(gen.inputs[1]["key"])))
    assert mask.getbbox() == (10, 5, 30, 20)  # transparent = edit


def test_openai_bad_masks_are_bad_requests_naming_mask(app: App, sdk: openai.OpenAI) -> None:
    image = ("photo.png", PICTURE, "image/png")
    for mask, rule in (
        (alpha_hole((20, 20)), "must have the size of Picture 1"),
        (encode(Image.new("RGBA", SIZE, (0, 0, 0, 255))), "marks nothing to edit"),
    ):
        with pytest.raises(openai.BadRequestError) as info:
            sdk.images.edit(image=image, mask=("m.png", mask, "image/png"), prompt="p")
        assert info.value.body["param"] == "mask"  # type: ignore[index]
        assert rule in info.value.body["message"]  # type: ignore[index]
    owner = app.services.store.list_keys()[0].id
    assert app.services.store.list_generations(owner)[1] == 0
    assert stored_keys(app) == []


def test_an_empty_mask_field_is_no_mask(app: App, client: TestClient) -> None:
    """A form's empty field (the workbench sends every field it shows) means no mask."""
    response = enqueue(client, mask="", mask_feather=0)
    assert response.status_code == 200, response.text
    [queued] = response.json()["generations"]
    gen = app.services.store.get_generation(queued["generation_id"], None)
    assert gen is not None and len(gen.inputs) == 1 and gen.params["mask"] is None
