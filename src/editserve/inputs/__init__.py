"""Fetching, checking and storing input images safely.

Public API::

    InputResolver(settings, storage, lookup_upload[, budget=InputBudget(...)])
        .fetch(refs, owner, base_urls=[...]) -> list[FetchedInput]   (checked, not stored)
        .store(fetched) -> list[StoredInput]
        .resolve(refs, owner, base_urls=[...]) -> list[StoredInput]   (both)
        .store_upload(data) -> StoredInput
    StoredInput                     key, sha256, content_type, format, width, height, size
                                    (of the bytes stored: metadata stripped unless
                                    keep_input_metadata)
    InputBudget(capacity_bytes)     bytes in flight for checks, per API process (503 over it)
    inspect_image(data, max_pixels=...) -> ImageInfo
    load_rgb(data) -> PIL.Image.Image     (for the worker)
    ImageDecodeError, FetchError, Fetcher, HostPolicy, forbidden_reason
"""

from __future__ import annotations

from editserve.inputs.budget import InputBudget
from editserve.inputs.decode import ImageDecodeError, ImageInfo, inspect_image, load_rgb
from editserve.inputs.resolver import FetchedInput, InputResolver, LookupUpload, StoredInput
from editserve.net.fetch import Fetched, Fetcher, FetchError
from editserve.net.ssrf import ForbiddenAddress, HostPolicy, forbidden_reason

__all__ = [
    "Fetched",
    "FetchedInput",
    "FetchError",
    "Fetcher",
    "ForbiddenAddress",
    "HostPolicy",
    "ImageDecodeError",
    "ImageInfo",
    "InputBudget",
    "InputResolver",
    "LookupUpload",
    "StoredInput",
    "forbidden_reason",
    "inspect_image",
    "load_rgb",
]
