from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from editserve.blobs import InvalidKey, UrlSigner, read_secret_file

KEY = "outputs/6f1c0d3e-9b1a-4b8e-8a0e-1f2d3c4b5a69.webp"


@pytest.fixture
def signer() -> UrlSigner:
    return UrlSigner(b"s3cret")


def test_sign_and_verify(signer: UrlSigner) -> None:
    expires = int(time.time()) + 60
    signature = signer.sign(KEY, expires)
    assert len(signature) == 64 and int(signature, 16) >= 0
    assert signer.verify(KEY, expires, signature)
    assert signer.verify(KEY, str(expires), signature)  # as read from a query string
    assert signer.verify(KEY, expires, signature.upper())


def test_verify_rejects_tampering(signer: UrlSigner) -> None:
    expires = int(time.time()) + 60
    signature = signer.sign(KEY, expires)
    assert not signer.verify("outputs/other.webp", expires, signature)
    assert not signer.verify(KEY, expires + 1, signature)
    assert not signer.verify(KEY, expires, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    assert not signer.verify(KEY, expires, "")
    assert not signer.verify(KEY, expires, "zz" * 32)
    assert not signer.verify(KEY, expires, "é" * 64)
    assert not signer.verify(KEY, "soon", signature)
    assert not signer.verify(KEY, "", signature)
    assert not UrlSigner(b"other").verify(KEY, expires, signature)


def test_verify_rejects_expired(signer: UrlSigner) -> None:
    now = 1_700_000_000
    signature = signer.sign(KEY, now + 10)
    assert signer.verify(KEY, now + 10, signature, now=now)
    assert signer.verify(KEY, now + 10, signature, now=now + 9.5)
    assert not signer.verify(KEY, now + 10, signature, now=now + 10)
    assert not signer.verify(KEY, now + 10, signature, now=now + 3600)


def test_signed_path(signer: UrlSigner) -> None:
    path = signer.signed_path(KEY, 300, now=1_700_000_000)
    parts = urlsplit(path)
    assert parts.path == f"/files/{KEY}"
    query = parse_qs(parts.query)
    assert query["expires"] == ["1700000300"]
    key = unquote(parts.path.removeprefix("/files/"))
    assert signer.verify(key, query["expires"][0], query["signature"][0], now=1_700_000_000)
    assert not signer.verify(key, query["expires"][0], query["signature"][0], now=1_700_000_301)


def test_signed_path_rejects_bad_keys(signer: UrlSigner) -> None:
    with pytest.raises(InvalidKey):
        signer.signed_path("../etc/passwd", 60)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        UrlSigner(b"")


def test_a_data_dir_secret_from_before_the_cluster_record_is_read(tmp_path: Path) -> None:
    assert read_secret_file(tmp_path) is None  # none there
    (tmp_path / "signing_secret").write_text("old-secret\n")
    assert read_secret_file(tmp_path) == "old-secret"
    (tmp_path / "signing_secret").write_bytes(b"\xff\xfe")
    assert read_secret_file(tmp_path) is None  # not a secret editserve wrote


# --- lasting links ---------------------------------------------------------------------------


def test_lasting_path_verifies_with_no_expiry(signer: UrlSigner) -> None:
    path = signer.lasting_path(KEY)
    parts = urlsplit(path)
    assert parts.path == f"/files/{KEY}"
    query = parse_qs(parts.query)
    assert set(query) == {"signature"}
    [signature] = query["signature"]
    assert len(signature) == 64
    assert signer.verify_link(KEY, None, signature)
    assert signer.verify_link(KEY, None, signature.upper())
    # No clock is involved: the same link verifies years from now.
    assert signer.verify_link(KEY, None, signature, now=time.time() + 20 * 365 * 86400)
    assert signer.lasting_path(KEY) == path  # stable: one link per blob


def test_lasting_links_refuse_tampering(signer: UrlSigner) -> None:
    signature = signer.sign_lasting(KEY)
    assert not signer.verify_link("outputs/other.webp", None, signature)
    assert not signer.verify_link(
        KEY, None, signature[:-1] + ("0" if signature[-1] != "0" else "1")
    )
    assert not signer.verify_link(KEY, None, "")
    assert not signer.verify_link(KEY, None, "é" * 64)
    assert not UrlSigner(b"other").verify_link(KEY, None, signature)  # a rotated secret
    # The two forms do not stand in for each other.
    expires = int(time.time()) + 60
    assert not signer.verify_link(KEY, expires, signature)
    assert not signer.verify_link(KEY, None, signer.sign(KEY, expires))
    assert signer.sign_lasting(KEY) != signer.sign(KEY, 0)


def test_old_expiring_links_still_verify_until_they_expire(signer: UrlSigner) -> None:
    now = 1_700_000_000
    parts = urlsplit(signer.signed_path(KEY, 300, now=now))
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert signer.verify_link(KEY, query["expires"], query["signature"], now=now + 299)
    assert not signer.verify_link(KEY, query["expires"], query["signature"], now=now + 300)
    assert not signer.verify_link(KEY, str(now + 9999), query["signature"], now=now)


def test_lasting_path_rejects_bad_keys(signer: UrlSigner) -> None:
    with pytest.raises(InvalidKey):
        signer.lasting_path("../etc/passwd")
