"""Standard Webhooks signatures: what the server signs, the client's helper verifies; a
changed body, another secret, a stale timestamp or a missing header are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from editserve.client import WebhookVerificationError, verify_webhook
from editserve.domain import webhook_signing as signing

BODY = json.dumps({"type": "generation.completed", "data": {"status": "succeeded"}}).encode()


def test_a_signed_delivery_verifies_and_yields_its_json() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    now = int(time.time())
    headers = signing.headers(secret, "msg_1", now, BODY)
    assert verify_webhook(secret, headers, BODY)["data"]["status"] == "succeeded"
    # header names are case-insensitive, and the body may come as text
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify_webhook(secret, upper, BODY.decode())["type"] == "generation.completed"


def test_the_signature_is_the_standard_one() -> None:
    """v1 = base64(HMAC-SHA256(base64decode(secret without whsec_), "id.timestamp.body"))."""
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = hmac.new(key, b"msg_7.1700000000." + BODY, hashlib.sha256).digest()
    assert signing.signature(secret, "msg_7", 1700000000, BODY) == (
        "v1," + base64.b64encode(expected).decode()
    )


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "stale", "future", "missing", "id"],
)
def test_forged_or_stale_deliveries_are_refused(tamper: str) -> None:
    secret, other = signing.new_secret(), signing.new_secret()
    now = int(time.time())
    headers = signing.headers(secret, "msg_1", now, BODY)
    body = BODY
    if tamper == "body":
        body = BODY.replace(b"succeeded", b"failed")
    elif tamper == "secret":
        secret = other
    elif tamper == "stale":
        headers = signing.headers(secret, "msg_1", now - 3600, BODY)
    elif tamper == "future":
        headers = signing.headers(secret, "msg_1", now + 3600, BODY)
    elif tamper == "missing":
        del headers["webhook-signature"]
    elif tamper == "id":
        headers["webhook-id"] = "msg_2"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers, body)


def test_any_of_several_signatures_may_match_during_a_secret_rotation() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    now = int(time.time())
    both = signing.signature(old, "m", now, BODY) + " " + signing.signature(new, "m", now, BODY)
    headers = {"webhook-id": "m", "webhook-timestamp": str(now), "webhook-signature": both}
    assert verify_webhook(new, headers, BODY) and verify_webhook(old, headers, BODY)
