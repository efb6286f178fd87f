"""One storage contract, two backends: every test here runs on the local folder and on S3
(a real S3-compatible server process, moto: tests/s3_support.py).

Where the backends differ by design the test says so: ``local_path`` is a file only for the
folder, ``presigned_url`` only for S3 (the folder's links are the API's signed /files/ paths).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.s3 import SECRET_KEY, S3Server, aws_env, presigned_verdict

from editserve.blobs import (
    BlobStorage,
    InvalidKey,
    LocalStorage,
    S3Storage,
    StorageUnavailable,
)
from editserve.blobs.s3 import MULTIPART_THRESHOLD
from editserve.core.errors import NotFound

KINDS = ["local", "s3"]
PREFIX = "node/files"  # S3 objects live under a prefix, as EDITSERVE_STORAGE_URL allows


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's default chain finds the test server's credentials, as a node would."""
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BlobStorage]:
    if kind == "local":
        yield LocalStorage(tmp_path / "files")
        return
    request.getfixturevalue("aws")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = server.create_bucket()
    yield S3Storage(bucket, PREFIX, endpoint_url=server.endpoint_url)


def stored_names(storage: BlobStorage, s3_server: S3Server | None) -> list[str]:
    """Every name the backend holds: files under the folder, or the bucket's objects."""
    if isinstance(storage, LocalStorage):
        return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*"))
    assert isinstance(storage, S3Storage) and s3_server is not None
    return sorted(s3_server.list_keys(storage.bucket))


# --- blobs --------------------------------------------------------------------------------


def test_put_get_exists_delete(storage: BlobStorage) -> None:
    assert isinstance(storage, BlobStorage)
    assert not storage.exists("inputs/a.png")
    storage.put("inputs/a.png", b"\x89PNG hello", "image/png")
    assert storage.exists("inputs/a.png")
    assert storage.get("inputs/a.png") == b"\x89PNG hello"
    assert not storage.exists("inputs/b.png")
    storage.delete("inputs/a.png")
    assert not storage.exists("inputs/a.png")
    with pytest.raises(NotFound):
        storage.get("inputs/a.png")
    storage.delete("inputs/a.png")  # deleting what is gone is not an error


def test_keys_are_separate_and_empty_blobs_are_blobs(storage: BlobStorage) -> None:
    storage.put("outputs/one.webp", b"1", "image/webp")
    storage.put("outputs/two.webp", b"22", "image/webp")
    storage.put("outputs/deeper/one.webp", b"333", "image/webp")
    storage.put("outputs/empty.json", b"", "application/json")
    assert storage.get("outputs/one.webp") == b"1"
    assert storage.get("outputs/two.webp") == b"22"
    assert storage.get("outputs/deeper/one.webp") == b"333"
    assert storage.exists("outputs/empty.json") and storage.get("outputs/empty.json") == b""
    storage.delete("outputs/one.webp")
    assert storage.get("outputs/deeper/one.webp") == b"333"
    assert not storage.exists("outputs")  # a "folder" is not a blob


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("outputs/x.webp", "image/webp", "image/webp"),
        ("outputs/y.jpg", "image/jpeg", "image/jpeg"),
        ("outputs/z.bin", "application/x-custom", "application/x-custom"),
        ("outputs/noext", "text/plain", "text/plain"),
        ("outputs/p.png", "", "image/png"),  # none given: implied by the extension
        ("outputs/blob", "", "application/octet-stream"),
    ],
)
def test_content_type_is_kept(storage: BlobStorage, key: str, given: str, expected: str) -> None:
    storage.put(key, b"data", given)
    assert storage.content_type(key) == expected


def test_overwrite_replaces_bytes_and_content_type(storage: BlobStorage) -> None:
    storage.put("outputs/g.bin", b"first version", "application/x-first")
    storage.put("outputs/g.bin", b"second", "application/x-second")
    assert storage.get("outputs/g.bin") == b"second"
    assert storage.content_type("outputs/g.bin") == "application/x-second"
    storage.put("outputs/g.bin", b"third", "application/octet-stream")
    assert storage.get("outputs/g.bin") == b"third"
    assert storage.content_type("outputs/g.bin") == "application/octet-stream"


def test_missing_blob_is_not_found(storage: BlobStorage) -> None:
    assert not storage.exists("outputs/nope.webp")
    with pytest.raises(NotFound):
        storage.get("outputs/nope.webp")
    with pytest.raises(NotFound):
        storage.content_type("outputs/nope.webp")
    if isinstance(storage, LocalStorage):
        with pytest.raises(NotFound):
            storage.local_path("outputs/nope.webp")
    else:
        assert storage.local_path("outputs/nope.webp") is None  # remote: nothing on disk


BAD_KEYS = ["", "../escape.png", "/etc/passwd", "inputs/../../x", ".hidden", "a b", "a" * 513]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_by_every_call(
    storage: BlobStorage, key: str, request: pytest.FixtureRequest
) -> None:
    calls = [
        lambda: storage.put(key, b"x", "image/png"),
        lambda: storage.get(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.content_type(key),
        lambda: storage.local_path(key),
        lambda: storage.presigned_url(key, 60),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()
    server = request.getfixturevalue("s3_server") if isinstance(storage, S3Storage) else None
    assert stored_names(storage, server) == []  # nothing was written anywhere


def test_large_object_round_trips(storage: BlobStorage) -> None:
    body = os.urandom(12 * 1024 * 1024 + 17)  # over the multipart threshold, odd length
    storage.put("outputs/large.bin", body, "application/octet-stream")
    back = storage.get("outputs/large.bin")
    assert len(back) == len(body)
    assert hashlib.sha256(back).digest() == hashlib.sha256(body).digest()
    storage.put("outputs/large.bin", b"small again", "application/octet-stream")
    assert storage.get("outputs/large.bin") == b"small again"


def test_writes_leave_nothing_but_the_blobs(
    storage: BlobStorage, request: pytest.FixtureRequest
) -> None:
    server = None
    if isinstance(storage, S3Storage):
        server = request.getfixturevalue("s3_server")
    storage.put("inputs/a.png", b"a", "image/png")
    storage.put("outputs/b.webp", os.urandom(MULTIPART_THRESHOLD + 1), "image/webp")
    storage.check()  # its probe is removed again
    names = stored_names(storage, server)
    if isinstance(storage, LocalStorage):
        assert names == ["inputs", "inputs/a.png", "outputs", "outputs/b.webp"]
    else:
        assert names == [f"{PREFIX}/inputs/a.png", f"{PREFIX}/outputs/b.webp"]


# --- links ----------------------------------------------------------------------------------


def test_presigned_link_fetches_without_credentials(storage: BlobStorage) -> None:
    storage.put("outputs/pic.webp", b"RIFF-webp-bytes", "image/webp")
    url = storage.presigned_url("outputs/pic.webp", 300)
    if isinstance(storage, LocalStorage):
        assert url is None  # the API serves the folder's blobs at its own signed /files/ path
        return
    assert url is not None
    response = httpx.get(url)  # no Authorization header, no AWS credentials
    assert response.status_code == 200
    assert response.content == b"RIFF-webp-bytes"
    assert response.headers["content-type"] == "image/webp"
    # the same object without the link's signature is refused: it is not public
    plain = url.split("?", 1)[0]
    assert httpx.get(plain).status_code == 403


def test_presigned_link_expires_after_its_ttl(storage: BlobStorage) -> None:
    """moto serves a presigned URL whatever its age or signature, so the link is checked
    the way AWS checks it (tests/s3_support.py presigned_verdict): signed with the node's
    credentials, good for exactly ``ttl_seconds``."""
    storage.put("outputs/pic.webp", b"w", "image/webp")
    before = time.time()
    url = storage.presigned_url("outputs/pic.webp", 120)
    if isinstance(storage, LocalStorage):
        assert url is None
        return
    assert url is not None
    assert presigned_verdict(url, SECRET_KEY) == "ok"
    assert presigned_verdict(url, SECRET_KEY, now=before + 100) == "ok"
    assert presigned_verdict(url, SECRET_KEY, now=time.time() + 121) == "expired"
    assert presigned_verdict(url, "another-secret") == "bad signature"
    tampered = url.replace("outputs%2Fpic.webp", "outputs%2Fother.webp").replace(
        "outputs/pic.webp", "outputs/other.webp"
    )
    assert tampered != url and presigned_verdict(tampered, SECRET_KEY) == "bad signature"


def test_presigned_link_to_a_missing_blob_is_404(storage: BlobStorage) -> None:
    url = storage.presigned_url("outputs/never-written.webp", 60)
    if isinstance(storage, LocalStorage):
        assert url is None
        return
    assert url is not None
    assert httpx.get(url).status_code == 404


# --- start-up check ---------------------------------------------------------------------------


def test_check_passes_on_usable_storage(storage: BlobStorage) -> None:
    storage.check()


def test_check_refuses_unusable_storage_and_says_what_to_fix(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "local":
        root = tmp_path / "files"
        broken = LocalStorage(root)
        root.rmdir()
        root.write_bytes(b"a file where the folder should be")
        with pytest.raises(StorageUnavailable) as info:
            broken.check()
        assert str(root) in str(info.value) and "EDITSERVE_STORAGE_URL" in str(info.value)
        return
    request.getfixturevalue("aws")
    server: S3Server = request.getfixturevalue("s3_server")
    missing = S3Storage("no-such-bucket-here", PREFIX, endpoint_url=server.endpoint_url)
    with pytest.raises(StorageUnavailable) as info:
        missing.check()
    message = str(info.value)
    assert "'no-such-bucket-here' does not exist" in message
    assert "create it" in message and "EDITSERVE_STORAGE_URL" in message
    assert server.endpoint_url in message
