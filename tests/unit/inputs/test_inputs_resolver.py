from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fixtures.inputs import PNG, make_image, noise_image, settings_for

from editserve.blobs import LocalStorage
from editserve.core.errors import InvalidParams, PayloadTooLarge
from editserve.inputs import InputResolver, StoredInput

JPEG = make_image("JPEG", (10, 4))
BASE = "https://edit.example.com"


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class CountingStorage(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.puts.append(key)
        super().put(key, data, content_type)


UPLOADED = StoredInput(
    key="inputs/" + "a" * 64 + ".png",
    sha256="a" * 64,
    content_type="image/png",
    format="PNG",
    width=3,
    height=2,
    size=99,
)


class Uploads:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, upload_id: str, owner: str) -> StoredInput | None:
        self.calls.append((upload_id, owner))
        return UPLOADED if (upload_id, owner) == ("up_123", "alice") else None


@pytest.fixture
def storage(tmp_path: Path) -> CountingStorage:
    return CountingStorage(tmp_path / "files")


@pytest.fixture
def uploads() -> Uploads:
    return Uploads()


@pytest.fixture
def resolver(tmp_path: Path, storage: CountingStorage, uploads: Uploads) -> InputResolver:
    return InputResolver(settings_for(tmp_path), storage, uploads)


async def resolve_error(resolver: InputResolver, refs: list[str], *rules: str) -> str:
    with pytest.raises(InvalidParams) as info:
        await resolver.resolve(refs, "alice", base_urls=[BASE])
    detail = info.value.detail
    for rule in rules:
        assert rule in detail, (rule, detail)
    return detail


# --- data URIs ---------------------------------------------------------------------------------


async def test_data_uri_is_stored_by_content_hash(
    resolver: InputResolver, storage: CountingStorage
) -> None:
    [stored] = await resolver.resolve([data_uri(PNG)], "alice", base_urls=[BASE])
    assert stored.format == "PNG" and (stored.width, stored.height) == (8, 6)
    assert stored.key == f"inputs/{stored.sha256}.png"
    assert stored.content_type == "image/png" and stored.size == len(PNG)
    assert storage.get(stored.key) == PNG
    assert storage.content_type(stored.key) == "image/png"
    assert StoredInput.from_dict(stored.to_dict()) == stored


async def test_same_bytes_are_stored_once(
    resolver: InputResolver, storage: CountingStorage
) -> None:
    first = await resolver.resolve([data_uri(PNG), data_uri(PNG)], "alice", base_urls=[])
    again = await resolver.resolve([data_uri(PNG)], "bob", base_urls=[])
    assert first[0] == first[1] == again[0]
    assert len(storage.puts) == 1


async def test_order_is_kept(resolver: InputResolver) -> None:
    refs = [data_uri(JPEG, "image/jpeg"), data_uri(PNG), data_uri(make_image("GIF"), "image/gif")]
    stored = await resolver.resolve(refs, "alice", base_urls=[BASE])
    assert [s.format for s in stored] == ["JPEG", "PNG", "GIF"]
    assert stored[0].key.endswith(".jpg")


async def test_lenient_data_uri_forms(resolver: InputResolver) -> None:
    encoded = base64.b64encode(JPEG).decode().rstrip("=")
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    refs = [
        f"data:image/jpeg;base64,{wrapped}",  # line-wrapped, padding stripped
        f"DATA:image/JPG;name=a.jpg;base64,{base64.urlsafe_b64encode(JPEG).decode()}",
        data_uri(JPEG, "image/png"),  # mislabelled: the bytes decide
    ]
    stored = await resolver.resolve(refs, "alice", base_urls=[])
    assert {s.format for s in stored} == {"JPEG"}


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("data:image/png;base64,iVBORw0K!!!", "malformed base64"),
        ("data:image/png;base64,iVBORw0KG", "malformed base64"),
        ("data:image/png;base64,iVBO=Rw0K", "malformed base64"),
        ("data:image/png;base64,", "empty"),
        ("data:text/plain;base64,aGVsbG8=", "media type 'text/plain'"),
        ("data:image/svg+xml;base64,PHN2Zz4=", "media type 'image/svg+xml'"),
        ("data:;base64,aGVsbG8=", "media type '(none)'"),
        ("data:image/png,rawbytes", "base64-encoded"),
        ("data:image/png;base64", "malformed data URI"),
        (data_uri(b"<html></html>"), "not a supported image"),
        (data_uri(noise_image()[:3000]), "corrupt or truncated"),
    ],
)
async def test_bad_data_uris(resolver: InputResolver, ref: str, rule: str) -> None:
    detail = await resolve_error(resolver, [ref], "input_image[0]: ", rule)
    assert len(detail) < 400


async def test_data_uri_byte_and_pixel_limits(tmp_path: Path, storage: CountingStorage) -> None:
    big = make_image("BMP", (200, 200))  # 120 KB, over the 64 KB test limit
    small_cap = InputResolver(settings_for(tmp_path), storage, Uploads())
    await resolve_error(
        small_cap, [data_uri(big, "image/bmp")], "input_image[0]", "65536 bytes", "max_input_bytes"
    )
    few_pixels = InputResolver(settings_for(tmp_path, max_input_pixels=40), storage, Uploads())
    await resolve_error(
        few_pixels, [data_uri(PNG)], "input_image[0]", "8x6 = 48 pixels", "max_input_pixels"
    )


# --- upload URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "bases"),
    [
        (f"{BASE}/api/ai/uploads/up_123", [BASE]),
        ("https://EDIT.example.com:443/api/ai/uploads/up_123/", [BASE + "/"]),
        ("http://127.0.0.1:8000/api/ai/uploads/up_123?x=1", [BASE, "http://127.0.0.1:8000"]),
        (
            "https://proxy.example/editserve/api/ai/uploads/up_123",
            ["https://proxy.example/editserve"],
        ),
    ],
)
async def test_upload_urls_use_the_lookup(
    resolver: InputResolver, uploads: Uploads, ref: str, bases: list[str]
) -> None:
    assert await resolver.resolve([ref], "alice", base_urls=bases) == [UPLOADED]
    assert uploads.calls == [("up_123", "alice")]


async def test_unknown_or_foreign_upload(resolver: InputResolver, uploads: Uploads) -> None:
    ref = f"{BASE}/api/ai/uploads/up_123"
    with pytest.raises(InvalidParams, match=r"input_image\[0\]: upload not found: up_123"):
        await resolver.resolve([ref], "mallory", base_urls=[BASE])
    await resolve_error(
        resolver, [data_uri(PNG), f"{BASE}/api/ai/uploads/nope"], "input_image[1]: upload not found"
    )
    await resolve_error(
        resolver, [f"{BASE}/api/ai/uploads/a.b%2F..%2Fc"], "input_image[0]: upload not found"
    )


async def test_upload_path_on_another_origin_is_fetched(resolver: InputResolver) -> None:
    # Not one of our base URLs: treated as any URL, so the SSRF rule applies.
    await resolve_error(
        resolver,
        ["http://127.0.0.1:8000/api/ai/uploads/up_123"],
        "input_image[0]: ",
        "loopback",
    )


# --- everything else ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref", ["", "   ", "image.png", "ftp://example.com/a.png", "file:///etc/passwd", "//x/y.png"]
)
async def test_not_a_reference(resolver: InputResolver, ref: str) -> None:
    await resolve_error(resolver, [ref], "input_image[0]: ")


async def test_first_failing_index_is_reported(resolver: InputResolver) -> None:
    refs = [data_uri(PNG), "data:text/plain;base64,aGk=", "ftp://x/y"]
    detail = await resolve_error(resolver, refs, "input_image[1]: ")
    assert "input_image[2]" not in detail


async def test_store_upload(resolver: InputResolver, storage: CountingStorage) -> None:
    stored = await resolver.store_upload(JPEG)
    assert stored.format == "JPEG" and stored.key.endswith(".jpg")
    assert storage.get(stored.key) == JPEG
    with pytest.raises(InvalidParams, match="file: not a supported image"):
        await resolver.store_upload(b"hello")
    with pytest.raises(PayloadTooLarge, match=r"file: .*\(max_input_bytes\)"):
        await resolver.store_upload(b"\0" * (64 * 1024 + 1))
