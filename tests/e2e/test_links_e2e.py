"""Links that last, against real `editserve serve` processes on tiny weights: a result URL
works after url_ttl_seconds (local folder, and real S3 through a fresh presigned redirect),
and given back as input_image from plain HTTP it is read from storage, not downloaded:
the servers here refuse to fetch loopback URLs (no fetch allow-list), so only the internal
read can make a chained edit work."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fixtures.e2e import edit_body
from fixtures.s3 import SECRET_KEY, S3Server, presigned_verdict
from fixtures.support import LiveServer, make_png, start_server, stop_server
from PIL import Image

from editserve.client import Client

pytestmark = pytest.mark.slow

# Result links outlive this; the fetch allow-list is empty, so loopback URLs are refused.
LINK_ENV = {"EDITSERVE_URL_TTL_SECONDS": "1", "EDITSERVE_FETCH_ALLOW_HOSTS": ""}


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def sync_edit(server: LiveServer, images: list[str], key: str | None = None) -> httpx.Response:
    """POST /api/ai/images/edit from plain httpx, as curl would."""
    return httpx.post(
        f"{server.base_url}/api/ai/images/edit",
        json=edit_body(images),
        headers={"Authorization": f"Bearer {key or server.api_key}"},
        timeout=180,
    )


def result_url(server: LiveServer) -> str:
    response = sync_edit(server, [data_uri(make_png())])
    assert response.status_code == 200, response.text
    url = str(response.json()["images"][0]["url"])
    query = parse_qs(urlsplit(url).query)
    assert set(query) == {"signature"}, url  # a lasting link: no expiry in it
    return url


def assert_png(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.width > 0


def new_key(data_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "editserve", "keys", "create", "--name", "other",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("links"), **LINK_ENV)
    try:
        yield live
    finally:
        stop_server(live.process)


@pytest.fixture(scope="module")
def s3_node(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path, s3_server: S3Server
) -> Iterator[LiveServer]:
    bucket = s3_server.create_bucket()
    env = {**LINK_ENV, **s3_server.env(), "EDITSERVE_STORAGE_URL": f"s3://{bucket}/links"}
    live = start_server(tmp_path_factory.mktemp("links-s3"), **env)
    try:
        yield live
    finally:
        stop_server(live.process)


def test_a_result_url_chains_into_the_next_edit_on_any_host_name(server: LiveServer) -> None:
    url = result_url(server)
    # The same link through another name of the node (as behind a load balancer): the
    # resolver does not fetch either, so the SSRF guard never sees them.
    other_name = url.replace("127.0.0.1", "localhost")
    chained = sync_edit(server, [url, other_name])
    assert chained.status_code == 200, chained.text
    assert_png(httpx.get(chained.json()["images"][0]["url"]).content)
    # A forged link is not ours: it is any URL, and this loopback one is refused.
    forged = sync_edit(server, [url.replace("signature=", "signature=0")])
    assert forged.status_code == 400, forged.text
    assert forged.json()["error"]["detail"].startswith("input_image[0]: ")


def test_the_cli_and_the_client_chain_a_result_url(server: LiveServer, tmp_path: Path) -> None:
    url = result_url(server)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDITSERVE_", "OXEN_"))}
    env.update(EDITSERVE_URL=server.base_url, EDITSERVE_API_KEY=server.api_key)
    out = tmp_path / "chained.png"
    done = subprocess.run(
        [sys.executable, "-m", "editserve", "edit", url, "-p", "Again", "--steps", "2",
         "-o", str(out), "-q"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_png(out.read_bytes())
    with Client(server.base_url, api_key=server.api_key) as client:
        result = client.images.edit(
            model="qwen-image-edit-plus", prompt="Once more", input_image=[url],
            num_inference_steps=2,
        )  # fmt: skip
        assert_png(result.image.read_bytes())


def test_a_result_link_works_after_its_old_expiry(server: LiveServer) -> None:
    url = result_url(server)
    first = httpx.get(url)
    assert first.status_code == 200
    time.sleep(2.5)  # past url_ttl_seconds (1 s): an expiring link would be dead now
    later = httpx.get(url)
    assert later.status_code == 200 and later.content == first.content
    assert "immutable" in later.headers["cache-control"]
    head = httpx.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(first.content)


def test_another_keys_result_is_a_404_naming_the_image(server: LiveServer) -> None:
    url = result_url(server)
    other = new_key(server.data_dir)
    refused = sync_edit(server, [url], key=other)
    assert refused.status_code == 404, refused.text
    body = refused.json()
    assert body["error"]["type"] == "resource_not_found"
    assert body["error"]["detail"].startswith("input_image[0]: file not found: outputs/")
    # The link itself still works for whoever holds it (it is a capability).
    assert httpx.get(url).status_code == 200


def signed_at(presigned: str) -> float:
    amz_date = parse_qs(urlsplit(presigned).query)["X-Amz-Date"][0]
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def test_on_s3_a_result_link_redirects_to_a_fresh_presigned_url(s3_node: LiveServer) -> None:
    url = result_url(s3_node)
    assert url.startswith(s3_node.base_url + "/files/outputs/")
    first = httpx.get(url)
    assert first.status_code == 307
    old_target = first.headers["location"]
    assert parse_qs(urlsplit(old_target).query)["X-Amz-Expires"] == ["1"]
    assert_png(httpx.get(url, follow_redirects=True).content)
    # Chained from plain HTTP: read from the bucket, not through the redirect.
    chained = sync_edit(s3_node, [url])
    assert chained.status_code == 200, chained.text
    time.sleep(2.5)
    assert presigned_verdict(old_target, SECRET_KEY) == "expired"
    again = httpx.get(url)
    assert again.status_code == 307
    fresh = again.headers["location"]
    assert signed_at(fresh) > signed_at(old_target)
    assert presigned_verdict(fresh, SECRET_KEY, now=signed_at(fresh)) == "ok"
    assert_png(httpx.get(url, follow_redirects=True).content)
