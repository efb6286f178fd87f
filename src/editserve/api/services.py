"""Everything a request handler needs, built once per app, and how a request names itself."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from editserve.catalog import ModelCatalog
from editserve.compat.openai_images import OpenAIImages
from editserve.config import Settings
from editserve.generations.service import GenerationService
from editserve.inputs.resolver import InputResolver
from editserve.keys import KeyRing
from editserve.metrics import StoreMetrics
from editserve.models.registry import ModelRegistry
from editserve.storage.base import BlobStorage
from editserve.storage.signing import UrlSigner
from editserve.store import Store
from editserve.uploads import UploadService


@dataclass
class AppServices:
    settings: Settings
    store: Store  # for the services below and for tests; routes never use it
    storage: BlobStorage
    signer: UrlSigner
    registry: ModelRegistry
    generations: GenerationService
    models: ModelCatalog
    uploads: UploadService
    metrics: StoreMetrics
    keys: KeyRing
    openai: OpenAIImages
    inputs: InputResolver


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


class UrlBuilder:
    """Turns storage keys into URLs that work without the Bearer header, for a while."""

    def __init__(self, svc: AppServices, base: str) -> None:
        self._svc = svc
        self._base = base

    def __call__(self, key: str) -> str:
        ttl = self._svc.settings.url_ttl_seconds
        presigned = self._svc.storage.presigned_url(key, ttl)
        if presigned:
            return presigned
        return self._base + self._svc.signer.signed_path(key, ttl)


def url_builder(request: Request) -> UrlBuilder:
    return UrlBuilder(services(request), base_url(request))
