"""The app factory: wiring only. Routes live in api/routes, logic in the services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from editserve._version import __version__
from editserve.api.context import AppServices
from editserve.api.errors import BodySizeLimit, install_error_handlers
from editserve.api.limits import key_ring
from editserve.api.openapi import install_openapi
from editserve.api.routes import (
    admin,
    batches,
    events,
    files,
    generations,
    health,
    images,
    metrics,
    models,
    openai,
    queue,
    uploads,
    usage,
    web,
)
from editserve.api.routes.docs import install_docs
from editserve.blobs import open_storage
from editserve.blobs.base import BlobStorage
from editserve.blobs.links import UrlFor, link_maker
from editserve.blobs.signing import UrlSigner
from editserve.core.settings import Settings
from editserve.inputs.own_links import OwnLinks
from editserve.inputs.resolver import InputResolver
from editserve.models.registry import (
    ModelRegistry,
    default_registry,
    resolve_models,
    served_registry,
)
from editserve.services.batches.service import BatchService
from editserve.services.catalog import ModelCatalog
from editserve.services.cluster.secret import cluster_signing_secret
from editserve.services.generations.service import GenerationService
from editserve.services.generations.sync import SyncCalls
from editserve.services.key_admin import KeyAdmin
from editserve.services.metrics import StoreMetrics
from editserve.services.openai.images import OpenAIImages
from editserve.services.retention.auto import run_retention
from editserve.services.uploads import UploadService, upload_lookup
from editserve.services.usage.prices import load_prices
from editserve.services.usage.report import UsageService
from editserve.services.webhooks.dispatcher import WebhookDispatcher
from editserve.store import Store, open_store

log = logging.getLogger("editserve.api")


def build_services(
    settings: Settings,
    registry: ModelRegistry | None = None,
    *,
    store: Store | None = None,
    storage: BlobStorage | None = None,
) -> AppServices:
    """The services of one API process (store and storage: opened here unless given,
    e.g. by the start-up check that proved them usable)."""
    known = registry or default_registry()
    settings = resolve_models(settings, known)  # model names → ids (ValueError if unknown)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only if made here
    store = store or open_store(settings)
    storage = storage or open_storage(settings)
    # the cluster's shared secret (EDITSERVE_SIGNING_SECRET, else the cluster record)
    signer = UrlSigner(cluster_signing_secret(settings, store))
    # What this server serves (EDITSERVE_MODELS, first = default): a registered model that
    # is not served answers 404 "Model not found", as an unknown one does.
    registry = served_registry(settings, known)
    own_links = OwnLinks(signer, store)  # result URLs as input_image, on any node
    inputs = InputResolver(settings, storage, upload_lookup(store), own_links=own_links)
    prices = load_prices(settings.prices, settings.price_currency)  # InvalidParams if bad
    usage_service = UsageService(settings, store, prices)
    generations = GenerationService(settings, store, registry, inputs, storage, usage_service)
    sync = SyncCalls(generations, storage)
    batches = BatchService(settings, store, generations, storage)
    return AppServices(
        settings=settings,
        store=store,
        storage=storage,
        signer=signer,
        registry=registry,
        generations=generations,
        models=ModelCatalog(settings, store, registry, prices),
        uploads=UploadService(store, storage, inputs),
        metrics=StoreMetrics(store, registry),
        keys=key_ring(settings, store),  # metered: request_rate_per_key (api/limits.py)
        sync=sync,
        openai=OpenAIImages(settings, generations, sync, registry),
        webhooks=WebhookDispatcher(settings, store, _background_links(settings, signer)),
        inputs=inputs,
        usage=usage_service,
        batches=batches,
        key_admin=KeyAdmin(settings, store),
    )


def _background_links(settings: Settings, signer: UrlSigner) -> UrlFor:
    """Links in what this node sends unasked (webhooks): its public URL, else its address."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return link_maker(signer, base)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The process's one event hub (SSE, sync edits), its webhook sender and its periodic
    prune (EDITSERVE_RETENTION_DAYS) run while the server does."""
    services: AppServices = app.state.services
    hub = services.generations.feed.hub
    await hub.start()
    stop = asyncio.Event()
    sender = asyncio.create_task(services.webhooks.run(stop), name="webhooks")
    prune = run_retention(services.settings, services.store, services.storage, stop)
    pruner = asyncio.create_task(prune, name="retention")
    try:
        yield
    finally:
        stop.set()
        await sender
        await pruner
        await hub.stop()


def create_app(settings: Settings, services: AppServices | None = None) -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="editserve",
        version=__version__,
        description="Self-hosted, Oxen-compatible inference server for the Qwen-Image family.",
        docs_url=None,  # served by install_docs from vendored assets
        redoc_url=None,
    )
    app.state.services = services or build_services(settings)
    install_error_handlers(app)
    install_docs(app)
    routers = (
        images,
        queue,
        batches,
        generations,
        events,
        models,
        uploads,
        files,
        health,
        metrics,
        openai,
        usage,
        admin,
        web,
    )
    for module in routers:
        app.include_router(module.router)
    install_openapi(app, app.state.services.registry)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Bearer keys, not cookies: credentials are never needed cross-origin.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        )
    return app
