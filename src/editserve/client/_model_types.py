"""Model cards (:class:`Model`) and uploaded input images (:class:`Upload`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Model", "Upload"]


@dataclass(frozen=True)
class Model:
    """A model card of ``GET /api/ai/models``, with its request schema."""

    id: str
    display_name: str | None = None
    summary: str | None = None
    description: str | None = None
    owned_by: str | None = None
    created: int | None = None
    model_type: str | None = None
    endpoint: str | None = None
    source_model: str | None = None
    parameter_count: int | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    developer: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    request_schema: dict[str, Any] = field(default_factory=dict, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        """Build from one model object."""
        return cls(
            id=str(data.get("id") or ""),
            display_name=data.get("display_name"),
            summary=data.get("summary"),
            description=data.get("description"),
            owned_by=data.get("owned_by"),
            created=data.get("created"),
            model_type=data.get("model_type"),
            endpoint=data.get("endpoint"),
            source_model=data.get("source_model"),
            parameter_count=data.get("parameter_count"),
            capabilities=dict(data.get("capabilities") or {}),
            developer=dict(data.get("developer") or {}),
            aliases=list(data.get("aliases") or []),
            request_schema=dict(
                data.get("json_request_schema") or data.get("request_schema") or {}
            ),
            raw=dict(data),
        )

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        """The request schema's properties, in the server's ``x-order``."""
        props = self.request_schema.get("properties") or {}
        return dict(sorted(props.items(), key=lambda item: item[1].get("x-order", 1_000)))

    @property
    def required(self) -> list[str]:
        """Names of the required request fields."""
        return list(self.request_schema.get("required") or [])


@dataclass(frozen=True)
class Upload:
    """An uploaded input image: pass :attr:`url` as an ``input_image``."""

    url: str
    id: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upload:
        """Build from the upload endpoint's response."""
        return cls(
            url=str(data["url"]),
            id=data.get("id"),
            content_type=data.get("content_type"),
            width=data.get("width"),
            height=data.get("height"),
            bytes=data.get("bytes"),
            raw=dict(data),
        )

    def __str__(self) -> str:
        return self.url
