"""This cluster's own result, file and upload URLs as input_image, on any host: read from
storage with no HTTP fetch, owner-checked; a link that does not verify is just a URL."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.inputs import PNG, make_image, settings_for

from editserve.blobs import LocalStorage, UrlSigner
from editserve.blobs.links import link_maker
from editserve.core.errors import InvalidParams, NotFound
from editserve.inputs import InputResolver, StoredInput
from editserve.inputs.own_links import OwnLinks, upload_id_in

GEN = "6f1c0d3e-9b1a-4b8e-8a0e-1f2d3c4b5a69"
OUTPUT_KEY = f"outputs/{GEN}.png"
OUTPUT = make_image("PNG", (12, 10), color=(10, 200, 30))
INPUT_KEY = f"inputs/{hashlib.sha256(PNG).hexdigest()}.png"
# Hosts the SSRF guard refuses: only an internal read can make these work.
FOREIGN = ["http://127.0.0.1:8123", "http://10.0.0.7", "https://lb.internal/editserve"]
OWN_BASE = "https://edit.example.com"

UPLOADED = StoredInput(
    key=INPUT_KEY,
    sha256=hashlib.sha256(PNG).hexdigest(),
    content_type="image/png",
    format="PNG",
    width=8,
    height=6,
    size=len(PNG),
)


class Owners:
    """The store's answers: alice owns the output and the input; bob's upload upl_bob."""

    def __init__(self) -> None:
        self.blobs = {("alice", OUTPUT_KEY), ("alice", INPUT_KEY)}
        self.uploads = {"upl_alice": "alice", "upl_bob": "bob"}

    def owns_blob(self, owner: str, key: str) -> bool:
        return (owner, key) in self.blobs

    def upload_owner(self, upload_id: str) -> str | None:
        return self.uploads.get(upload_id)


async def lookup(upload_id: str, owner: str) -> StoredInput | None:
    return UPLOADED if (upload_id, owner) == ("upl_alice", "alice") else None


@pytest.fixture
def signer() -> UrlSigner:
    return UrlSigner(b"cluster-secret")


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path / "files")
    storage.put(OUTPUT_KEY, OUTPUT, "image/png")
    storage.put(INPUT_KEY, PNG, "image/png")
    return storage


@pytest.fixture
def fetched() -> list[str]:
    return []


@pytest.fixture
def resolver(
    tmp_path: Path, storage: LocalStorage, signer: UrlSigner, fetched: list[str]
) -> InputResolver:
    resolver = InputResolver(
        settings_for(tmp_path), storage, lookup, own_links=OwnLinks(signer, Owners())
    )
    real_fetch = resolver.fetcher.fetch

    async def recording_fetch(url: str, **kwargs: Any) -> Any:
        fetched.append(url)
        return await real_fetch(url, **kwargs)

    resolver.fetcher.fetch = recording_fetch  # type: ignore[method-assign]
    return resolver


async def resolve(resolver: InputResolver, ref: str, owner: str = "alice") -> StoredInput:
    [stored] = await resolver.resolve([ref], owner, base_urls=[OWN_BASE])
    return stored


@pytest.mark.parametrize("base", FOREIGN)
async def test_a_result_url_on_any_host_is_read_from_storage(
    resolver: InputResolver, signer: UrlSigner, fetched: list[str], base: str
) -> None:
    stored = await resolve(resolver, link_maker(signer, base)(OUTPUT_KEY))
    assert stored.sha256 == hashlib.sha256(OUTPUT).hexdigest()
    assert (stored.width, stored.height, stored.format) == (12, 10, "PNG")
    assert stored.key == f"inputs/{stored.sha256}.png"
    assert resolver.storage.get(stored.key) == OUTPUT  # stored as an input
    assert fetched == []  # no HTTP fetch at all


async def test_an_input_link_and_the_old_expiring_form_work_too(
    resolver: InputResolver, signer: UrlSigner, fetched: list[str]
) -> None:
    assert (await resolve(resolver, link_maker(signer, FOREIGN[0])(INPUT_KEY))).key == INPUT_KEY
    old = FOREIGN[1] + signer.signed_path(OUTPUT_KEY, 60)
    assert (await resolve(resolver, old)).sha256 == hashlib.sha256(OUTPUT).hexdigest()
    assert fetched == []


async def test_another_keys_file_is_a_404_naming_the_image(
    resolver: InputResolver, signer: UrlSigner, fetched: list[str]
) -> None:
    links = link_maker(signer, FOREIGN[0])
    for key in (OUTPUT_KEY, INPUT_KEY):
        with pytest.raises(NotFound) as info:
            await resolver.resolve(
                [f"data:image/png;base64,{base64.b64encode(PNG).decode()}", links(key)],
                "bob",
                base_urls=[OWN_BASE],
            )
        assert info.value.detail == f"input_image[1]: file not found: {key}"
    assert fetched == []


async def test_a_pruned_file_is_a_404(
    resolver: InputResolver, signer: UrlSigner, storage: LocalStorage
) -> None:
    storage.delete(OUTPUT_KEY)
    with pytest.raises(NotFound, match=r"input_image\[0\]: file not found: outputs/"):
        await resolve(resolver, link_maker(signer, FOREIGN[0])(OUTPUT_KEY))


@pytest.mark.parametrize(
    "forge",
    [
        lambda url: url.replace("signature=", "signature=0"),  # tampered
        lambda url: url.replace(GEN, "00000000-0000-0000-0000-000000000000"),  # another key
        lambda url: url + "&expires=9999999999",  # a lasting signature as an expiring one
    ],
)
async def test_a_link_that_does_not_verify_is_just_a_url(
    resolver: InputResolver, signer: UrlSigner, fetched: list[str], forge: Any
) -> None:
    url = forge(link_maker(signer, "http://127.0.0.1:8123")(OUTPUT_KEY))
    with pytest.raises(InvalidParams, match=r"input_image\[0\]: .*loopback"):
        await resolve(resolver, url)
    assert fetched == [url]  # handed to the fetcher, whose SSRF guard refused it


async def test_a_link_of_another_cluster_is_just_a_url(
    resolver: InputResolver, fetched: list[str]
) -> None:
    url = link_maker(UrlSigner(b"another secret"), "http://10.0.0.7")(OUTPUT_KEY)
    with pytest.raises(InvalidParams, match=r"input_image\[0\]: .*private"):
        await resolve(resolver, url)
    assert fetched == [url]


async def test_expired_old_links_are_not_ours(
    resolver: InputResolver, signer: UrlSigner, fetched: list[str]
) -> None:
    url = "http://127.0.0.1:8123" + signer.signed_path(OUTPUT_KEY, 60, now=time.time() - 3600)
    with pytest.raises(InvalidParams):
        await resolve(resolver, url)
    assert fetched == [url]


@pytest.mark.parametrize("base", FOREIGN)
async def test_upload_urls_of_another_node(
    resolver: InputResolver, fetched: list[str], base: str
) -> None:
    assert await resolve(resolver, f"{base}/api/ai/uploads/upl_alice") == UPLOADED
    with pytest.raises(NotFound, match=r"^input_image\[0\]: upload not found: upl_bob$"):
        await resolve(resolver, f"{base}/api/ai/uploads/upl_bob")
    assert fetched == []
    unknown = f"{base}/api/ai/uploads/upl_nobody"  # not ours: any URL, SSRF rules apply
    with pytest.raises(InvalidParams):
        await resolve(resolver, unknown)
    assert fetched == [unknown]


async def test_own_base_upload_urls(resolver: InputResolver, fetched: list[str]) -> None:
    assert await resolve(resolver, f"{OWN_BASE}/api/ai/uploads/upl_alice") == UPLOADED
    with pytest.raises(NotFound, match=r"input_image\[0\]: upload not found: upl_bob"):
        await resolve(resolver, f"{OWN_BASE}/api/ai/uploads/upl_bob")
    with pytest.raises(InvalidParams, match=r"input_image\[0\]: upload not found: upl_x"):
        await resolve(resolver, f"{OWN_BASE}/api/ai/uploads/upl_x")
    assert fetched == []


def test_upload_id_in() -> None:
    assert upload_id_in("http://h:1/api/ai/uploads/upl_1/") == "upl_1"
    assert upload_id_in("http://h/p/api/ai/uploads/upl_1?x=1") == "upl_1"
    assert upload_id_in("http://h/api/ai/uploads/a.b") is None
    assert upload_id_in("http://h/uploads/upl_1") is None


def test_file_key_needs_one_signature(signer: UrlSigner) -> None:
    links = OwnLinks(signer, Owners())
    url = link_maker(signer, "http://h/files/x")(OUTPUT_KEY)  # a prefix holding /files/
    assert links.file_key(url) == OUTPUT_KEY
    assert links.file_key(url + "&signature=00") is None
    assert links.file_key(url.replace("/files/outputs", "/files/../outputs")) is None
    assert links.file_key("http://h/files/" + OUTPUT_KEY) is None
