"""The store contract, on SQLite and on PostgreSQL: a generation with several outputs (a
layered model's RGBA layers, migration 011). The record keeps its layers in order with the
first as its result; each layer is its owner's like a result (signed links, links that die
with their key); a prune deletes every layer's blob; the completed event names the result
only, as for any generation."""

from __future__ import annotations

import time
from pathlib import Path

from fixtures.store import MODELS, make_gen, payloads, reload
from fixtures.store_targets import StoreTarget

from editserve.blobs import LocalStorage
from editserve.domain.record import Status
from editserve.services.retention.prune import Pruner
from editserve.store import Store
from editserve.store.rows import NextClaim


def layer_keys(generation_id: str, count: int = 3) -> list[str]:
    return [f"outputs/{generation_id}-layer-{n}.png" for n in range(1, count + 1)]


def finished_layered(store: Store, owner: str = "key_a") -> tuple[str, list[str]]:
    """A layered generation, finished with its layers; (its id, its layer keys)."""
    gen = make_gen(owner)
    store.insert_generations([gen])
    [held] = store.claim_batch("w1", MODELS, 30, 3, 1)
    keys = layer_keys(gen.id)
    assert store.finish(held, "w1", Status.SUCCEEDED, result_key=keys[0], layer_keys=keys)
    return gen.id, keys


def test_the_record_keeps_its_layers_in_order_and_the_first_is_the_result(store: Store) -> None:
    gen_id, keys = finished_layered(store)
    done = store.get_generation(gen_id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert done.layer_keys == keys and done.result_key == keys[0]
    assert done.output_keys == keys
    [listed], _ = store.list_generations("key_a", limit=10)
    assert listed.layer_keys == keys
    # the completed event is the same as any generation's: the result key, no layers
    completed = [data for kind, data in payloads(store.events_after("key_a", 0))][-1]
    assert completed["status"] == "succeeded" and "layer_keys" not in completed
    # a one-output generation has no layers
    one = make_gen()
    store.insert_generations([one])
    [held] = store.claim_batch("w1", MODELS, 30, 3, 1)
    assert store.finish(held, "w1", Status.SUCCEEDED, result_key=f"outputs/{one.id}.png")
    plain = reload(store, one)
    assert plain.layer_keys is None and plain.output_keys == [f"outputs/{one.id}.png"]


def test_a_finish_with_the_next_claim_keeps_the_layers_too(store: Store) -> None:
    """The worker's busy path (one statement on PostgreSQL) writes the layers as finish does."""
    first, second = make_gen(), make_gen()
    store.insert_generations([first, second])
    held = store.claim("w1", MODELS, 30, 3)
    assert held is not None and held.id == first.id
    keys = layer_keys(first.id, 2)
    then = NextClaim(models=tuple(MODELS), lease_seconds=30, max_attempts=3)
    finished, claimed = store.finish_and_claim(
        held, "w1", Status.SUCCEEDED, then, result_key=keys[0], layer_keys=keys
    )
    assert finished and [gen.id for gen in claimed] == [second.id]
    assert claimed[0].layer_keys is None
    assert reload(store, first).layer_keys == keys


def test_each_layer_belongs_to_its_generations_owner(store: Store) -> None:
    gen_id, keys = finished_layered(store)
    for key in keys:
        assert store.owns_blob("key_a", key), key
        assert not store.owns_blob("key_b", key), key
    # only the layers it stored, in the format they were stored in
    assert not store.owns_blob("key_a", f"outputs/{gen_id}-layer-4.png")
    assert not store.owns_blob("key_a", f"outputs/{gen_id}-layer-1.webp")
    assert not store.owns_blob("key_a", f"outputs/{gen_id}.png")
    # another generation's layer is not this key's, whatever it is called
    other_id, other_keys = finished_layered(store, owner="key_b")
    assert store.owns_blob("key_b", other_keys[1]) and not store.owns_blob("key_a", other_keys[1])


def test_layer_links_die_with_their_key(store: Store) -> None:
    from editserve.services.keys import create_key

    alice = create_key(store, "alice").row.id
    _, keys = finished_layered(store, owner=alice)
    assert not any(store.blob_owners_revoked(key) for key in keys)
    assert store.revoke_key(alice)
    assert all(store.blob_owners_revoked(key) for key in keys)
    assert not store.blob_owners_revoked(keys[0].replace("-layer-1", "-layer-7"))


def test_a_prune_deletes_every_layer(target: StoreTarget, tmp_path: Path) -> None:
    store = target.open()
    storage = LocalStorage(tmp_path / "files")
    gen_id, keys = finished_layered(store)
    kept_id, kept = finished_layered(store)
    for key in keys + kept:
        storage.put(key, b"png", "image/png")
    # age the first one past the cutoff (no API ages rows)
    old = time.time() - 40 * 86400
    target_sql(target, "UPDATE generations SET enqueued_at = %s, completed_at = %s WHERE id = %s",
               (old, old, gen_id))  # fmt: skip

    dry = Pruner(store, storage).run(30, dry_run=True)
    report = Pruner(store, storage, batch=1).run(30)

    assert report.counts["generations"] == 1 and report.counts["outputs"] == len(keys)
    assert dry.counts["outputs"] == len(keys)
    assert not any(storage.exists(key) for key in keys)
    assert all(storage.exists(key) for key in kept)
    assert store.get_generation(gen_id) is None and store.get_generation(kept_id) is not None


def target_sql(target: StoreTarget, sql: str, params: tuple[object, ...]) -> None:
    import sqlite3

    import psycopg

    if target.kind == "sqlite":
        with sqlite3.connect(target.location) as conn:
            conn.execute(sql.replace("%s", "?"), params)
        return
    with psycopg.connect(target.location, autocommit=True) as conn:
        conn.execute(sql.encode(), params)
