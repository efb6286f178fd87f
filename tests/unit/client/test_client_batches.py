"""``client.batches`` against a mock server: what create sends (local pictures uploaded
once each, options, the Idempotency-Key), what get/list/cancel make of the answers, the
manifest read line by line, the zip streamed to disk, and wait's polling."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.inprocess_app import png

from editserve.client import AsyncClient, Batch, BatchResult, Client, InvalidRequestError


def view(batch_id: str = "batch_1", status: str = "running", **counts: int) -> dict[str, Any]:
    full = {"total": 3, "queued": 3, "processing": 0, "succeeded": 0, "failed": 0,
            "cancelled": 0, **counts}  # fmt: skip
    ended = full["succeeded"] + full["failed"] + full["cancelled"]
    return {
        "id": batch_id, "object": "batch", "status": status, "counts": full,
        "progress": round(ended / full["total"], 4), "priority": -10, "created_at": 1765000000,
        "finished_at": None, "cancel_requested": False, "metadata": {"shoot": 7},
        "results_url": f"/api/ai/batches/{batch_id}/results",
        "zip_url": f"/api/ai/batches/{batch_id}/zip",
    }  # fmt: skip


class Server:
    """Records requests; answers uploads with a fresh URL and the rest from ``answers``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[tuple[str, str], Any] = {}
        self.uploads = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/ai/uploads":
            self.uploads += 1
            return httpx.Response(201, json={"id": f"upl_{self.uploads}",
                                             "url": f"http://server/u/{self.uploads}"})  # fmt: skip
        answer = self.answers[(request.method, request.url.path)]
        if callable(answer):
            answer = answer(request)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def posted(self) -> dict[str, Any]:
        [post] = [r for r in self.requests if r.url.path == "/api/ai/batches"]
        return json.loads(post.content)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def client(server: Server) -> Client:
    return Client("http://server", "es_test", transport=httpx.MockTransport(server))


def test_create_from_a_template_uploads_each_distinct_picture_once(
    server: Server, client: Client, tmp_path: Path
) -> None:
    server.answers[("POST", "/api/ai/batches")] = httpx.Response(201, json=view())
    path = tmp_path / "a.png"
    path.write_bytes(png())
    batch = client.batches.create(
        template={"model": "m", "prompt": "on white"},
        images=[path, png(), "https://example.com/b.png", str(path)],
        priority=-20, metadata={"shoot": 7}, idempotency_key="run-1",
    )  # fmt: skip
    assert server.uploads == 1  # a path, its bytes and the path again: one picture
    assert server.posted() == {
        "template": {"model": "m", "prompt": "on white"},
        "images": ["http://server/u/1", "http://server/u/1", "https://example.com/b.png",
                   "http://server/u/1"],
        "priority": -20, "metadata": {"shoot": 7},
    }  # fmt: skip
    assert server.requests[-1].headers["Idempotency-Key"] == "run-1"
    assert isinstance(batch, Batch) and batch.id == "batch_1" and not batch.done
    assert batch.counts.total == 3 and batch.counts.ended == 0 and batch.metadata == {"shoot": 7}


def test_create_from_requests_resolves_inputs_and_masks(server: Server, client: Client) -> None:
    server.answers[("POST", "/api/ai/batches")] = httpx.Response(201, json=view())
    requests = [
        {"custom_id": "a", "model": "m", "prompt": "x", "input_image": png()},
        {"custom_id": "b", "model": "m", "prompt": "y", "input_image": [png(), png((1, 1, 1))],
         "mask": png((9, 9, 9))},
        {"model": "g", "prompt": "no pictures"},
    ]  # fmt: skip
    client.batches.create(requests, webhook="https://hooks.example/b")
    body = server.posted()
    assert server.uploads == 3
    assert body["requests"][0]["input_image"] == ["http://server/u/1"]
    assert body["requests"][1]["input_image"] == ["http://server/u/1", "http://server/u/2"]
    assert body["requests"][1]["mask"] == "http://server/u/3"
    assert body["requests"][2] == {"model": "g", "prompt": "no pictures"}
    assert body["webhook"] == "https://hooks.example/b" and "priority" not in body
    assert server.requests[-1].headers["Idempotency-Key"].startswith("es-client-")


def test_create_needs_requests_or_a_template_with_images(client: Client) -> None:
    with pytest.raises(TypeError):
        client.batches.create()
    with pytest.raises(TypeError):
        client.batches.create([{"prompt": "x"}], template={"prompt": "x"}, images=[png()])
    with pytest.raises(TypeError):
        client.batches.create(template={"prompt": "x"}, images=[])


def test_a_refused_batch_raises_naming_the_item(server: Server, client: Client) -> None:
    error = {"error": {"type": "invalid_params", "title": "Invalid parameters",
                       "detail": "requests[1].prompt: must not be empty"}}  # fmt: skip
    server.answers[("POST", "/api/ai/batches")] = httpx.Response(400, json=error)
    with pytest.raises(InvalidRequestError, match=r"requests\[1\]\.prompt"):
        client.batches.create([{"prompt": "a"}, {"prompt": ""}])


def test_get_list_and_cancel(server: Server, client: Client) -> None:
    done = view(status="completed", queued=0, succeeded=2, failed=1)
    done["finished_at"] = 1765000100
    server.answers[("GET", "/api/ai/batches/batch_1")] = done
    server.answers[("GET", "/api/ai/batches")] = {
        "object": "list", "data": [view("batch_2"), done], "next_before": "batch_1"}  # fmt: skip
    server.answers[("DELETE", "/api/ai/batches/batch_2")] = view("batch_2", queued=0, cancelled=3)
    batch = client.batches.get("batch_1")
    assert batch.done and batch.status == "completed" and batch.progress == 1.0
    assert batch.counts.ended == 3 and batch.finished_at == 1765000100
    page = client.batches.list(limit=2, before="batch_9")
    assert dict(server.requests[-1].url.params) == {"limit": "2", "before": "batch_9"}
    assert [b.id for b in page] == ["batch_2", "batch_1"] and page.next_before == "batch_1"
    cancelled = client.batches.cancel(page.batches[0])
    assert cancelled.counts.cancelled == 3 and cancelled.raw["id"] == "batch_2"


def test_results_are_typed_lines(server: Server, client: Client) -> None:
    lines = [
        {"index": 0, "custom_id": "a", "generation_id": "g0", "status": "succeeded",
         "result_url": "http://server/files/g0.png", "error": None},
        {"index": 1, "custom_id": None, "generation_id": "g1", "status": "failed",
         "result_url": None, "error": "out of memory"},
    ]  # fmt: skip
    text = "".join(json.dumps(line) + "\n" for line in lines) + "\n"
    server.answers[("GET", "/api/ai/batches/batch_1/results")] = httpx.Response(
        200, content=text.encode(), headers={"content-type": "application/jsonl"}
    )
    results = list(client.batches.results("batch_1"))
    assert all(isinstance(r, BatchResult) for r in results)
    assert [(r.index, r.custom_id, r.succeeded) for r in results] == [
        (0, "a", True),
        (1, None, False),
    ]
    assert results[1].error == "out of memory" and str(results[0].result_url).endswith("g0.png")


def test_download_zip_streams_to_a_file_or_into_a_folder(
    server: Server, client: Client, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("00000-a.png", png())
        archive.writestr("manifest.jsonl", "{}\n")
    server.answers[("GET", "/api/ai/batches/batch_1/zip")] = httpx.Response(
        200, content=buffer.getvalue()
    )
    path = client.batches.download_zip("batch_1", tmp_path)
    assert path == tmp_path / "batch_1.zip"
    assert zipfile.ZipFile(path).namelist() == ["00000-a.png", "manifest.jsonl"]
    named = client.batches.download_zip("batch_1", tmp_path / "sub" / "x.zip")
    assert named.read_bytes() == buffer.getvalue() and not list(tmp_path.glob("**/*.part"))
    server.answers[("GET", "/api/ai/batches/nope/zip")] = httpx.Response(
        404, json={"error": {"type": "not_found", "detail": "Batch not found: nope"}}
    )
    with pytest.raises(Exception, match="Batch not found"):
        client.batches.download_zip("nope", tmp_path / "nope.zip")
    assert not (tmp_path / "nope.zip").exists()


def test_wait_polls_until_every_item_ended(server: Server, client: Client) -> None:
    answers = iter([view(), view(queued=1, processing=1, succeeded=1),
                    view(status="completed", queued=0, succeeded=3)])  # fmt: skip
    server.answers[("GET", "/api/ai/batches/batch_1")] = lambda _: next(answers)
    seen: list[int] = []
    final = client.batches.wait("batch_1", on_progress=lambda b: seen.append(b.counts.ended),
                                poll=0.01)  # fmt: skip
    assert final.done and seen == [0, 1, 3]


def test_wait_gives_up_after_its_timeout(server: Server, client: Client) -> None:
    server.answers[("GET", "/api/ai/batches/batch_1")] = view()
    with pytest.raises(TimeoutError, match="still running"):
        client.batches.wait("batch_1", poll=0.01, timeout=0.05)


def test_the_async_client_has_the_same_namespace(server: Server) -> None:
    server.answers[("POST", "/api/ai/batches")] = httpx.Response(201, json=view())
    server.answers[("GET", "/api/ai/batches/batch_1")] = view(status="completed", succeeded=3)
    server.answers[("GET", "/api/ai/batches/batch_1/results")] = httpx.Response(
        200, content=b'{"index": 0, "generation_id": "g0", "status": "succeeded"}\n'
    )

    async def main() -> tuple[Batch, Batch, list[BatchResult]]:
        transport = httpx.MockTransport(server)
        async with AsyncClient("http://server", "es_test", transport=transport) as client:
            batch = await client.batches.create(template={"prompt": "x"}, images=[png()])
            final = await client.batches.wait(batch, poll=0.01)
            return batch, final, [r async for r in client.batches.results(batch)]

    batch, final, results = asyncio.run(main())
    assert batch.id == "batch_1" and final.done and results[0].generation_id == "g0"
    assert server.uploads == 1
