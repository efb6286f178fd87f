"""Fetching, checking and storing input images safely.

Public API::

    InputResolver(settings, storage, lookup_upload)
        .fetch(refs, owner, base_urls=[...]) -> list[FetchedInput]   (checked, not stored)
        .store(fetched) -> list[StoredInput]
        .resolve(refs, owner, base_urls=[...]) -> list[StoredInput]   (both)
        .store_upload(data) -> StoredInput
    StoredInput                     key, sha256, content_type, format, width, height, size
    inspect_image(data, max_pixels=...) -> ImageInfo
    load_rgb(data) -> PIL.Image.Image     (for the worker)
    ImageDecodeError, FetchError, Fetcher, HostPolicy, forbidden_reason
"""

from __future__ import annotations

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
    "InputResolver",
    "LookupUpload",
    "StoredInput",
    "forbidden_reason",
    "inspect_image",
    "load_rgb",
]
