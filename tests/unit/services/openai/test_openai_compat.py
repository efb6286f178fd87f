"""The official OpenAI SDK against editserve by base_url alone: images.edit and models.list,
with its own exception types for our errors. Each call is an ordinary generation."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from fixtures.inprocess_app import BASE, OUTPUT, App, SyncASGITransport, png
from PIL import Image


@pytest.fixture
def server(tmp_path: Path) -> App:
    return App(tmp_path)


@pytest.fixture
def sdk(server: App) -> Iterator[openai.OpenAI]:
    http = httpx.Client(transport=SyncASGITransport(server.app), base_url=BASE)
    client = openai.OpenAI(
        base_url=f"{BASE}/v1", api_key=server.key, http_client=http, max_retries=0
    )
    yield client
    http.close()


def test_images_edit_b64_by_default_and_recorded_as_a_generation(
    server: App, sdk: openai.OpenAI
) -> None:
    server.run_worker(steps=2)
    result = sdk.images.edit(
        model="qwen-image-edit-plus", image=("cat.png", png(), "image/png"), prompt="a hat"
    )
    assert len(result.data) == 1 and result.data[0].b64_json
    assert base64.b64decode(result.data[0].b64_json) == OUTPUT
    assert result.size and "x" in result.size
    owner = server.services.store.list_keys()[0].id
    [gen], total = server.services.store.list_generations(owner)
    assert total == 1 and gen.params["prompt"] == "a hat"
    assert gen.params["aspect_ratio"] == "1:1" and gen.params["width"] is None  # size: auto


def test_several_images_n_and_url_responses(server: App, sdk: openai.OpenAI) -> None:
    server.run_worker(steps=1)
    server.run_worker(steps=1)
    result = sdk.images.edit(
        image=[("a.png", png((1, 1, 1)), "image/png"), ("b.png", png((9, 9, 9)), "image/png")],
        prompt="Put Picture 1 next to Picture 2",
        n=2,
        size="1536x1024",
        response_format="url",
        output_format="webp",
    )
    assert len(result.data) == 2
    for image in result.data:
        assert image.url and "/files/outputs/" in image.url
    owner = server.services.store.list_keys()[0].id
    gens, _ = server.services.store.list_generations(owner)
    assert {len(g.inputs) for g in gens} == {2}
    assert {(g.width, g.height) for g in gens} == {(1536, 1024)}  # size is the exact size
    assert {g.params["output_format"] for g in gens} == {"webp"}


def test_models_list_names_every_served_model(sdk: openai.OpenAI) -> None:
    ids = [model.id for model in sdk.models.list()]
    assert "qwen-image-edit-plus" in ids and "Qwen/Qwen-Image-Edit-2509" in ids


def test_errors_come_in_openais_envelope(server: App, sdk: openai.OpenAI) -> None:
    image = ("x.png", png(), "image/png")
    with pytest.raises(openai.BadRequestError) as bad_size:
        sdk.images.edit(image=image, prompt="p", size="1000x333")
    assert bad_size.value.body["param"] == "size"  # type: ignore[index]
    assert "multiple of 16" in bad_size.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as too_small:
        sdk.images.edit(image=image, prompt="p", size="128x128")
    assert too_small.value.body["param"] == "size"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as mask:  # opaque and dark: nothing to edit
        sdk.images.edit(image=image, prompt="p", mask=("m.png", png(), "image/png"))
    assert mask.value.body["param"] == "mask"  # type: ignore[index]
    assert "marks nothing to edit" in mask.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.images.edit(image=[image] * 4, prompt="p")
    assert too_many.value.body["param"] == "image"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as not_an_image:
        sdk.images.edit(image=("x.png", b"not an image", "image/png"), prompt="p")
    assert not_an_image.value.body["param"] == "image"  # type: ignore[index]
    bad_key = sdk.with_options(api_key="es_wrong")
    with pytest.raises(openai.AuthenticationError):
        bad_key.images.edit(image=image, prompt="p")
    owner = server.services.store.list_keys()[0].id
    assert server.services.store.list_generations(owner)[1] == 0  # nothing was enqueued


def test_a_failed_generation_is_a_server_error_with_its_message(
    server: App, sdk: openai.OpenAI
) -> None:
    server.run_worker(steps=1, outcome="fail")
    with pytest.raises(openai.InternalServerError) as failed:
        sdk.images.edit(image=("x.png", png(), "image/png"), prompt="p")
    assert "the tiny model exploded" in failed.value.body["message"]  # type: ignore[index]


def test_low_quality_is_a_preview(server: App, sdk: openai.OpenAI) -> None:
    server.run_worker(steps=1)
    result = sdk.images.edit(image=("x.png", png(), "image/png"), prompt="p", quality="low")
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or "")))
    assert image.size == (16, 16)  # the fake worker's output
    owner = server.services.store.list_keys()[0].id
    [gen], _ = server.services.store.list_generations(owner)
    assert gen.params["preview"] is True


def test_the_models_own_parameters_pass_through_extra_body(server: App, sdk: openai.OpenAI) -> None:
    server.run_worker(steps=1)
    sdk.images.edit(
        image=("x.png", png(), "image/png"),
        prompt="p",
        extra_body={"seed": 42, "num_inference_steps": 8, "true_cfg_scale": 2.5},
    )
    owner = server.services.store.list_keys()[0].id
    [gen], _ = server.services.store.list_generations(owner)
    assert gen.seed == 42 and gen.params["num_inference_steps"] == 8
    assert gen.params["true_cfg_scale"] == 2.5
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.images.edit(image=("x.png", png(), "image/png"), prompt="p", extra_body={"seed": -1})
    assert bad.value.body["param"] == "seed"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as unknown:
        sdk.images.edit(image=("x.png", png(), "image/png"), prompt="p", extra_body={"zz": 1})
    assert unknown.value.body["param"] == "zz"  # type: ignore[index]


def test_compression_is_the_output_quality_and_aspect_ratio_rides_along(
    server: App, sdk: openai.OpenAI
) -> None:
    server.run_worker(steps=1)
    sdk.images.edit(
        image=("x.png", png(), "image/png"),
        prompt="p",
        output_format="jpeg",
        output_compression=60,
        extra_body={"aspect_ratio": "16:9"},
    )
    owner = server.services.store.list_keys()[0].id
    [gen], _ = server.services.store.list_generations(owner)
    assert gen.params["output_quality"] == 60 and gen.params["output_format"] == "jpg"
    assert gen.params["aspect_ratio"] == "16:9" and gen.width > gen.height
