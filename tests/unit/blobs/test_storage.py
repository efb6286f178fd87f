from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from editserve.blobs import (
    BlobStorage,
    InvalidKey,
    LocalStorage,
    S3Storage,
    open_storage,
    validate_key,
)
from editserve.blobs.s3 import make_s3_client, parse_s3_url
from editserve.core.errors import InvalidParams, NotFound
from editserve.core.settings import Settings

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../secret",
    "inputs/../../secret",
    "inputs/..",
    "inputs/./a.png",
    "inputs//a.png",
    "inputs/a.png/",
    ".hidden",
    "inputs/.meta",
    "inputs\\a.png",
    "inputs/a b.png",
    "inputs/a%2e.png",
    "inputs/ä.png",
    "inputs/a.png\0",
    "a" * 513,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKey) as info:
        validate_key(key)
    assert isinstance(info.value, InvalidParams)
    assert "key" in info.value.detail


@pytest.mark.parametrize("key", ["inputs/ab12.png", "outputs/3f2a-11.webp", "a", "x/y/z_1.JPG"])
def test_good_keys_pass(key: str) -> None:
    assert validate_key(key) == key


# --- local ---------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def test_local_roundtrip(local: LocalStorage) -> None:
    assert isinstance(local, BlobStorage)
    assert not local.exists("inputs/a.png")
    local.put("inputs/a.png", b"hello", "image/png")
    assert local.exists("inputs/a.png")
    assert local.get("inputs/a.png") == b"hello"
    assert local.content_type("inputs/a.png") == "image/png"
    path = local.local_path("inputs/a.png")
    assert path == local.root / "inputs" / "a.png"
    assert path.read_bytes() == b"hello"
    assert local.presigned_url("inputs/a.png", 60) is None

    local.put("inputs/a.png", b"again", "image/png")
    assert local.get("inputs/a.png") == b"again"

    local.delete("inputs/a.png")
    assert not local.exists("inputs/a.png")
    local.delete("inputs/a.png")  # idempotent


def test_local_missing_blob_is_not_found(local: LocalStorage) -> None:
    for call in (local.get, local.content_type, local.local_path):
        with pytest.raises(NotFound):
            call("outputs/nope.webp")
    with pytest.raises(NotFound):
        local.get("outputs")  # a folder is not a blob


def test_local_content_type_from_extension_and_sidecar(local: LocalStorage) -> None:
    local.put("outputs/x.webp", b"w", "image/webp")
    local.put("outputs/y.jpg", b"j", "image/jpeg")
    local.put("outputs/z.bin", b"b", "application/x-custom")
    local.put("outputs/noext", b"n", "text/plain")
    assert local.content_type("outputs/x.webp") == "image/webp"
    assert local.content_type("outputs/y.jpg") == "image/jpeg"
    assert local.content_type("outputs/z.bin") == "application/x-custom"
    assert local.content_type("outputs/noext") == "text/plain"
    # Replacing with the implied type drops the sidecar; deleting removes it too.
    local.put("outputs/z.bin", b"b", "application/octet-stream")
    assert local.content_type("outputs/z.bin") == "application/octet-stream"
    local.delete("outputs/noext")
    assert not list((local.root / ".meta").rglob("noext"))


def test_local_writes_leave_no_temp_files(local: LocalStorage) -> None:
    for index in range(3):
        local.put(f"outputs/{index}.png", b"x" * 1000, "image/png")
    names = sorted(p.name for p in (local.root / "outputs").iterdir())
    assert names == ["0.png", "1.png", "2.png"]
    assert oct(os.stat(local.root / "outputs" / "0.png").st_mode & 0o777) == "0o644"


def test_local_rejects_bad_keys_before_touching_disk(local: LocalStorage, tmp_path: Path) -> None:
    with pytest.raises(InvalidKey):
        local.put("../escape.png", b"x", "image/png")
    with pytest.raises(InvalidKey):
        local.exists("/etc/passwd")
    assert not (tmp_path / "escape.png").exists()


# --- open_storage ---------------------------------------------------------------------------


def test_open_storage_defaults_to_data_dir(tmp_path: Path) -> None:
    storage = open_storage(Settings(data_dir=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "files").resolve()


def test_open_storage_file_url(tmp_path: Path) -> None:
    storage = open_storage(Settings(data_dir=tmp_path, storage_url=f"file://{tmp_path}/blobs"))
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "blobs").resolve()


def test_open_storage_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    storage = open_storage(
        Settings(
            data_dir=tmp_path,
            storage_url="s3://my-bucket/edit/serve",
            s3_endpoint_url="http://minio.internal:9000",
        )
    )
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("my-bucket", "edit/serve/")
    assert storage.client.meta.endpoint_url == "http://minio.internal:9000"


@pytest.mark.parametrize("url", ["ftp://host/x", "gs://bucket/x", "file://otherhost/x"])
def test_open_storage_rejects_other_schemes(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="storage_url"):
        open_storage(Settings(data_dir=tmp_path, storage_url=url))


# --- S3 (botocore Stubber: no network) -------------------------------------------------------


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://b") == ("b", "")
    assert parse_s3_url("s3://b/") == ("b", "")
    assert parse_s3_url("s3://b/a/c/") == ("b", "a/c/")
    with pytest.raises(ValueError):
        parse_s3_url("http://b/a")


@pytest.fixture
def s3() -> tuple[S3Storage, Stubber]:
    client = make_s3_client(
        "http://s3.test:9000",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    storage = S3Storage("bucket", "pre", client=client)
    with Stubber(client) as stubber:
        yield storage, stubber
        stubber.assert_no_pending_responses()


def test_s3_put_get_delete(s3: tuple[S3Storage, Stubber]) -> None:
    storage, stub = s3
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "bucket",
            "Key": "pre/outputs/g.webp",
            "Body": b"img",
            "ContentType": "image/webp",
        },
    )
    stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(b"img"), 3), "ContentType": "image/webp"},
        {"Bucket": "bucket", "Key": "pre/outputs/g.webp"},
    )
    stub.add_response(
        "head_object",
        {"ContentType": "image/webp", "ContentLength": 3},
        {"Bucket": "bucket", "Key": "pre/outputs/g.webp"},
    )
    stub.add_response("delete_object", {}, {"Bucket": "bucket", "Key": "pre/outputs/g.webp"})
    storage.put("outputs/g.webp", b"img", "image/webp")
    assert storage.get("outputs/g.webp") == b"img"
    assert storage.content_type("outputs/g.webp") == "image/webp"
    storage.delete("outputs/g.webp")
    assert storage.local_path("outputs/g.webp") is None


def test_s3_missing_object(s3: tuple[S3Storage, Stubber]) -> None:
    storage, stub = s3
    stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub.add_response("head_object", {"ContentLength": 1}, {"Bucket": "bucket", "Key": ANY})
    stub.add_client_error("head_object", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(NotFound):
        storage.get("inputs/x.png")
    assert storage.exists("inputs/x.png") is False
    assert storage.exists("inputs/x.png") is True
    with pytest.raises(Exception, match="AccessDenied"):
        storage.exists("inputs/x.png")  # only "missing" is turned into False


def test_s3_presigned_url(s3: tuple[S3Storage, Stubber]) -> None:
    storage, _ = s3
    url = storage.presigned_url("outputs/g.webp", 600)
    assert url is not None
    assert url.startswith("http://s3.test:9000/bucket/pre/outputs/g.webp?")
    assert "X-Amz-Expires=600" in url and "X-Amz-Signature=" in url


def test_s3_rejects_bad_keys(s3: tuple[S3Storage, Stubber]) -> None:
    storage, _ = s3
    with pytest.raises(InvalidKey):
        storage.put("../x", b"", "image/png")
    with pytest.raises(InvalidKey):
        storage.presigned_url("/abs", 10)
