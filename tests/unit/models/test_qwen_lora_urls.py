"""LoRA URLs (EDITSERVE_LORA_ALLOW_URLS): fetched once through the input-image fetcher
(its SSRF rule and byte limit), cached by content hash; refused unless enabled."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from editserve.core.errors import InvalidParams
from editserve.core.settings import Settings
from editserve.models.base import JobRefused
from editserve.models.qwen_image_edit.request.loras import LoraRef, check_loras
from editserve.models.qwen_image_edit.runtime.lora_apply import LoraSet

BODY = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "  # a (tensor-less) safetensors file


class _Server:
    def __init__(self) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/lora.safetensors"


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.httpd.shutdown()


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, lora_allow_urls=True, **overrides)  # type: ignore[arg-type]


def test_a_url_is_fetched_once_and_cached_by_content_hash(server: _Server, tmp_path: Path) -> None:
    loras = LoraSet(_settings(tmp_path, fetch_allow_hosts=["127.0.0.1/32"]), "m")
    before = server.hits
    first = loras._fetched(server.url())
    second = loras._fetched(server.url())
    assert (
        first == second == tmp_path / "loras" / (hashlib.sha256(BODY).hexdigest() + ".safetensors")
    )
    assert first.read_bytes() == BODY and server.hits == before + 1


def test_a_url_goes_through_the_input_fetchers_guard_and_limit(
    server: _Server, tmp_path: Path
) -> None:
    with pytest.raises(JobRefused, match="could not be fetched: .*loopback"):
        LoraSet(_settings(tmp_path), "m")._fetched(server.url())
    small = _settings(tmp_path, fetch_allow_hosts=["127.0.0.1/32"], max_input_bytes=8)
    with pytest.raises(JobRefused, match="could not be fetched: the file is .*limit"):
        LoraSet(small, "m")._fetched(server.url())


def test_urls_are_refused_at_enqueue_unless_enabled(tmp_path: Path) -> None:
    ref = LoraRef(path="https://example.com/a.safetensors")
    with pytest.raises(InvalidParams, match="LoRA URLs are not enabled"):
        check_loras([ref], Settings(data_dir=tmp_path), {})
    check_loras([ref], _settings(tmp_path), {})  # checked by the worker once fetched
