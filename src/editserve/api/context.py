"""Everything a request handler needs, built once per app, and how a request names itself."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from editserve.blobs.base import BlobStorage
from editserve.blobs.links import UrlFor, link_maker
from editserve.blobs.signing import UrlSigner
from editserve.core.settings import Settings
from editserve.inputs.resolver import InputResolver
from editserve.models.registry import ModelRegistry
from editserve.services.batches.service import BatchService
from editserve.services.catalog import ModelCatalog
from editserve.services.generations.service import GenerationService
from editserve.services.generations.sync import SyncCalls
from editserve.services.key_admin import KeyAdmin
from editserve.services.keys import KeyRing
from editserve.services.metrics import StoreMetrics
from editserve.services.openai.images import OpenAIImages
from editserve.services.uploads import UploadService
from editserve.services.usage.report import UsageService
from editserve.services.webhooks.dispatcher import WebhookDispatcher
from editserve.store import Store


@dataclass
class AppServices:
    settings: Settings
    store: Store  # for the services below and for tests; routes never use it
    storage: BlobStorage
    signer: UrlSigner
    registry: ModelRegistry
    generations: GenerationService
    sync: SyncCalls  # the calls that wait for their pictures
    models: ModelCatalog
    uploads: UploadService
    metrics: StoreMetrics
    keys: KeyRing
    openai: OpenAIImages
    webhooks: WebhookDispatcher
    inputs: InputResolver
    usage: UsageService  # GET /api/ai/usage, the quotas at enqueue
    key_admin: KeyAdmin  # the admin API's keys
    batches: BatchService  # /api/ai/batches


def services(request: Request) -> AppServices:
    return request.app.state.services  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    """The base URL clients reach this server at (no trailing slash)."""
    configured = request.app.state.services.settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def own_base_urls(request: Request) -> list[str]:
    """Every base URL this server answers a request under (to recognise upload URLs)."""
    return sorted({str(request.base_url).rstrip("/"), base_url(request)})


def url_builder(request: Request) -> UrlFor:
    """Links for this request's responses (their base is the URL the client used)."""
    svc = services(request)
    return link_maker(svc.signer, base_url(request))
