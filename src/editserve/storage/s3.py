"""Blob storage in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph, ...).

``s3://bucket/some/prefix`` stores ``key`` as object ``some/prefix/<key>``. The endpoint
comes from ``settings.s3_endpoint_url`` (None = AWS); credentials and region from the
usual boto3 chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
profiles, instance roles). Presigned GET URLs are signed by boto3 and point at that
endpoint, so it must be reachable by the clients that receive them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from editserve.errors import NotFound
from editserve.storage.base import validate_key

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b/")``; ``s3://bucket`` → ``("bucket", "")``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket[/prefix] URL: {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def make_s3_client(endpoint_url: str | None = None, **kwargs: Any) -> Any:
    """A boto3 S3 client (SigV4, standard retries); ``kwargs`` go to ``Session.client``."""
    import boto3
    from botocore.config import Config

    # boto3 clients are thread-safe (sessions are not): one client per storage object.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(signature_version="s3v4", retries={"mode": "standard"}),
        **kwargs,
    )


class S3Storage:
    """A :class:`~editserve.storage.base.BlobStorage` backed by an S3 bucket."""

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
        self.client = client if client is not None else make_s3_client(endpoint_url)

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Storage:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, endpoint_url=endpoint_url)

    def __repr__(self) -> str:
        return f"S3Storage('s3://{self.bucket}/{self.prefix}')"

    # --- BlobStorage -----------------------------------------------------------------
    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._object_key(key),
            Body=data,
            ContentType=content_type or "application/octet-stream",
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
