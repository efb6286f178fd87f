"""The hosted API's calls against a real `editserve serve` process on tiny weights."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fixtures.e2e import edit_body, read_sse, wait_for, wait_for_status
from fixtures.support import LiveServer, make_png
from PIL import Image

pytestmark = pytest.mark.slow


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# --- health, auth, models -------------------------------------------------------------------


def test_health_and_readiness_report_tiny_weights(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_server.base_url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert "tiny random-weight" in body["warning"]
    model = body["models"]["qwen-image-edit-plus"]
    assert model["weights"]["is_tiny"] is True
    assert model["weights"]["device"] == "cpu"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing header"),
        ({"Authorization": "Bearer es_wrong"}, "invalid or revoked"),
        ({"Authorization": "Basic abc"}, "must be 'Bearer <key>'"),
    ],
)
def test_requests_without_a_valid_key_get_401_envelope(
    live_server: LiveServer, headers: dict[str, str], detail: str
) -> None:
    response = httpx.get(f"{live_server.base_url}/api/ai/queue", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["status_message"] == "unauthenticated"
    assert body["error"]["type"] == "unauthenticated"
    assert detail in body["error"]["detail"]


def test_models_list_and_card(live_server: LiveServer) -> None:
    with live_server.client() as client:
        listing = client.get("/api/ai/models").json()
        assert listing["object"] == "list"
        [card] = [m for m in listing["data"] if m["id"] == "qwen-image-edit-plus"]
        one = client.get("/api/ai/models/qwen-image-edit-plus").json()
        alias = client.get("/api/ai/models/Qwen/Qwen-Image-Edit-2509").json()
        missing = client.get("/api/ai/models/no-such-model")
    assert one["id"] == alias["id"] == card["id"] == "qwen-image-edit-plus"
    assert one["display_name"] == "Qwen Image Edit - 2509"
    assert one["object"] == "model"
    assert one["model_type"] == "base"
    assert one["endpoint"] == "/images/edit"
    assert one["capabilities"] == {"input": ["text", "image"], "output": ["image"]}
    assert one["developer"] == {"name": "Qwen", "logo": None}
    assert one["parameter_count"] == 20_000_000_000
    assert one["json_request_schema"] == one["request_schema"]
    schema = one["json_request_schema"]
    assert schema["required"] == ["prompt", "input_image"]
    props = schema["properties"]
    assert props["aspect_ratio"]["default"] == "1:1"
    assert set(props["output_format"]["enum"]) == {"webp", "jpg", "png"}
    assert props["input_image"]["items"]["renderType"] == "image-url"
    assert props["input_image"]["maxItems"] == 3
    assert props["num_inference_steps"]["maximum"] == 100
    assert [props[name]["x-order"] for name in ("prompt", "input_image")] == [0, 1]
    assert "prompt" in schema["basic"]
    assert one["weights"]["is_tiny"] is True
    assert "warning" in one
    assert missing.status_code == 404
    assert missing.json()["error"]["detail"] == "Model not found: no-such-model"


# --- sync edit ----------------------------------------------------------------------------


def test_sync_edit_url_and_b64(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.post("/api/ai/images/edit", json=edit_body(data_uri(make_png())))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == "qwen-image-edit-plus"
        assert isinstance(body["created"], int)
        [image] = body["images"]
        # the signed URL works without the Bearer header
        fetched = httpx.get(image["url"])
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(fetched.content)).size == (64, 64)

        b64 = client.post(
            "/api/ai/images/edit",
            json=edit_body(data_uri(make_png()), response_format="b64_json", output_format="jpg"),
        ).json()
        decoded = Image.open(io.BytesIO(base64.b64decode(b64["images"][0]["b64_json"])))
        assert decoded.format == "JPEG"


def test_signed_urls_refuse_tampering(live_server: LiveServer) -> None:
    with live_server.client() as client:
        body = client.post("/api/ai/images/edit", json=edit_body(data_uri(make_png()))).json()
    url = body["images"][0]["url"]
    tampered = url.replace("signature=", "signature=0")
    assert httpx.get(tampered).status_code == 401
    # A lasting link's signature does not make an expiring link (the older form).
    assert httpx.get(url + "&expires=9999999999").status_code == 401


# --- queue --------------------------------------------------------------------------------


def test_queue_enqueue_poll_list_history(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.post(
            "/api/ai/queue",
            json=edit_body(data_uri(make_png()), num_generations=2, seed=7, aspect_ratio="16:9"),
        )
        assert response.status_code == 200, response.text
        gens = response.json()["generations"]
        assert len(gens) == 2
        assert all(g["status"] == "queued" for g in gens)
        results = [wait_for(client, g["generation_id"]) for g in gens]
        for result in results:
            assert result["status"] == "succeeded", result
            assert result["model_name"] == "qwen-image-edit-plus"
            assert result["media_type"] == "image"
            assert result["prompt"] == "Add a funny hat"
            assert result["aspect_ratio"] == "16:9"
            assert result["result_url"].startswith(live_server.base_url)
            assert result["error_message"] is None
            assert result["enqueued_at"] <= result["started_at"] <= result["completed_at"]
            assert (result["width"], result["height"]) == (96, 64)
            assert result["progress"] == {"step": 2, "total": 2}
        assert sorted(r["seed"] for r in results) == [7, 8]
        image = Image.open(io.BytesIO(httpx.get(results[0]["result_url"]).content))
        assert image.size == (96, 64)

        ids = {g["generation_id"] for g in gens}
        active = client.get("/api/ai/queue").json()
        assert not ids & {g["generation_id"] for g in active["generations"]}
        done = client.get("/api/ai/queue", params={"status": "succeeded"}).json()
        assert ids <= {g["generation_id"] for g in done["generations"]}
        assert done["count"] == len(done["generations"])

        page = client.get("/api/ai/generations", params={"page": 1, "page_size": 1}).json()
        assert page["page_number"] == 1 and page["page_size"] == 1
        assert page["total_entries"] >= 2 and page["total_pages"] == page["total_entries"]
        assert len(page["generations"]) == 1
        one = client.get(f"/api/ai/generations/{gens[0]['generation_id']}").json()
        assert one["status"] == "success"
        assert one["status_message"] == "resource_found"
        assert one["generation"]["generation_id"] == gens[0]["generation_id"]


def test_same_seed_gives_the_same_image(live_server: LiveServer) -> None:
    png = data_uri(make_png())
    with live_server.client() as client:
        first = client.post("/api/ai/images/edit", json=edit_body(png, seed=11)).json()
        second = client.post("/api/ai/images/edit", json=edit_body(png, seed=11)).json()
        other = client.post("/api/ai/images/edit", json=edit_body(png, seed=12)).json()
    pixels = [httpx.get(b["images"][0]["url"]).content for b in (first, second, other)]
    decoded = [Image.open(io.BytesIO(p)).tobytes() for p in pixels]
    assert decoded[0] == decoded[1]
    assert decoded[0] != decoded[2]


def test_idempotency_key(live_server: LiveServer) -> None:
    body = edit_body(data_uri(make_png()))
    with live_server.client() as client:
        first = client.post("/api/ai/queue", json=body, headers={"Idempotency-Key": "abc-1"})
        again = client.post("/api/ai/queue", json=body, headers={"Idempotency-Key": "abc-1"})
        other = client.post(
            "/api/ai/queue", json={**body, "prompt": "else"}, headers={"Idempotency-Key": "abc-1"}
        )
    assert first.json() == again.json() or (
        [g["generation_id"] for g in first.json()["generations"]]
        == [g["generation_id"] for g in again.json()["generations"]]
    )
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["error"]["detail"]


def test_another_keys_generation_is_not_found(live_server: LiveServer) -> None:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "editserve",
            "keys",
            "create",
            "--name",
            "other",
            "--data-dir",
            str(live_server.data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    other_key = created.stdout.strip()
    with live_server.client() as client:
        gen_id = client.post("/api/ai/queue", json=edit_body(data_uri(make_png()))).json()[
            "generations"
        ][0]["generation_id"]
    other = {"Authorization": f"Bearer {other_key}"}
    response = httpx.get(f"{live_server.base_url}/api/ai/queue/{gen_id}", headers=other)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "resource_not_found"
    assert (
        httpx.delete(f"{live_server.base_url}/api/ai/queue/{gen_id}", headers=other).status_code
        == 404
    )
    history = httpx.get(f"{live_server.base_url}/api/ai/generations", headers=other).json()
    assert history["total_entries"] == 0

    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "editserve",
            "keys",
            "list",
            "--data-dir",
            str(live_server.data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "other" in listed and other_key not in listed
    subprocess.run(
        [
            sys.executable,
            "-m",
            "editserve",
            "keys",
            "revoke",
            other_key[:12],
            "--data-dir",
            str(live_server.data_dir),
        ],
        check=True,
        capture_output=True,
    )
    assert httpx.get(f"{live_server.base_url}/api/ai/queue", headers=other).status_code == 401


# --- events -------------------------------------------------------------------------------


def test_sse_wire_format_and_replay(live_server: LiveServer) -> None:
    with live_server.client() as client, client.stream("GET", "/api/events") as stream:
        assert stream.headers["content-type"] == "text/event-stream"
        gen_id = client.post("/api/ai/queue", json=edit_body(data_uri(make_png()))).json()[
            "generations"
        ][0]["generation_id"]

        def completed(frames: list[dict]) -> bool:
            return any(
                f.get("event") == "media_generation_completed"
                and f["data"]["generation_id"] == gen_id
                for f in frames
            )

        frames = read_sse(stream, completed)
    mine = [f for f in frames if f.get("data", {}).get("generation_id") == gen_id]
    kinds = [f["event"] for f in mine]
    assert kinds[0] == "media_generation_started"
    assert "media_generation_progress" in kinds
    assert kinds[-1] == "media_generation_completed"
    progress = [f["data"] for f in mine if f["event"] == "media_generation_progress"]
    assert progress[-1]["step"] == progress[-1]["total"] == 2
    last = mine[-1]
    # byte-exact framing: id, event, data lines then a blank line; compact JSON in order
    assert last["raw"] == [
        f"id: {last['id']}",
        "event: media_generation_completed",
        f"data: {last['data_raw']}",
        "",
    ]
    assert last["data_raw"].startswith(
        f'{{"generation_id":"{gen_id}","status":"succeeded","media_type":"image",'
        f'"model":"qwen-image-edit-plus","url":"'
    )
    assert " " not in last["data_raw"]
    assert httpx.get(last["data"]["url"]).status_code == 200
    ids = [f["id"] for f in mine]
    assert ids == sorted(ids)

    # replay: reconnecting with Last-Event-ID delivers what came after it
    with (
        live_server.client() as client,
        client.stream(
            "GET", "/api/events", headers={"Last-Event-ID": str(mine[0]["id"])}
        ) as replay,
    ):
        again = read_sse(replay, lambda fs: any(f.get("id") == last["id"] for f in fs), timeout=10)
    assert [f["id"] for f in again if f.get("data", {}).get("generation_id") == gen_id] == ids[1:]


# --- cancel -------------------------------------------------------------------------------


def test_cancel_queued_and_terminal_and_unknown(live_server: LiveServer) -> None:
    with live_server.client() as client:
        # a long job holds the worker, so the next one stays queued
        blocker = client.post(
            "/api/ai/queue", json=edit_body(data_uri(make_png()), num_inference_steps=100)
        ).json()["generations"][0]["generation_id"]
        wait_for_status(client, blocker, {"processing"})
        queued = client.post("/api/ai/queue", json=edit_body(data_uri(make_png()))).json()[
            "generations"
        ][0]["generation_id"]
        cancelled = client.delete(f"/api/ai/queue/{queued}")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "success"
        assert cancelled.json()["generation_id"] == queued
        assert cancelled.json()["generation_status"] == "cancelled"  # at once: it was queued
        assert client.get(f"/api/ai/queue/{queued}").json()["status"] == "cancelled"
        client.delete(f"/api/ai/queue/{blocker}")
        assert wait_for(client, blocker)["status"] == "cancelled"
        again = client.delete(f"/api/ai/queue/{queued}")
        assert again.status_code == 200 and again.json()["generation_status"] == "cancelled"
        unknown = client.delete("/api/ai/queue/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["type"] == "resource_not_found"


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"prompt": "   "}, "prompt", "empty"),
        ({"prompt": None}, "prompt", "string"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio", "'1:1'"),
        ({"output_format": "gif"}, "output_format", "'png'"),
        ({"seed": 2**32}, "seed", "less than"),
        ({"seed": -1}, "seed", "greater than or equal"),
        ({"num_inference_steps": 0}, "num_inference_steps", "greater than or equal to 1"),
        ({"true_cfg_scale": 30}, "true_cfg_scale", "less than or equal to 20"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"input_image": []}, "input_image", "at least 1"),
        ({"input_image": ["ftp://x/y.png"]}, "input_image", "http(s) URL"),
        ({"num_generations": 5}, "num_generations", "less than or equal to 4"),
    ],
)
def test_invalid_params_name_the_field_and_rule(
    live_server: LiveServer, change: dict, field: str, rule: str
) -> None:
    body = edit_body(data_uri(make_png()))
    body.update(change)
    if change.get("prompt") is None and "prompt" in change:
        del body["prompt"]
        rule = "required"
    with live_server.client() as client:
        response = client.post("/api/ai/queue", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["status_message"] == "invalid_params"
    assert field in error["error"]["detail"]
    assert rule in error["error"]["detail"]


def test_an_unknown_model_is_404_as_the_hosted_api_answers(live_server: LiveServer) -> None:
    body = edit_body(data_uri(make_png()), model="nope")
    with live_server.client() as client:
        queued = client.post("/api/ai/queue", json=body)
        edited = client.post("/api/ai/images/edit", json=body)
    for response in (queued, edited):
        assert response.status_code == 404, response.text
        error = response.json()
        assert error["status_message"] == "resource_not_found"
        assert error["error"]["detail"] == "Model not found: nope"


def test_too_many_images_and_bad_image_data(live_server: LiveServer) -> None:
    png = data_uri(make_png())
    with live_server.client() as client:
        four = client.post("/api/ai/queue", json=edit_body([png] * 4))
        broken = client.post("/api/ai/queue", json=edit_body([png, "data:image/png;base64,AAAA"]))
    assert four.status_code == 400 and "input_image" in four.json()["error"]["detail"]
    assert broken.status_code == 400
    assert "input_image[1]" in broken.json()["error"]["detail"]
    with live_server.client() as client:
        sliver = client.post("/api/ai/queue", json=edit_body([png, data_uri(make_png(600, 2))]))
    assert sliver.status_code == 400
    detail = sliver.json()["error"]["detail"]
    assert "input_image[1]" in detail and "too elongated" in detail


def test_http_level_errors_use_the_envelope(live_server: LiveServer) -> None:
    with live_server.client() as client:
        missing = client.get("/api/nope")
        wrong_method = client.put("/api/ai/queue")
        malformed = client.post(
            "/api/ai/queue", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        not_object = client.post("/api/ai/queue", json=[1, 2])
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "resource_not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "method_not_allowed"
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]["detail"]
    assert not_object.status_code == 400 and "JSON object" in not_object.json()["error"]["detail"]


def test_openapi_document(live_server: LiveServer) -> None:
    doc = httpx.get(f"{live_server.base_url}/openapi.json").json()
    assert "/api/ai/queue" in doc["paths"]
    assert "/api/ai/images/edit" in doc["paths"]
    body = doc["paths"]["/api/ai/queue"]["post"]["requestBody"]["content"]["application/json"]
    assert "prompt" in body["schema"]["properties"]


# --- inputs -------------------------------------------------------------------------------


class _ImageHandler(BaseHTTPRequestHandler):
    png = make_png(40, 60, (10, 10, 200))

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path == "/cat.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(self.png)))
            self.end_headers()
            self.wfile.write(self.png)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_host() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_inputs_by_url_and_by_upload(live_server: LiveServer, image_host: str) -> None:
    with live_server.client() as client:
        upload = client.post(
            "/api/ai/uploads", files={"file": ("a.png", make_png(30, 30), "image/png")}
        )
        assert upload.status_code == 200, upload.text
        upload_url = upload.json()["url"]
        raw = client.post(
            "/api/ai/uploads", content=make_png(20, 20), headers={"Content-Type": "image/png"}
        )
        assert raw.status_code == 200
        response = client.post(
            "/api/ai/queue",
            json=edit_body(
                [f"{image_host}/cat.png", upload_url, raw.json()["url"]], aspect_ratio="auto"
            ),
        )
        assert response.status_code == 200, response.text
        gen_id = response.json()["generations"][0]["generation_id"]
        result = wait_for(client, gen_id)
        assert result["status"] == "succeeded"
        assert result["input_image"][0] == f"{image_host}/cat.png"
        assert len(result["input_urls"]) == 3
        # `auto` follows the last input image (square)
        assert result["width"] == result["height"]
        missing = client.post("/api/ai/queue", json=edit_body(f"{image_host}/missing.png"))
        assert missing.status_code == 400
        assert "input_image[0]" in missing.json()["error"]["detail"]
        assert "404" in missing.json()["error"]["detail"]
        bad_upload = client.post(
            "/api/ai/uploads", content=b"not an image", headers={"Content-Type": "image/png"}
        )
        assert bad_upload.status_code == 400


def test_metrics(live_server: LiveServer) -> None:
    with live_server.client() as client:
        client.post("/api/ai/images/edit", json=edit_body(data_uri(make_png())))
    text = httpx.get(f"{live_server.base_url}/metrics").text
    assert 'editserve_generations{model="qwen-image-edit-plus",status="succeeded"}' in text
    succeeded = [
        line
        for line in text.splitlines()
        if line.startswith("editserve_generations{") and "succeeded" in line
    ][0]
    assert float(succeeded.rsplit(" ", 1)[1]) >= 1
    assert (
        'editserve_workers{state="ready"} 1.0' in text
        or 'editserve_workers{state="busy"} 1.0' in text
    )


def test_preview_draft_uses_the_preview_area_for_output_and_vae(live_server: LiveServer) -> None:
    with live_server.client() as client:
        full = client.post("/api/ai/images/edit", json=edit_body(data_uri(make_png()))).json()
        draft = client.post(
            "/api/ai/images/edit", json=edit_body(data_uri(make_png()), preview=True)
        ).json()
        record = client.get(f"/api/ai/queue/{draft['generation_id']}").json()
    assert (full["width"], full["height"]) == (64, 64)  # EDITSERVE_OUTPUT_AREA = 64²
    assert "width" in draft, draft
    assert (draft["width"], draft["height"]) == (32, 32)  # EDITSERVE_PREVIEW_AREA = 32²
    image = Image.open(io.BytesIO(httpx.get(draft["images"][0]["url"]).content))
    assert image.size == (32, 32)
    assert record["preview"] is True
    assert record["receipt"]["vae_area"] == 32 * 32
