"""Verifying editserve's webhook deliveries (Standard Webhooks signatures).

::

    from editserve.client import verify_webhook, WebhookVerificationError

    event = verify_webhook(secret, request.headers, request.body)  # raises if forged/stale
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from editserve.client._exceptions import ClientError

TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(ClientError):
    """The delivery's signature or timestamp does not check out: do not trust its body."""


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_seconds: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a delivery signed with the key's ``whsec_`` secret; return its parsed JSON.

    Raises WebhookVerificationError when a header is missing, the timestamp is further
    than ``tolerance_seconds`` from now (replays), or no ``v1`` signature matches.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    raw = body.encode() if isinstance(body, str) else body
    try:
        message_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
        offered = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        raise WebhookVerificationError("missing or malformed webhook-* headers") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too old or in the future")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in offered:
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            parsed: dict[str, Any] = json.loads(raw)
            return parsed
    raise WebhookVerificationError("no webhook-signature matches this secret")
