"""Fair sharing between keys: start-time fair queueing over the claim's one index step.

Every queued generation carries a virtual start tag (``vtag``). At enqueue, a key's
generations get consecutive tags from

    start = max(clock, the key's last finish tag among its queued and running generations)

each one ``fair_cost`` = its estimated GPU seconds / the key's weight after the one before
(the estimate: the request's steps times its output megapixels at one fixed nominal rate, so
that every tag is in one unit; services/generations/views.py). ``clock`` is the lowest tag still
waiting (with none waiting, the highest running, else the newest given). The claim takes
the lowest tag at the highest priority (``generations_claim``: model, priority DESC, vtag,
seq), so keys with work waiting are served in proportion to their weights by estimated GPU
time: a key that queued 200 jobs has tags far ahead, and another key's first job starts at
the clock, behind at most the job each worker has in hand. A key that stops queuing loses
its place (its next job starts at the clock): there is no credit to save up.

Tags are kept per priority (the clock and a key's last tag are read at the generation's
priority): jobs of different priorities never compete on tags, so a key's low-priority
bulk work does not push its interactive jobs back, nor pull another key's forward.
"""

from __future__ import annotations

from collections.abc import Sequence

from editserve.domain.record import Generation
from editserve.store.dialect import Tx

DEFAULT_COST = 1.0  # estimated GPU seconds when the caller gives none


def fair_tags(
    tx: Tx, generations: Sequence[Generation], costs: dict[str, float] | None
) -> dict[str, tuple[float, float]]:
    """{generation id: (vtag, fair_cost)} for one enqueue's generations, in their order.
    Run in the insert's transaction, after the owner's enqueue lock."""
    tags: dict[str, tuple[float, float]] = {}
    starts: dict[tuple[str, int], float] = {}
    weights: dict[tuple[str, int], float] = {}
    for gen in generations:
        lane = (gen.owner, gen.priority)
        if lane not in starts:
            terms = tx.one("fair_terms", owner=gen.owner, priority=gen.priority)
            assert terms is not None
            clock = float(terms["clock"] or 0.0)
            last = terms["owner_finish"]
            starts[lane] = max(clock, float(last)) if last is not None else clock
            weight = terms["weight"]
            weights[lane] = float(weight) if weight and weight > 0 else 1.0
        fair_cost = max((costs or {}).get(gen.id, DEFAULT_COST), 0.0) / weights[lane]
        tags[gen.id] = (starts[lane], fair_cost)
        starts[lane] += fair_cost
    return tags


__all__ = ["fair_tags", "DEFAULT_COST"]
