"""The resolver checks every input within the process's budget (inputs/resolver.py,
inputs/cost.py): what each check holds, and the 503 when there is no room."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from fixtures.inputs import make_image, settings_for, solid_png
from PIL import Image

from editserve.blobs import LocalStorage
from editserve.core.errors import InvalidParams, Unavailable
from editserve.inputs import InputResolver
from editserve.inputs.budget import InputBudget
from editserve.inputs.cost import BASE_COST, estimate

T = TypeVar("T")
MB = 1 << 20


class RecordingBudget(InputBudget):
    def __init__(self, capacity: int = 1024 * MB, **options: float) -> None:
        super().__init__(capacity, **options)  # type: ignore[arg-type]
        self.weights: list[int] = []

    async def run(self, weight: int, work: Callable[[], T]) -> T:
        self.weights.append(weight)
        return await super().run(weight, work)


async def no_uploads(upload_id: str, owner: str) -> None:
    return None


def resolver_with(tmp_path: Path, budget: InputBudget, **settings: object) -> InputResolver:
    values: dict[str, object] = {"max_input_bytes": 8 * MB, "max_input_pixels": 40_000_000}
    values.update(settings)
    config = settings_for(tmp_path, **values)
    return InputResolver(config, LocalStorage(tmp_path / "files"), no_uploads, budget=budget)


def webp_header(width: int, height: int) -> bytes:
    """The first bytes of a VP8X WebP announcing ``width`` x ``height``."""
    vp8x = b"VP8X" + (10).to_bytes(4, "little") + b"\0" * 4
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + (4 + len(vp8x)).to_bytes(4, "little") + b"WEBP" + vp8x


def test_estimates_follow_what_a_check_really_takes() -> None:
    big_png = solid_png(6000, 6000)
    # a PNG is checked as a stream: its size in pixels does not count
    assert estimate(big_png, max_pixels=40_000_000) < len(big_png) + BASE_COST + 2 * MB
    # a WebP is decoded whole: 17 bytes a pixel
    assert estimate(webp_header(6000, 6000), max_pixels=40_000_000) >= 36_000_000 * 17
    # over the pixel limit: refused from its header, nothing to hold for a decode
    assert estimate(webp_header(8000, 8000), max_pixels=40_000_000) < BASE_COST + MB
    # a progressive JPEG keeps every coefficient; a baseline one decodes at 1/8 scale
    photo = Image.new("RGB", (2000, 1500), (10, 20, 30))
    baseline, progressive = io.BytesIO(), io.BytesIO()
    photo.save(baseline, "JPEG")
    photo.save(progressive, "JPEG", progressive=True)
    small = estimate(baseline.getvalue(), max_pixels=40_000_000) - BASE_COST
    large = estimate(progressive.getvalue(), max_pixels=40_000_000) - BASE_COST
    assert small < 2 * MB < 2_000 * 1_500 * 2 < large


async def test_upload_holds_its_estimate_and_is_stored(tmp_path: Path) -> None:
    budget = RecordingBudget()
    resolver = resolver_with(tmp_path, budget)
    data = make_image("WEBP", (300, 200))
    stored = await resolver.store_upload(data)
    assert stored.format == "WEBP"
    assert budget.weights == [len(data) + BASE_COST + 300 * 200 * 17]
    assert budget.used == 0


async def test_a_short_estimate_is_corrected_before_anything_is_decoded(tmp_path: Path) -> None:
    budget = RecordingBudget()
    resolver = resolver_with(tmp_path, budget)
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (1, 2, 3)).save(buffer, "JPEG", progressive=True)
    # 70 comments before the frame header: the event loop's look (64 segments) misses it
    comments = b"".join(b"\xff\xfe\x00\x03x" for _ in range(70))
    data = buffer.getvalue()[:2] + comments + buffer.getvalue()[2:]
    assert (await resolver.store_upload(data)).width == 640
    first, second = budget.weights
    assert first == len(data) + BASE_COST  # what the header bytes told
    assert second > first + 640 * 480 * 2  # what Pillow's reading of the header told


async def test_no_room_is_a_503_with_retry_after(tmp_path: Path) -> None:
    budget = InputBudget(64 * MB, wait_seconds=0.05, retry_after=3)
    resolver = resolver_with(tmp_path, budget)
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(10)

    holder = asyncio.create_task(budget.run(64 * MB, hold))
    await asyncio.to_thread(started.wait, 10)
    try:
        with pytest.raises(Unavailable) as refused:
            await resolver.store_upload(make_image("PNG", (8, 8)))
        assert refused.value.headers["Retry-After"] == "3"
        ref = "data:image/png;base64," + base64.b64encode(make_image("PNG")).decode()
        with pytest.raises(Unavailable):  # the data URI's own decoding waits for room too
            await resolver.resolve([ref], "alice", base_urls=[])
    finally:
        release.set()
        await holder
    assert (await resolver.store_upload(make_image("PNG", (8, 8)))).width == 8


async def test_data_uris_are_decoded_within_the_budget(tmp_path: Path) -> None:
    budget = RecordingBudget()
    resolver = resolver_with(tmp_path, budget)
    data = make_image("PNG", (30, 20))
    ref = "data:image/png;base64," + base64.b64encode(data).decode()
    [stored] = await resolver.resolve([ref], "alice", base_urls=[])
    assert stored.width == 30
    assert budget.weights[0] == 3 * len(ref)  # the text's copy and the bytes
    with pytest.raises(InvalidParams, match="malformed base64"):
        await resolver.resolve(["data:image/png;base64,iVBO=Rw0K"], "alice", base_urls=[])
    assert budget.used == 0


async def test_a_thumbnail_inside_exif_is_not_a_second_scan(tmp_path: Path) -> None:
    budget = RecordingBudget()
    resolver = resolver_with(tmp_path, budget)
    thumbnail, photo = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (160, 120), (9, 9, 9)).save(thumbnail, "JPEG")
    Image.new("RGB", (1600, 1200), (9, 9, 9)).save(photo, "JPEG")
    body = b"Exif\0\0" + thumbnail.getvalue()  # a JPEG, SOS and all, inside APP1
    app1 = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    data = photo.getvalue()[:2] + app1 + photo.getvalue()[2:]
    assert data.count(b"\xff\xda") == 2
    assert (await resolver.store_upload(data)).width == 1600
    [weight] = budget.weights  # baseline: the estimate held, no second look
    assert weight < len(data) + BASE_COST + 1600 * 1200  # not every coefficient
