"""A real S3-compatible server for the tests: moto's standalone server, as a subprocess.

moto (``moto[server]`` in the ``dev`` extra) speaks the S3 REST protocol over HTTP on a
loopback port: buckets, objects, multipart uploads, presigned GETs, SigV4 request
signatures once IAM checking is on (:meth:`S3Server.require_signed_requests`). It does NOT
check a presigned URL's signature or expiry (any URL that carries a ``Signature``
parameter is served), so :func:`presigned_verdict` checks those the way AWS does.

A server that cannot start is an error, not a skip: it comes with the dev install.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from support import free_port

REGION = "us-east-1"
ACCESS_KEY = "editserve-test-key"
SECRET_KEY = "editserve-test-secret"

# The server's administrative endpoint (moto's own, not S3).
_ADMIN = "/moto-api"


def aws_env(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> dict[str, str]:
    """Credentials and region for boto3's default chain (what editserve processes read);
    no profile files and no instance-metadata lookups, so nothing else can leak in."""
    return {
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    buckets: list[str] = field(default_factory=list)
    _admin: Any = None

    def admin(self) -> Any:
        """A client with the test credentials, made once (a boto3 client is slow to make)."""
        if self._admin is None:
            self._admin = self.client()
        return self._admin

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(signature_version="s3v4"),
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"editserve-{uuid.uuid4().hex[:12]}"
        self.admin().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        pages = self.admin().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def env(self) -> dict[str, str]:
        """What an editserve process needs to reach this server (plus the storage URL)."""
        return {**aws_env(), "EDITSERVE_S3_ENDPOINT_URL": self.endpoint_url}

    def add_user(self, actions: list[str] | str = "s3:*") -> tuple[str, str]:
        """A user allowed ``actions`` on every S3 resource; its (access key, secret).
        Make users before :meth:`require_signed_requests` (then IAM calls need rights too)."""
        import boto3

        iam = boto3.session.Session().client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        user = f"user-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

    def require_signed_requests(self) -> None:
        """Turn on moto's IAM checks: from now on every request must be SigV4-signed with
        the key of a user it knows (:meth:`add_user`) and allowed by that user's policy.
        Server-wide, for good: use a server of its own."""
        response = httpx.post(f"{self.endpoint_url}{_ADMIN}/reset-auth", content=b"0")
        response.raise_for_status()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_s3_server(log_dir: Path) -> S3Server:
    """moto's server on a free loopback port; raises if it is not answering in time."""
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = log_dir / f"moto-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **aws_env()},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = S3Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server (moto) exited at start:\n{server.log()}")
        try:
            if httpx.get(f"{server.endpoint_url}{_ADMIN}/", timeout=2).is_success:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_s3_server(server)
            raise RuntimeError(f"the S3 server (moto) did not answer in time:\n{server.log()}")
        time.sleep(0.1)


def stop_s3_server(server: S3Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# --- presigned URLs, checked as AWS checks them ---------------------------------------------


def presigned_verdict(url: str, secret_key: str, now: float | None = None) -> str:
    """``ok``, ``expired`` or ``bad signature`` for a SigV4 presigned GET URL.

    The AWS rules, written out here because moto serves any presigned URL: the signature
    covers the method, path, every query parameter but the signature, and the host; the URL
    is good from ``X-Amz-Date`` for ``X-Amz-Expires`` seconds.
    """
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = params.pop("X-Amz-Signature", "")
    amz_date = params["X-Amz-Date"]
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    canonical = "\n".join(
        ["GET", parts.path or "/", canonical_query, f"host:{parts.netloc}", "", "host"]
        + ["UNSIGNED-PAYLOAD"]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "bad signature"
    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    current = time.time() if now is None else now
    if current > signed_at + int(params["X-Amz-Expires"]):
        return "expired"
    return "ok"
