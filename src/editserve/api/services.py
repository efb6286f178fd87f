"""Everything a request handler needs, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from editserve.config import Settings
from editserve.generations.service import GenerationService
from editserve.inputs.resolver import InputResolver
from editserve.models.registry import ModelRegistry
from editserve.storage.base import BlobStorage
from editserve.storage.signing import UrlSigner
from editserve.store.base import Store


@dataclass
class AppServices:
    settings: Settings
    store: Store
    storage: BlobStorage
    signer: UrlSigner
    registry: ModelRegistry
    generations: GenerationService
    inputs: InputResolver


def services(request: Request) -> AppServices:
    return request.app.state.services  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    """The base URL clients reach this server at (no trailing slash)."""
    configured = request.app.state.services.settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


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
