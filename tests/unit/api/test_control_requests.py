"""The ``control`` request field at the API: the served schema documents it; a good one is
fetched, checked and stored after the pictures (before a mask); a bad one is a 400 naming
``control``, ``control.image`` or the option, with nothing stored or enqueued; the map
counts in the picture budget (Picture N = len(input_image) + 1); models without it refuse
the field. POST /api/ai/images/control-map checks its body the same way and answers a map
stored already without a worker."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from fixtures.inprocess_app import App
from PIL import Image

from editserve.models.annotators.cache_key import map_key

SIZE = (40, 30)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


PICTURE = encode(Image.new("RGB", SIZE, (200, 40, 40)))
POSE_PHOTO = encode(Image.new("RGB", (24, 36), (10, 200, 10)))


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


def generations(app: App) -> int:
    owner = app.services.store.list_keys()[0].id
    return app.services.store.list_generations(owner)[1]


def enqueue(client: TestClient, **fields: Any) -> httpx.Response:
    body = {"model": "qwen-image-edit-plus", "prompt": "a hat", "input_image": [data_uri(PICTURE)]}
    return client.post("/api/ai/queue", json={**body, **fields})


def test_the_schema_documents_control_after_the_mask(client: TestClient) -> None:
    for model in ("qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image-edit"):
        schema = client.get(f"/api/ai/models/{model}").json()["json_request_schema"]
        control = schema["properties"]["control"]
        assert control["x-order"] == 15 > schema["properties"]["mask_feather"]["x-order"]
        assert "Picture N" in control["description"]
        options = control["properties"]
        assert options["type"]["enum"] == ["canny", "lineart", "scribble", "gray", "depth", "pose"]
        preprocess = options["preprocess"]
        assert preprocess == {**preprocess, "type": "boolean", "default": True}
        assert options["low_threshold"]["maximum"] == 255
        assert "canny only" in options["low_threshold"]["description"]
        assert control["required"] == ["type", "image"]


def test_a_control_picture_is_stored_after_the_pictures_and_before_the_mask(
    app: App, client: TestClient
) -> None:
    mask = Image.new("L", SIZE, 0)
    mask.paste(255, (5, 5, 20, 20))
    control = {"type": "pose", "image": data_uri(POSE_PHOTO), "max_people": 2}
    response = enqueue(client, control=control, mask=data_uri(encode(mask)))
    assert response.status_code == 200, response.text
    [queued] = response.json()["generations"]
    gen = app.services.store.get_generation(queued["generation_id"], None)
    assert gen is not None and len(gen.inputs) == 3
    assert (gen.inputs[1]["width"], gen.inputs[1]["height"]) == (24, 36)  # the control picture
    assert gen.params["control"] == {
        "type": "pose",
        "image": "data:",
        "preprocess": True,
        "max_people": 2,
    }
    view = client.get(f"/api/ai/queue/{gen.id}").json()
    assert view["control"]["type"] == "pose" and "control_map_url" not in view


def test_auto_aspect_follows_the_last_input_image_not_the_control_picture(
    app: App, client: TestClient
) -> None:
    wide = encode(Image.new("RGB", (64, 32)))
    control = {"type": "canny", "image": data_uri(encode(Image.new("RGB", (32, 64))))}
    response = enqueue(client, input_image=[data_uri(wide)], aspect_ratio="auto", control=control)
    assert response.status_code == 200, response.text
    gen = app.services.store.get_generation(response.json()["generations"][0]["generation_id"])
    assert gen is not None and gen.width > gen.height


@pytest.mark.parametrize(
    ("control", "rule"),
    [
        ({"type": "sobel", "image": data_uri(PICTURE)}, "control.type: Input should be 'canny'"),
        ({"type": "canny"}, "control.image: required field is missing"),
        ({"type": "canny", "image": "file:///etc/passwd"}, "control.image: must be an http(s)"),
        ({"type": "canny", "image": data_uri(b"GIF89a nope")}, "control.image: "),
        (
            {"type": "canny", "image": data_uri(PICTURE), "low_threshold": 300},
            "control.low_threshold: Input should be less than or equal to 255",
        ),
        (
            {"type": "canny", "image": data_uri(PICTURE), "low_threshold": 90, "high_threshold": 9},
            "control: low_threshold (90) must not exceed high_threshold (9)",
        ),
        (
            {"type": "canny", "image": data_uri(PICTURE), "thickness": 3},
            "control: thickness is not an option of canny",
        ),
        ({"type": "gray", "image": data_uri(PICTURE), "colour": 1}, "control.colour: unknown"),
        ({"type": "gray", "image": data_uri(PICTURE), "preprocess": "y"}, "control.preprocess:"),
    ],
    ids=[
        "type",
        "no-image",
        "scheme",
        "not-an-image",
        "range",
        "order",
        "other-types-option",
        "unknown",
        "preprocess",
    ],
)
def test_bad_controls_are_400s_naming_the_field_and_nothing_is_stored(
    app: App, client: TestClient, control: dict[str, Any], rule: str
) -> None:
    response = enqueue(client, control=control)
    assert response.status_code == 400, response.text
    assert rule in response.json()["error"]["detail"]
    assert stored_keys(app) == [] and generations(app) == 0


def test_the_map_counts_in_the_picture_budget(app: App, client: TestClient) -> None:
    control = {"type": "canny", "image": data_uri(PICTURE)}
    three = [data_uri(PICTURE), data_uri(POSE_PHOTO), data_uri(encode(Image.new("RGB", (9, 9))))]
    response = enqueue(client, input_image=three, control=control)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["detail"] == (
        "control: the map would be Picture 4; at most 3 pictures (2 input_image + the map)"
    )
    v1 = enqueue(client, model="qwen-image-edit", control=control)
    assert v1.status_code == 400 and "control: the map would be Picture 2" in v1.text
    assert stored_keys(app) == [] and generations(app) == 0
    two = enqueue(client, input_image=three[:2], control=control)  # the map is Picture 3
    assert two.status_code == 200, two.text


def test_models_without_control_refuse_the_field_by_name(client: TestClient) -> None:
    control = {"type": "canny", "image": data_uri(PICTURE)}
    generate = client.post(
        "/api/ai/images/generate", json={"model": "qwen-image", "prompt": "a", "control": control}
    )
    assert generate.status_code == 400 and "control: unknown field" in generate.text
    layered = enqueue(client, model="qwen-image-layered", control=control)
    assert layered.status_code == 400 and "control: unknown field" in layered.text


def test_an_empty_control_field_is_no_control(app: App, client: TestClient) -> None:
    response = enqueue(client, control="")
    assert response.status_code == 200, response.text
    gen = app.services.store.get_generation(response.json()["generations"][0]["generation_id"])
    assert gen is not None and len(gen.inputs) == 1 and gen.params["control"] is None


# --- POST /api/ai/images/control-map ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"image": data_uri(PICTURE)}, "type: required field is missing"),
        ({"type": "sobel", "image": data_uri(PICTURE)}, "type: Input tag 'sobel'"),
        ({"type": "canny"}, "image: required"),
        ({"type": "canny", "image": "ftp://x/y.png"}, "image: must be an http(s) URL"),
        ({"type": "canny", "image": data_uri(b"nope")}, "image: "),
        ({"type": "canny", "image": data_uri(PICTURE), "low_threshold": -1}, "low_threshold: "),
        ({"type": "gray", "image": data_uri(PICTURE), "thickness": 2}, "thickness: unknown"),
        ({"type": "lineart", "image": data_uri(PICTURE), "block_size": 4}, "block_size must be"),
    ],
    ids=["no-type", "type", "no-image", "scheme", "not-an-image", "range", "unknown", "rule"],
)
def test_control_map_bodies_are_checked(
    app: App, client: TestClient, body: dict[str, Any], rule: str
) -> None:
    response = client.post("/api/ai/images/control-map", json=body)
    assert response.status_code == 400, response.text
    assert rule in response.json()["error"]["detail"]
    assert stored_keys(app) == [] and generations(app) == 0


def test_control_map_needs_a_key(app: App) -> None:
    with TestClient(app.app) as anonymous:
        response = anonymous.post(
            "/api/ai/images/control-map", json={"type": "gray", "image": data_uri(PICTURE)}
        )
    assert response.status_code == 401


def test_a_stored_map_is_answered_at_once_without_a_job(app: App, client: TestClient) -> None:
    import hashlib

    storage = app.services.storage
    key = map_key(hashlib.sha256(PICTURE).hexdigest(), "canny", {"low_threshold": 50})
    storage.put(key, encode(Image.new("RGB", SIZE)), "image/png")
    body = {"type": "canny", "image": data_uri(PICTURE), "low_threshold": 50}
    response = client.post("/api/ai/images/control-map", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (
        answer["cached"] is True
        and "generation_id" not in answer
        or not answer.get("generation_id")
    )
    assert (answer["type"], answer["width"], answer["height"]) == ("canny", *SIZE)
    assert answer["options"] == {"low_threshold": 50, "high_threshold": 200}
    assert f"/files/{key}" in answer["url"]
    assert client.get(answer["url"]).content == storage.get(key)
    assert generations(app) == 0


def test_an_unknown_control_type_names_the_choices(client: TestClient, app: App) -> None:
    answer = enqueue(client, control={"type": "sobel", "image": data_uri(PICTURE)})
    assert answer.status_code == 400
    detail = answer.json()["error"]["detail"]
    assert detail.startswith("control.type: ") and "'canny'" in detail and "'pose'" in detail
    assert generations(app) == 0
    # the control-map endpoint's tagged options say the same in our words
    from pydantic import ValidationError

    from editserve.models.annotators.options import parse_options
    from editserve.services.generations.requests import describe_validation_error

    with pytest.raises(ValidationError) as refused:
        parse_options({"type": "sobel"})
    worded = describe_validation_error(refused.value)
    assert worded.startswith("must be one of 'canny', 'lineart'") or ": must be one of" in worded
    assert "(got 'sobel')" in worded and "Input tag" not in worded
