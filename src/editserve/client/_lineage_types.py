"""What ``client.generations.lineage`` returns: a generation's edit tree (:class:`Lineage`),
its nodes (:class:`LineageNode`) and edges (:class:`LineageEdge`). No I/O here.

An edit whose input was one of the key's own result links records that generation as its
parent; ``GET /api/ai/generations/{id}/lineage`` answers with the asked generation, its
ancestors and its descendants (at most 64 generations each way). A node whose generation
retention pruned keeps its place with ``status == "pruned"`` (and no prompt or result).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from editserve.client._image_types import Image

__all__ = ["PRUNED", "Lineage", "LineageEdge", "LineageNode"]

PRUNED = "pruned"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, eq=False)
class LineageNode:
    """One generation of an edit tree.

    ``depth`` is its place relative to the asked generation: ``-1`` its parent, ``-2`` a
    grandparent, ``0`` the asked one, ``1`` a child, ... ``status`` is a generation's
    status, or ``"pruned"`` for one that retention deleted (its other fields are then
    ``None``).
    """

    generation_id: str
    depth: int
    status: str
    model_name: str | None = None
    prompt: str | None = None
    result_url: str | None = None
    enqueued_at: int | None = None
    completed_at: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    _client: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, client: Any = None) -> LineageNode:
        """Build from one item of the lineage's ``nodes``."""
        return cls(
            generation_id=str(data.get("generation_id") or ""),
            depth=int(data.get("depth") or 0),
            status=str(data.get("status") or "unknown"),
            model_name=data.get("model_name"),
            prompt=data.get("prompt"),
            result_url=data.get("result_url"),
            enqueued_at=_int(data.get("enqueued_at")),
            completed_at=_int(data.get("completed_at")),
            raw=dict(data),
            _client=client,
        )

    @property
    def id(self) -> str:
        """Alias of :attr:`generation_id`."""
        return self.generation_id

    @property
    def pruned(self) -> bool:
        """True if retention deleted this generation (it only keeps its place in the tree)."""
        return self.status == PRUNED

    @property
    def image(self) -> Image | None:
        """Its result (``read_bytes``, ``save``, ``to_pil``), or ``None`` without one."""
        if not self.result_url:
            return None
        return Image(url=self.result_url, generation_id=self.generation_id, _client=self._client)


@dataclass(frozen=True)
class LineageEdge:
    """``child`` was made from ``parent``'s result."""

    parent: str
    child: str


@dataclass(frozen=True)
class Lineage:
    """The edit tree around one generation: ``nodes`` (ancestors nearest first, the asked
    generation, then descendants) and ``edges``. Iterating gives the nodes."""

    generation_id: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, client: Any = None) -> Lineage:
        """Build from ``GET /api/ai/generations/{id}/lineage``'s answer."""
        return cls(
            generation_id=str(data.get("generation_id") or ""),
            nodes=[LineageNode.from_json(n, client=client) for n in data.get("nodes") or []],
            edges=[
                LineageEdge(parent=str(e["parent"]), child=str(e["child"]))
                for e in data.get("edges") or []
            ],
            raw=dict(data),
        )

    def __iter__(self) -> Iterator[LineageNode]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, generation_id: object) -> bool:
        return any(node.generation_id == generation_id for node in self.nodes)

    def node(self, generation_id: str) -> LineageNode:
        """The node of ``generation_id``; ``KeyError`` if it is not in this tree."""
        for node in self.nodes:
            if node.generation_id == generation_id:
                return node
        raise KeyError(generation_id)

    @property
    def current(self) -> LineageNode:
        """The asked generation's node (depth 0)."""
        return self.node(self.generation_id)

    @property
    def ancestors(self) -> list[LineageNode]:
        """What the asked generation was made from, nearest first."""
        return sorted((n for n in self.nodes if n.depth < 0), key=lambda n: -n.depth)

    @property
    def descendants(self) -> list[LineageNode]:
        """What was made from the asked generation, nearest first."""
        return [n for n in self.nodes if n.depth > 0]

    def parents_of(self, generation_id: str) -> list[LineageNode]:
        """The nodes ``generation_id`` was made from (usually one; an edit of several of
        our results has several)."""
        return self._order(e.parent for e in self.edges if e.child == generation_id)

    def children_of(self, generation_id: str) -> list[LineageNode]:
        """The nodes made from ``generation_id``'s result, oldest first."""
        return self._order(e.child for e in self.edges if e.parent == generation_id)

    def siblings_of(self, generation_id: str) -> list[LineageNode]:
        """The other children of ``generation_id``'s parents, oldest first (only those this
        tree holds: ask the root's lineage for every branch)."""
        parents = {e.parent for e in self.edges if e.child == generation_id}
        return self._order(
            e.child for e in self.edges if e.parent in parents and e.child != generation_id
        )

    @property
    def roots(self) -> list[LineageNode]:
        """The nodes without a parent in this tree, farthest ancestor first."""
        children = {e.child for e in self.edges}
        return sorted(
            (n for n in self.nodes if n.generation_id not in children), key=lambda n: n.depth
        )

    @property
    def root(self) -> LineageNode:
        """The farthest ancestor (the asked generation itself when it has no parent)."""
        roots = self.roots
        return roots[0] if roots else self.current

    def walk(self) -> Iterator[tuple[int, LineageNode]]:
        """``(level, node)`` for every node, depth first from the roots (level 0), children
        oldest first; a node with several parents comes once, under the first."""
        seen: set[str] = set()
        stack = [(0, node) for node in reversed(self.roots)]
        while stack:
            level, node = stack.pop()
            if node.generation_id in seen:
                continue
            seen.add(node.generation_id)
            yield level, node
            children = self.children_of(node.generation_id)
            stack.extend((level + 1, child) for child in reversed(children))
        for node in self.nodes:  # none unless the edges were cut short (64 each way)
            if node.generation_id not in seen:
                yield 0, node

    def _order(self, ids: Any) -> list[LineageNode]:
        wanted = set(ids)
        found = [n for n in self.nodes if n.generation_id in wanted]
        return sorted(found, key=_age)


def _age(node: LineageNode) -> tuple[float, str]:
    """Oldest first; a pruned node (no time) last among its siblings."""
    when = node.enqueued_at if node.enqueued_at is not None else math.inf
    return (when, node.generation_id)
