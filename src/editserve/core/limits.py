"""The bounds a node holds under abuse: memory for inputs, request rates, connections and
event streams, webhook deliveries, and what unauthenticated callers may see.

One group of the settings (core/settings.py composes it into ``Settings``): every bound is
per process unless it says otherwise, and each has a default that an ordinary user of the
API never meets.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class NodeLimits(BaseSettings):
    # --- holding under abuse (per API process) ------------------------------------------
    input_memory_mb: int = Field(
        default=1024,
        ge=64,
        description=(
            "Memory for checking and decoding input images at once, per API process (MiB); "
            "a request that would go over it waits briefly, then gets 503 with Retry-After."
        ),
    )
    request_rate_per_key: float = Field(
        default=100.0,
        ge=0,
        description=(
            "Requests per second one key may make to one API process, sustained "
            "(0 = no limit); over it: 429 with Retry-After."
        ),
    )
    request_burst_per_key: int = Field(
        default=300, ge=1, description="Requests one key may make at once above its rate."
    )
    max_event_streams_per_key: int = Field(
        default=16,
        ge=1,
        description="Open /api/events streams per key on one API process; one more is a 429.",
    )
    max_connections: int = Field(
        default=2048,
        ge=16,
        description="Open connections per API process; over it, new requests get 503.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "A connection that has not sent a whole request head this long after it opened "
            "(or after its previous response) is closed."
        ),
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, description="An idle keep-alive connection is closed after this long."
    )
    max_header_bytes: int = Field(
        default=16384,
        ge=1024,
        description="Largest request head (request line and headers); larger is refused.",
    )
    # --- webhook deliveries (per API process) --------------------------------------------
    webhook_concurrency: int = Field(
        default=16, ge=1, description="Webhook deliveries in flight at once."
    )
    webhook_per_owner: int = Field(
        default=4, ge=1, description="Webhook deliveries in flight at once for one key."
    )
    webhook_per_host: int = Field(
        default=4, ge=1, description="Webhook deliveries in flight at once to one host."
    )
    # --- what is stored and shown -------------------------------------------------------
    keep_input_metadata: bool = Field(
        default=False,
        description=(
            "Keep input images' EXIF, XMP and text metadata (GPS included) when storing "
            "them; by default it is stripped (the orientation is kept)."
        ),
    )
    public_details: bool = Field(
        default=False,
        description=(
            "Show file paths, library versions and host names on /readyz and /metrics to "
            "callers without a key (by default only a valid key sees them)."
        ),
    )
