"""S3 against a real server process where the folder has no counterpart: credentials the
server refuses, credentials that may read but not write, no credentials at all, endpoints
that refuse or never answer, multipart uploads.

Credentials are checked by a moto server of its own with IAM checks on (every request must
be SigV4-signed with a key of a user it knows), so the shared server stays open.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fixtures.s3 import S3Server, aws_env, start_s3_server, stop_s3_server
from fixtures.support import free_port

from editserve.blobs import S3Storage, StorageUnavailable
from editserve.blobs.s3 import MULTIPART_CHUNK, MULTIPART_THRESHOLD

PREFIX = "node/files"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@dataclass
class Strict:
    server: S3Server
    bucket: str
    access: str  # a user the server knows, allowed everything on S3
    secret: str
    reader: tuple[str, str]  # one allowed to list and read only


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Strict]:
    """A moto server that checks signatures, with a bucket and a user key for it."""
    server = start_s3_server(tmp_path_factory.mktemp("s3-strict"))
    try:
        bucket = server.create_bucket()
        access, secret = server.add_user("s3:*")
        # moto asks for "s3:HeadBucket" where AWS asks for s3:ListBucket: allow both
        reader = server.add_user(["s3:ListBucket", "s3:HeadBucket", "s3:GetObject"])
        server.require_signed_requests()
        yield Strict(server, bucket, access, secret, reader)
    finally:
        stop_s3_server(server)


def storage_with(
    monkeypatch: pytest.MonkeyPatch, server: S3Server, bucket: str, access: str, secret: str
) -> S3Storage:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    return S3Storage(bucket, PREFIX, endpoint_url=server.endpoint_url)


def test_check_accepts_a_user_the_server_knows(aws: pytest.MonkeyPatch, strict: Strict) -> None:
    storage = storage_with(aws, strict.server, strict.bucket, strict.access, strict.secret)
    storage.check()
    storage.put("inputs/a.png", b"png", "image/png")
    assert storage.get("inputs/a.png") == b"png"


@pytest.mark.parametrize("which", ["wrong secret", "unknown key"])
def test_check_refuses_bad_credentials_and_names_the_fix(
    aws: pytest.MonkeyPatch, strict: Strict, which: str
) -> None:
    bucket = strict.bucket
    access = "AKIAEDITSERVEUNKNOWN" if which == "unknown key" else strict.access
    storage = storage_with(aws, strict.server, bucket, access, "not-the-secret")
    with pytest.raises(StorageUnavailable) as info:
        storage.check()
    message = str(info.value)
    assert f"access to bucket {bucket!r} denied (HTTP 403)" in message
    assert "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in message
    assert f"s3://{bucket}/{PREFIX}/" in message


def test_check_refuses_credentials_that_cannot_write(
    aws: pytest.MonkeyPatch, strict: Strict
) -> None:
    writer = storage_with(aws, strict.server, strict.bucket, strict.access, strict.secret)
    writer.put("inputs/r.png", b"r", "image/png")
    storage = storage_with(aws, strict.server, strict.bucket, *strict.reader)
    assert storage.get("inputs/r.png") == b"r"  # the key and the bucket are fine for reading
    with pytest.raises(StorageUnavailable) as info:
        storage.check()
    assert "writing to it failed" in str(info.value)
    assert "s3:PutObject" in str(info.value)


def test_check_without_any_credentials_says_which_to_set(
    aws: pytest.MonkeyPatch, s3_server: S3Server
) -> None:
    aws.delenv("AWS_ACCESS_KEY_ID")
    aws.delenv("AWS_SECRET_ACCESS_KEY")
    storage = S3Storage(s3_server.create_bucket(), PREFIX, endpoint_url=s3_server.endpoint_url)
    with pytest.raises(StorageUnavailable) as info:
        storage.check()
    assert "no AWS credentials found" in str(info.value)
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in str(info.value)


@pytest.mark.timeout(60)  # a hang here is the bug; one attempt with short timeouts is the fix
def test_check_on_an_unreachable_endpoint_fails_and_names_it(aws: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    storage = S3Storage("some-bucket", PREFIX, endpoint_url=endpoint)
    with pytest.raises(StorageUnavailable) as info:
        storage.check()
    message = str(info.value)
    assert endpoint in message and "cannot be reached" in message
    assert "EDITSERVE_S3_ENDPOINT_URL" in message


@pytest.mark.timeout(60)  # boto3's defaults (60 s read timeout, 3 attempts) would take 3 min
def test_check_on_an_endpoint_that_never_answers_gives_up(aws: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        storage = S3Storage("some-bucket", PREFIX, endpoint_url=endpoint)
        with pytest.raises(StorageUnavailable) as info:
            storage.check()
    message = str(info.value)
    assert endpoint in message and "did not answer in time" in message
    assert "EDITSERVE_S3_ENDPOINT_URL" in message


def test_large_bodies_go_up_in_parts(aws: pytest.MonkeyPatch, s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    storage = S3Storage(bucket, PREFIX, endpoint_url=s3_server.endpoint_url)
    body = os.urandom(MULTIPART_THRESHOLD + MULTIPART_CHUNK // 2)
    storage.put("outputs/big.png", body, "")
    storage.put("outputs/small.png", b"small", "")
    head = s3_server.admin().head_object(Bucket=bucket, Key=f"{PREFIX}/outputs/big.png")
    assert head["ETag"].strip('"').endswith("-2")  # a multipart object of two parts
    assert head["ContentType"] == "image/png" and head["ContentLength"] == len(body)
    small = s3_server.admin().head_object(Bucket=bucket, Key=f"{PREFIX}/outputs/small.png")
    assert "-" not in small["ETag"]  # one PutObject
    assert storage.get("outputs/big.png") == body
    # no upload left open behind it
    uploads = s3_server.admin().list_multipart_uploads(Bucket=bucket)
    assert not uploads.get("Uploads")


def test_probe_leaves_nothing_in_the_bucket(aws: pytest.MonkeyPatch, s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    storage = S3Storage(bucket, PREFIX, endpoint_url=s3_server.endpoint_url)
    storage.check()
    storage.check()
    assert s3_server.list_keys(bucket) == []
