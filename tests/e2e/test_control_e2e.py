"""Control maps through a real `editserve serve` process and its worker on the tiny model
(and the tiny annotator twins, which the worker builds, once, beside the tiny model): a pose map
made alone (POST /api/ai/images/control-map) then used as a ready map, a depth-guided sync
edit, a canny edit from the Python client and from the CLI; each generation shows the map
it used; too many pictures is a 400 naming control with nothing enqueued."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.support import LiveServer, start_server, stop_server
from PIL import Image, ImageDraw

pytestmark = pytest.mark.slow

SIZE = (64, 48)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Any) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("control-server"))
    try:
        yield live
    finally:
        stop_server(live.process)


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def photo(colour: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    image = Image.new("RGB", SIZE, colour)
    ImageDraw.Draw(image).ellipse((16, 8, 48, 40), fill=(250, 250, 250))
    return encode(image)


def edit(client: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"model": "qwen-image-edit-plus", "prompt": "p", "input_image": [uri(photo())]}
    return client.post("/api/ai/images/edit", json={**body, "num_inference_steps": 2, **fields})


def shown_map(client: httpx.Client, generation_id: str) -> bytes:
    view = client.get(f"/api/ai/queue/{generation_id}").json()
    assert view["status"] == "succeeded" and view["control_map_url"], view
    return httpx.get(view["control_map_url"]).content


def test_a_pose_map_made_alone_then_used_as_a_ready_map(server: LiveServer) -> None:
    with server.client() as client:
        made = client.post(
            "/api/ai/images/control-map",
            json={"type": "pose", "image": uri(photo((30, 30, 200))), "max_people": 1},
        )
        assert made.status_code == 200, made.text
        answer = made.json()
        assert (answer["width"], answer["height"]) == SIZE and answer["cached"] is False
        map_bytes = httpx.get(answer["url"]).content
        assert Image.open(io.BytesIO(map_bytes)).size == SIZE
        again = client.post(
            "/api/ai/images/control-map",
            json={"type": "pose", "image": uri(photo((30, 30, 200))), "max_people": 1},
        )
        assert again.json()["cached"] is True and again.json()["url"] == answer["url"]
        control = {"type": "pose", "image": answer["url"], "preprocess": False}
        response = edit(client, prompt="Picture 1 in the pose of Picture 2", control=control)
        assert response.status_code == 200, response.text
        assert shown_map(client, response.json()["generation_id"]) == map_bytes


def test_a_depth_guided_edit_shows_its_map(server: LiveServer) -> None:
    with server.client() as client:
        response = edit(client, control={"type": "depth", "image": uri(photo((0, 90, 0)))})
        assert response.status_code == 200, response.text
        depth = Image.open(io.BytesIO(shown_map(client, response.json()["generation_id"])))
        assert depth.size == SIZE


def test_a_canny_edit_from_the_client_and_the_cli(server: LiveServer, tmp_path: Path) -> None:
    from editserve import Client

    source = tmp_path / "edges.png"
    source.write_bytes(photo((90, 90, 90)))
    with Client(server.base_url, server.api_key) as client:
        result = client.images.edit(
            prompt="p",
            input_image=Image.open(io.BytesIO(photo())),
            control={"type": "canny", "image": source, "low_threshold": 40},
            num_inference_steps=2,
        )
        assert result.images[0].read_bytes()
    picture, out = tmp_path / "photo.png", tmp_path / "out.png"
    picture.write_bytes(photo())
    env = {**os.environ, "EDITSERVE_URL": server.base_url, "EDITSERVE_API_KEY": server.api_key}
    command = [str(Path(sys.executable).parent / "editserve"), "edit", str(picture), "-p", "p"]
    command += ["--control", f"canny:{source}", "--steps", "2", "-o", str(out), "-q"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size[0] > 0


def test_too_many_pictures_is_a_400_and_nothing_is_enqueued(server: LiveServer) -> None:
    with server.client() as client:
        before = client.get("/api/ai/generations").json()["total_entries"]
        three = [uri(photo()), uri(photo((1, 2, 3))), uri(photo((4, 5, 6)))]
        response = edit(client, input_image=three, control={"type": "gray", "image": three[0]})
        assert response.status_code == 400
        assert response.json()["error"]["detail"].startswith(
            "control: the map would be Picture 4; at most 3 pictures"
        )
        assert client.get("/api/ai/generations").json()["total_entries"] == before
