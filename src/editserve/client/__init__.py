"""The editserve Python client: talk to an editserve server (or the hosted API it mirrors).

::

    from editserve import Client

    with Client("http://127.0.0.1:8000", api_key="es_...") as client:
        result = client.images.edit(prompt="Make it snow", input_image="cat.png")
        result.save("snowy-cat.png")

The exception tree is documented in :mod:`editserve.client._exceptions`.
"""

from editserve.client._admin_types import (
    ApiKey,
    AuditEntry,
    AuditPage,
    Quotas,
    UsageReport,
    UsageRow,
)
from editserve.client._async_client import AsyncClient
from editserve.client._base import DEFAULT_BASE_URL, DEFAULT_MODEL, QUEUED_EVENT
from editserve.client._batch_types import Batch, BatchCounts, BatchPage, BatchResult
from editserve.client._client import Client
from editserve.client._exceptions import (
    APIError,
    AuthenticationError,
    ClientError,
    ConnectionError,
    GenerationCancelled,
    GenerationError,
    GenerationFailed,
    GenerationTimeout,
    InvalidRequestError,
    NotFoundError,
    PermissionDenied,
    RateLimitError,
    ServerError,
)
from editserve.client._inputs import ImageInput
from editserve.client._lineage_types import Lineage, LineageEdge, LineageNode
from editserve.client._types import (
    EditResult,
    Event,
    EventType,
    Generation,
    GenerationPage,
    Image,
    Model,
    Progress,
    Upload,
)
from editserve.client._webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "WebhookVerificationError",
    "verify_webhook",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "QUEUED_EVENT",
    "APIError",
    "ApiKey",
    "AsyncClient",
    "AuditEntry",
    "AuditPage",
    "AuthenticationError",
    "Batch",
    "BatchCounts",
    "BatchPage",
    "BatchResult",
    "Client",
    "ClientError",
    "ConnectionError",
    "EditResult",
    "Event",
    "EventType",
    "Generation",
    "GenerationCancelled",
    "GenerationError",
    "GenerationFailed",
    "GenerationPage",
    "GenerationTimeout",
    "Image",
    "ImageInput",
    "InvalidRequestError",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "Model",
    "NotFoundError",
    "PermissionDenied",
    "Progress",
    "Quotas",
    "RateLimitError",
    "ServerError",
    "Upload",
    "UsageReport",
    "UsageRow",
]
