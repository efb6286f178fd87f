"""The store contract, on SQLite and on PostgreSQL: edit lineage (migration 013). A
generation whose stored input names one of our outputs as its source has that output's
generation as parent; the edges are written with the insert, read up and down, kept per
owner, and outlive the generations retention deletes."""

from __future__ import annotations

from typing import Any

from fixtures.store import make_gen

from editserve.domain.record import Generation
from editserve.store import Store
from editserve.store.lineage import parents_of


def made_from(*parents: str, owner: str = "key_a", layer: bool = False) -> Generation:
    """A generation whose inputs were read from the parents' results."""
    inputs: list[dict[str, Any]] = []
    for n, parent in enumerate(parents):
        source = f"outputs/{parent}-layer-2.png" if layer else f"outputs/{parent}.png"
        inputs.append({"key": f"inputs/{n:064x}.png", "sha256": f"{n:064x}", "source": source})
    return make_gen(owner, inputs=inputs)


def test_parents_come_from_the_inputs_sources_once_each_in_order() -> None:
    gen = made_from("b", "a", "b")
    assert parents_of(gen) == ["b", "a"]
    assert parents_of(made_from("c", layer=True)) == ["c"]  # a layer's source: its generation
    plain = make_gen(inputs=[{"key": "inputs/ab.png", "sha256": "ab"}])
    assert parents_of(plain) == []


def test_a_chain_reads_up_and_down_with_depths(store: Store) -> None:
    root = make_gen()
    store.insert_generations([root])
    child = made_from(root.id)
    store.insert_generations([child])
    grandchild, sibling = made_from(child.id), made_from(root.id)
    store.insert_generations([grandchild])
    store.insert_generations([sibling])

    down = store.lineage(root.id, "key_a")
    assert down.ancestors == []
    assert {(e.parent, e.child, e.depth) for e in down.descendants} == {
        (root.id, child.id, 1), (root.id, sibling.id, 1), (child.id, grandchild.id, 2),
    }  # fmt: skip
    up = store.lineage(grandchild.id, "key_a")
    assert [(e.parent, e.depth) for e in up.ancestors] == [(child.id, 1), (root.id, 2)]
    assert set(up.generations) == {grandchild.id, child.id, root.id}


def test_another_keys_lineage_is_not_shown(store: Store) -> None:
    root = make_gen()
    store.insert_generations([root])
    store.insert_generations([made_from(root.id)])
    other = store.lineage(root.id, "key_b")
    assert other.descendants == [] and other.generations == {}


def test_edges_outlive_a_pruned_middle(store: Store) -> None:
    root = make_gen()
    store.insert_generations([root])
    middle = made_from(root.id)
    store.insert_generations([middle])
    leaf = made_from(middle.id)
    store.insert_generations([leaf])
    store.request_cancel(middle.id, "key_a")  # ended, so retention may delete it
    deleted = store.delete_generations([middle.id], cutoff=2e9)
    assert deleted.get("generations", 0) == 1 and store.get_generation(middle.id) is None

    up = store.lineage(leaf.id, "key_a")
    assert [(e.parent, e.depth) for e in up.ancestors] == [(middle.id, 1), (root.id, 2)]
    assert middle.id not in up.generations and root.id in up.generations
