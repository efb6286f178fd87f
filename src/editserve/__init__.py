"""editserve: a self-hosted, Oxen-compatible inference server for Qwen-Image-Edit-2509."""

from __future__ import annotations

from typing import Any

from editserve._version import __version__ as __version__

# `editserve.Client` without importing the server (or torch): resolved on first use.
_LAZY_CLIENT_EXPORTS = ("Client", "AsyncClient", "APIError")


def __getattr__(name: str) -> Any:
    if name in _LAZY_CLIENT_EXPORTS:
        from editserve import client

        return getattr(client, name)
    raise AttributeError(f"module 'editserve' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_CLIENT_EXPORTS])
