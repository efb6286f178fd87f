"""GET /api/ai/generations/{id}/lineage: the edit tree a generation belongs to.

Its ancestors (the generations whose results it was made from, and theirs) and its
descendants (those made from its result, and from theirs), as nodes and edges. A node
whose generation retention pruned keeps its place with ``status: "pruned"``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from editserve.blobs.links import UrlFor
from editserve.core.errors import NotFound
from editserve.domain.record import Generation, Status
from editserve.store import RecordStore


class LineageNode(BaseModel):
    generation_id: str
    depth: int = Field(description="-1: its parent, -2: a grandparent, 0: itself, 1: a child…")
    status: Status | Literal["pruned"]
    model_name: str | None
    prompt: str | None
    result_url: str | None
    enqueued_at: int | None
    completed_at: int | None


class LineageEdge(BaseModel):
    parent: str
    child: str


class LineageView(BaseModel):
    generation_id: str
    nodes: list[LineageNode] = Field(description="Ancestors (nearest first), it, descendants.")
    edges: list[LineageEdge]


def lineage_view(
    store: RecordStore, owner: str, generation_id: str, url_for: UrlFor
) -> LineageView:
    """The tree around the owner's generation; NotFound if it is not the owner's (a pruned
    one still answers while edges name it)."""
    found = store.lineage(generation_id, owner)
    if generation_id not in found.generations and not (found.ancestors or found.descendants):
        raise NotFound(f"Generation not found: {generation_id}")
    depths: dict[str, int] = {generation_id: 0}
    for edge in found.ancestors:
        depths.setdefault(edge.parent, -edge.depth)
    for edge in found.descendants:
        depths.setdefault(edge.child, edge.depth)
    nodes = [
        _node(node_id, depth, found.generations.get(node_id), url_for)
        for node_id, depth in sorted(depths.items(), key=lambda item: (item[1], item[0]))
    ]
    edges = {(e.parent, e.child) for e in found.ancestors + found.descendants}
    return LineageView(
        generation_id=generation_id,
        nodes=nodes,
        edges=[LineageEdge(parent=p, child=c) for p, c in sorted(edges)],
    )


def _node(node_id: str, depth: int, gen: Generation | None, url_for: UrlFor) -> LineageNode:
    if gen is None:
        return LineageNode(
            generation_id=node_id, depth=depth, status="pruned", model_name=None, prompt=None,
            result_url=None, enqueued_at=None, completed_at=None,
        )  # fmt: skip
    return LineageNode(
        generation_id=gen.id,
        depth=depth,
        status=gen.status,
        model_name=gen.model,
        prompt=gen.params.get("prompt"),
        result_url=url_for(gen.result_key) if gen.result_key else None,
        enqueued_at=int(gen.enqueued_at),
        completed_at=int(gen.completed_at) if gen.completed_at is not None else None,
    )


__all__ = ["LineageView", "lineage_view"]
