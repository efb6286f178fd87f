"""Blob storage in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph, ...).

``s3://bucket/some/prefix`` stores ``key`` as object ``some/prefix/<key>``. The endpoint
comes from ``settings.s3_endpoint_url`` (None = AWS); credentials and region from the
usual boto3 chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
profiles, instance roles). Presigned GET URLs are signed by boto3 and point at that
endpoint, so it must be reachable by the clients that receive them.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from editserve.blobs.base import StorageUnavailable, guess_content_type, validate_key
from editserve.core.errors import NotFound

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}

# Bodies from this size on go up in parts (several requests, each retried on its own);
# smaller ones in one PutObject. Either way the object appears whole or not at all.
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK = 8 * 1024 * 1024

# The start-up check answers quickly when the endpoint is down instead of retrying for
# minutes: one attempt, short timeouts (seconds).
CHECK_CONNECT_TIMEOUT = 3
CHECK_READ_TIMEOUT = 5


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b/")``; ``s3://bucket`` → ``("bucket", "")``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket[/prefix] URL: {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def make_s3_client(endpoint_url: str | None = None, *, quick: bool = False, **kwargs: Any) -> Any:
    """A boto3 S3 client (SigV4, standard retries); ``kwargs`` go to ``Session.client``.

    ``quick``: one attempt and short timeouts (the start-up check).
    """
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {"retries": {"mode": "standard"}}
    if quick:
        options = {
            "retries": {"mode": "standard", "total_max_attempts": 1},
            "connect_timeout": CHECK_CONNECT_TIMEOUT,
            "read_timeout": CHECK_READ_TIMEOUT,
        }
    # boto3 clients are thread-safe (sessions are not): one client per storage object.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(signature_version="s3v4", **options),
        **kwargs,
    )


class S3Storage:
    """A :class:`~editserve.blobs.base.BlobStorage` backed by an S3 bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.client = client if client is not None else make_s3_client(endpoint_url)
        self._given_client = client is not None

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Storage:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, endpoint_url=endpoint_url)

    def __repr__(self) -> str:
        return f"S3Storage('s3://{self.bucket}/{self.prefix}')"

    # --- BlobStorage -----------------------------------------------------------------
    def check(self) -> None:
        """The bucket exists, the credentials are accepted, and they may write and delete
        (a probe object under a name no blob key can take, removed at once)."""
        # Answer fast when the endpoint is down: a twin with one attempt and short
        # timeouts, made only here (check runs once, at start-up).
        client = (
            self.client if self._given_client else make_s3_client(self.endpoint_url, quick=True)
        )
        where = f"s3://{self.bucket}/{self.prefix}"
        if self.endpoint_url:
            where += f" at {self.endpoint_url}"
        try:
            client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise StorageUnavailable(f"storage {where}: {_why(exc, self.bucket)}") from None
        probe = f"{self.prefix}.editserve-check/{uuid.uuid4().hex}"
        try:
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok")
            client.delete_object(Bucket=self.bucket, Key=probe)
        except Exception as exc:
            raise StorageUnavailable(
                f"storage {where}: the bucket is there but writing to it failed "
                f"({_why(exc, self.bucket)}); give these credentials s3:PutObject and "
                "s3:DeleteObject on it"
            ) from None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        object_key = self._object_key(key)
        kind = content_type or guess_content_type(key)
        if len(data) < MULTIPART_THRESHOLD:
            self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data, ContentType=kind)
            return
        from boto3.s3.transfer import TransferConfig

        self.client.upload_fileobj(
            io.BytesIO(data),
            self.bucket,
            object_key,
            ExtraArgs={"ContentType": kind},
            Config=TransferConfig(
                multipart_threshold=MULTIPART_THRESHOLD,
                multipart_chunksize=MULTIPART_CHUNK,
                max_concurrency=4,
            ),
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except Exception as exc:
            if _is_missing(exc):
                raise NotFound(f"Blob not found: {key}") from None
            raise
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def content_type(self, key: str) -> str:
        return str(self._head(key).get("ContentType") or "application/octet-stream")

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._object_key(key)},
                ExpiresIn=int(ttl_seconds),
            )
        )

    # --- helpers -----------------------------------------------------------------------
    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _head(self, key: str) -> dict[str, Any]:
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._object_key(key)))
        except Exception as exc:
            if _is_missing(exc):
                raise NotFound(f"Blob not found: {key}") from None
            raise


def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _MISSING_CODES or status == 404


def _why(exc: Exception, bucket: str) -> str:
    """What went wrong with an S3 call and what to fix, without library text."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError, ReadTimeoutError

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or a profile or instance role)"
        )
    if isinstance(exc, ReadTimeoutError):
        return (
            "the endpoint took the connection but did not answer in time: check that "
            "EDITSERVE_S3_ENDPOINT_URL points at an S3 service"
        )
    if isinstance(exc, BotoConnectionError):
        return (
            "the endpoint cannot be reached: check EDITSERVE_S3_ENDPOINT_URL and that the "
            "S3 service is running"
        )
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            return (
                f"bucket {bucket!r} does not exist: create it, or fix the bucket in "
                "EDITSERVE_STORAGE_URL"
            )
        if status in (401, 403):
            return (
                f"access to bucket {bucket!r} denied (HTTP {status}): check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy"
            )
        if status == 301:
            return f"bucket {bucket!r} is in another region: set AWS_REGION to its region"
        return f"bucket {bucket!r} answered HTTP {status}"
    return f"unexpected failure ({type(exc).__name__})"
