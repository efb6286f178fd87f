"""Shared helpers for the inputs/storage tests: tiny real images and a real HTTP server."""

from __future__ import annotations

import contextlib
import gzip
import io
import random
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

from editserve.config import Settings


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved as ``fmt`` with Pillow."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two images of one size, in dB (inf: identical)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def make_image(
    fmt: str = "PNG",
    size: tuple[int, int] = (8, 6),
    mode: str = "RGB",
    color: object = (200, 30, 40),
    **save: object,
) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, fmt, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def noise_image(fmt: str = "PNG", size: tuple[int, int] = (64, 64)) -> bytes:
    """An image that does not compress, so cutting the file cuts real pixel data."""
    width, height = size
    pixels = random.Random(0).randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, fmt)
    return buffer.getvalue()


PNG = make_image("PNG")


def settings_for(tmp_path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "max_input_bytes": 64 * 1024,
        "max_input_pixels": 4096 * 4096,
        "fetch_timeout_seconds": 2.0,
        "fetch_max_redirects": 2,
        "fetch_allow_hosts": [],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


Handler = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: bool = True,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if content_length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.wfile.write(body)


def _routes(server: TestServer) -> dict[str, Handler]:
    def image(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, PNG, {"Content-Type": "image/png"})

    def redirect(h: BaseHTTPRequestHandler) -> None:
        remaining = int(h.path.split("?", 1)[0].rsplit("/", 1)[1])
        # /redirect/N answers with N redirects in a row before the image.
        target = "/image.png" if remaining <= 1 else f"/redirect/{remaining - 1}"
        send(h, 302, headers={"Location": target})

    def to_metadata(h: BaseHTTPRequestHandler) -> None:
        send(h, 302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    def to_loopback(h: BaseHTTPRequestHandler) -> None:
        send(h, 301, headers={"Location": f"http://127.0.0.1:{server.port}/image.png"})

    def to_ftp(h: BaseHTTPRequestHandler) -> None:
        send(h, 302, headers={"Location": "ftp://example.com/image.png"})

    def bad_redirect(h: BaseHTTPRequestHandler) -> None:
        send(h, 302, headers={"Location": "http://[::1"})

    def big(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, b"\0" * (server.big_size), {"Content-Type": "image/png"})

    def big_no_length(h: BaseHTTPRequestHandler) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.end_headers()
        try:
            for _ in range(server.big_size // 4096 + 1):
                h.wfile.write(b"\0" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def gzip_bomb(h: BaseHTTPRequestHandler) -> None:
        body = gzip.compress(b"\0" * (server.big_size * 16), compresslevel=9)
        send(h, 200, body, {"Content-Encoding": "gzip", "Content-Type": "image/png"})

    def gzip_image(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, gzip.compress(PNG), {"Content-Encoding": "gzip"})

    def not_found(h: BaseHTTPRequestHandler) -> None:
        send(h, 404, b"nope", {"Content-Type": "text/plain"})

    def slow(h: BaseHTTPRequestHandler) -> None:
        time.sleep(server.slow_seconds)
        send(h, 200, PNG)

    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(PNG)))
        h.end_headers()
        try:
            for byte in PNG:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
                time.sleep(server.slow_seconds / 10)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def text(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, b"<html>hello</html>", {"Content-Type": "text/html"})

    return {
        "/image.png": image,
        "/redirect": redirect,
        "/to-metadata": to_metadata,
        "/to-loopback": to_loopback,
        "/to-ftp": to_ftp,
        "/bad-redirect": bad_redirect,
        "/big": big,
        "/big-no-length": big_no_length,
        "/gzip-bomb": gzip_bomb,
        "/gzip-image": gzip_image,
        "/missing": not_found,
        "/slow": slow,
        "/drip": drip,
        "/page.html": text,
    }


class TestServer:
    """A threaded HTTP/1.0 server on 127.0.0.1 with a fixed set of routes."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        big_size: int = 128 * 1024,
        slow_seconds: float = 1.5,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.big_size = big_size
        self.slow_seconds = slow_seconds
        self.hits: list[str] = []
        routes = _routes(self)
        hits = self.hits

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hits.append(self.path)
                route = "/" + self.path.split("?", 1)[0].split("/")[1]
                routes.get(route, routes["/missing"])(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> TestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
