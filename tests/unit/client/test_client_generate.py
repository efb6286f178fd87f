"""``client.images.generate`` and ``editserve generate`` against a recorded-shape fake of
the generate call: the body carries a prompt and no pictures, the answer's pictures come
back in order with their own generation ids and seeds, and a server's refusal reaches the
caller with its message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import editserve.client.commands as client_commands
from editserve.client import Client, InvalidRequestError
from editserve.commands.main import main

URLS = ["https://files.example/a.png", "https://files.example/b.png"]
PNG = (Path(__file__).resolve().parents[3] / "examples" / "cat.png").read_bytes()


class GenerateFake:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.bodies.append((request.url.path, body))
        if request.url.host == "files.example":
            return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
        if body and body.get("model") == "qwen-image-edit-plus":
            detail = "model: qwen-image-edit-plus edits pictures: call POST /api/ai/images/edit"
            error = {"type": "invalid_params", "title": "Invalid", "detail": detail}
            return httpx.Response(400, json={"error": error, "status": "error"})
        gens = [
            {"generation_id": f"g{i}", "seed": 7 + i, "width": 64, "height": 48}
            for i in range(body.get("num_generations", 1))
        ]
        return httpx.Response(
            200,
            json={
                "model": body["model"],
                "created": 1,
                "images": [{"url": url} for url in URLS[: len(gens)]],
                "image_url": URLS[0],
                "generations": gens,
                "timings": None,
            },
        )


def test_generate_sends_a_prompt_alone_and_reads_every_picture(tmp_path: Path) -> None:
    fake = GenerateFake()
    client = Client("http://server", "es_k", transport=httpx.MockTransport(fake))
    result = client.images.generate(prompt="a red fox", num_generations=2, seed=7)
    path, body = fake.bodies[0]
    assert path == "/api/ai/images/generate"
    assert body == {"model": "qwen-image", "prompt": "a red fox", "seed": 7, "num_generations": 2}
    assert [(i.generation_id, i.seed) for i in result.images] == [("g0", 7), ("g1", 8)]
    assert (result.generation_id, result.width, result.height) == ("g0", 64, 48)
    assert result.save(tmp_path / "fox.png").read_bytes() == PNG


def test_generate_with_an_edit_model_raises_the_servers_advice() -> None:
    client = Client("http://server", "es_k", transport=httpx.MockTransport(GenerateFake()))
    with pytest.raises(InvalidRequestError, match="call POST /api/ai/images/edit"):
        client.images.generate(prompt="a red fox", model="qwen-image-edit-plus")


def test_queue_submit_without_pictures_sends_no_input_image() -> None:
    seen: list[Any] = []

    def queue(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200, json={"generations": [{"generation_id": "q", "status": "queued"}]}
        )

    client = Client("http://server", "es_k", transport=httpx.MockTransport(queue))
    [gen] = client.queue.submit(prompt="a red fox", model="qwen-image")
    assert seen == [{"model": "qwen-image", "prompt": "a red fox"}] and gen.generation_id == "q"


def test_the_generate_command_refuses_half_a_size_before_calling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(client_commands, "client_factory", lambda *a, **k: calls.append("x"))
    done = CliRunner().invoke(main, ["generate", "-p", "a fox", "--width", "512"])
    assert done.exit_code == 2 and "--width and --height together" in done.output
    assert calls == []
