"""Memory under a flood of uploads, against a real `editserve serve` process (API only).

FLOOD requests at once POST the worst valid images there are for an API process: files of
a few bytes to a few hundred KB, just under the default pixel limit (40 MP), whose check
once decoded them whole (a 130 KB PNG took 160 MB; a 38-byte lossless WebP, 660 MB). The
old code took the process from ~70 MB to 5.2 GB with 60 such PNGs and kept 2.4 GB after.

What must hold (VmRSS from /proc/<pid>/status, sampled all along):

* during the flood, the resident set stays under the baseline + the input budget
  (EDITSERVE_INPUT_MEMORY_MB) + DURING_SLACK (request bodies, threads, Python's own);
* afterwards it comes back to within AFTER_SLACK of the baseline;
* the requests over the budget are refused with 503 and Retry-After, the others stored.

Sized for a 2-core, 24 GiB machine; nothing here is timed.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fixtures.inputs import solid_png
from fixtures.support import LiveServer, make_png, rss_bytes, start_server, stop_server
from PIL import Image

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MiB = 1 << 20
BUDGET_MB = 1024  # the default, said out loud
SIDE = 6320  # 39.9 MP, just under the default max_input_pixels (40 MP)
FLOOD = 60
DURING_SLACK = 192 * MiB
AFTER_SLACK = 96 * MiB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("abuse-memory"),
        wait_ready=False,  # no worker: /readyz says 503
        EDITSERVE_WORKERS="0",
        EDITSERVE_INPUT_MEMORY_MB=str(BUDGET_MB),
        EDITSERVE_MAX_INPUT_PIXELS=str(40_000_000),
        EDITSERVE_REQUEST_RATE_PER_KEY="0",  # the flood is one key: no rate limit here
    )
    try:
        yield live
    finally:
        stop_server(live.process)


@pytest.fixture(scope="module")
def worst_images() -> dict[str, bytes]:
    """A one-colour 40 MP image as PNG (130 KB), lossless WebP (38 bytes) and
    progressive 4:4:4 JPEG (470 KB; its check holds every DCT coefficient)."""
    image = Image.new("RGB", (SIDE, SIDE), (128, 128, 128))
    webp, jpeg = io.BytesIO(), io.BytesIO()
    image.save(webp, "WEBP", lossless=True, quality=0, method=0)
    image.save(jpeg, "JPEG", progressive=True, subsampling=0, quality=50)
    return {"png": solid_png(SIDE, SIDE), "webp": webp.getvalue(), "jpeg": jpeg.getvalue()}


class PeakSampler:
    """The highest VmRSS of ``pid`` seen while it runs (a sample every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(0.01)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


def upload(http: httpx.Client, data: bytes) -> httpx.Response:
    return http.post("/api/ai/uploads", content=data, headers={"Content-Type": "image/png"})


def settled_rss(pid: int, ceiling: int, *, attempts: int = 50) -> int:
    """VmRSS once it is at or under ``ceiling``, or the lowest seen in ``attempts`` looks
    (freed memory goes back to the system as the last checks end)."""
    lowest = rss_bytes(pid)
    for _ in range(attempts):
        if lowest <= ceiling:
            break
        time.sleep(0.2)
        lowest = min(lowest, rss_bytes(pid))
    return lowest


def test_a_flood_of_worst_case_images_stays_within_the_budget(
    server: LiveServer, worst_images: dict[str, bytes]
) -> None:
    pid = server.process.pid
    limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=FLOOD)
    with server.client(limits=limits) as http:
        for data in (make_png(), *(_small(kind) for kind in worst_images)):  # warm up
            assert upload(http, data).status_code == 200
        time.sleep(0.5)
        baseline = rss_bytes(pid)
        flood = [worst_images[kind] for kind in ("png", "webp", "jpeg")] * (FLOOD // 3)
        kinds = ["png", "webp", "jpeg"] * (FLOOD // 3)
        with PeakSampler(pid) as sampler, ThreadPoolExecutor(FLOOD) as pool:
            responses = list(pool.map(lambda data: upload(http, data), flood))
        after = settled_rss(pid, baseline + AFTER_SLACK)

    outcomes = Counter((kind, r.status_code) for kind, r in zip(kinds, responses, strict=True))
    summary = (
        f"baseline {baseline / MiB:.0f} MiB, peak {sampler.peak / MiB:.0f} MiB, "
        f"after {after / MiB:.0f} MiB; {dict(outcomes)}"
    )
    print(summary)
    assert {r.status_code for r in responses} <= {200, 503}, summary
    refused = [r for r in responses if r.status_code == 503]
    assert refused, f"every request was checked at once: {summary}"
    assert any(r.status_code == 200 for r in responses), summary
    for response in refused:
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["type"] == "unavailable"
        assert "input_memory_mb" in response.json()["error"]["detail"]
    assert sampler.peak <= baseline + BUDGET_MB * MiB + DURING_SLACK, summary
    assert after <= baseline + AFTER_SLACK, summary


def _small(kind: str) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (64, 48), (10, 20, 30))
    image.save(buffer, {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}[kind])
    return buffer.getvalue()
