"""Edit lineage (migration 013): which generation was made from which one's result.

A generation's stored inputs name the output blob an input was read from when it was one
of our own result links (``inputs[].source``: ``outputs/<generation id>…``). Its insert
writes one edge per such parent (``parents_of``, in the insert's transaction); the
reads walk the edges up (ancestors) and down (descendants), at most 64 generations each
way and ``limit`` edges. Edges outlive retention: a pruned generation in the middle of a
chain still links its ancestors and descendants (the caller shows it as pruned).
"""

from __future__ import annotations

from dataclasses import dataclass

from editserve.domain.record import Generation
from editserve.store.dialect import Dialect, Tx
from editserve.store.links import OUTPUTS, output_generation
from editserve.store.listing import gens_of


@dataclass(frozen=True)
class Edge:
    parent: str
    child: str
    depth: int  # 1: the generation's own parent or child


@dataclass(frozen=True)
class Lineage:
    ancestors: list[Edge]  # nearest first
    descendants: list[Edge]  # nearest first
    generations: dict[str, Generation]  # every node still stored, by id


def parents_of(gen: Generation) -> list[str]:
    """The generations whose results gen was made from, in input order, once each."""
    found: list[str] = []
    for item in gen.inputs:
        source = item.get("source") if isinstance(item, dict) else None
        if isinstance(source, str) and source.startswith(OUTPUTS):
            parent = output_generation(source)
            if parent is not None and parent != gen.id and parent not in found:
                found.append(parent)
    return found


def insert_parents(tx: Tx, gen: Generation) -> None:
    for parent in parents_of(gen):
        tx.rowcount("insert_parent", child=gen.id, parent=parent, owner=gen.owner)


class LineageReads:
    """The lineage reads of QueueStore (mixed in)."""

    dialect: Dialect

    def lineage(self, generation_id: str, owner: str, limit: int = 500) -> Lineage:
        """The owner's generation's ancestors and descendants (edges, and the generations
        still stored among them)."""
        terms = {"id": generation_id, "owner": owner, "limit": limit}
        up = [_edge(row) for row in self.dialect.all("lineage_up", **terms)]
        down = [_edge(row) for row in self.dialect.all("lineage_down", **terms)]
        ids = {generation_id} | {e.parent for e in up + down} | {e.child for e in up + down}
        rows = self.dialect.all("generations_by_ids", owner=owner, ids=sorted(ids))
        return Lineage(up, down, {gen.id: gen for gen in gens_of(rows)})


def _edge(row: object) -> Edge:
    data = dict(row)  # type: ignore[call-overload]
    return Edge(parent=data["parent"], child=data["child"], depth=int(data["depth"]))


__all__ = ["Edge", "Lineage", "LineageReads", "insert_parents", "parents_of"]
