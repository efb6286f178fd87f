"""The store contract, on SQLite and on PostgreSQL: who may use a stored blob as an input
(the owner check behind result and file URLs given back as ``input_image``)."""

from __future__ import annotations

import time

from fixtures.store import MODELS, make_gen

from editserve.domain.record import Status
from editserve.store import Store
from editserve.store.rows import UploadRow

SHA_A, SHA_B = "a" * 64, "b" * 64


def stored_input(sha: str) -> dict[str, object]:
    return {
        "key": f"inputs/{sha}.png",
        "sha256": sha,
        "content_type": "image/png",
        "format": "PNG",
        "width": 8,
        "height": 8,
        "size": 99,
    }


def upload(upload_id: str, owner: str, sha: str) -> UploadRow:
    return UploadRow(
        id=upload_id,
        owner=owner,
        key=f"inputs/{sha}.png",
        sha256=sha,
        content_type="image/png",
        format="PNG",
        width=8,
        height=8,
        size=99,
        created_at=time.time(),
    )


def test_an_output_belongs_to_its_generations_owner(store: Store) -> None:
    gen = make_gen("key_a")
    store.insert_generations([gen])
    key = f"outputs/{gen.id}.png"
    assert not store.owns_blob("key_a", key)  # not finished: no result yet
    claimed = store.claim("w1", MODELS, 30, 1)
    assert claimed is not None
    assert store.finish(claimed, "w1", Status.SUCCEEDED, result_key=key)
    assert store.owns_blob("key_a", key)
    assert not store.owns_blob("key_b", key)
    # Only the generation's own result key, in the format it was stored in.
    assert not store.owns_blob("key_a", f"outputs/{gen.id}.webp")
    assert not store.owns_blob("key_a", "outputs/00000000-0000-0000-0000-000000000000.png")
    assert not store.owns_blob("key_a", "outputs/.png")
    assert not store.owns_blob("key_a", f"other/{gen.id}.png")


def test_an_input_belongs_to_who_uploaded_or_edited_with_it(store: Store) -> None:
    store.insert_generations([make_gen("key_a", inputs=[stored_input(SHA_A)])])
    store.insert_upload(upload("upl_1", "key_c", SHA_B))
    assert store.owns_blob("key_a", f"inputs/{SHA_A}.png")
    assert not store.owns_blob("key_b", f"inputs/{SHA_A}.png")
    assert not store.owns_blob("key_a", f"inputs/{SHA_A}.jpg")
    assert not store.owns_blob("key_a", f"inputs/{SHA_A[:-1]}.png")  # a prefix is not it
    assert store.owns_blob("key_c", f"inputs/{SHA_B}.png")
    assert not store.owns_blob("key_a", f"inputs/{SHA_B}.png")


def test_upload_owner(store: Store) -> None:
    store.insert_upload(upload("upl_1", "key_c", SHA_B))
    assert store.upload_owner("upl_1") == "key_c"
    assert store.upload_owner("upl_2") is None


def test_links_die_with_their_key(store: Store) -> None:
    """blob_owners_revoked: an output whose generation's key is revoked; an input once every
    key that uploaded or edited with it is; a blob whose owners are unknown never."""
    from editserve.services.keys import create_key

    alice, bob = create_key(store, "alice").row.id, create_key(store, "bob").row.id
    gen = make_gen(alice, inputs=[stored_input(SHA_A)])
    store.insert_generations([gen])
    claimed = store.claim("w1", MODELS, 30, 1)
    assert claimed is not None
    output = f"outputs/{gen.id}.png"
    assert store.finish(claimed, "w1", Status.SUCCEEDED, result_key=output)
    store.insert_upload(upload("upl_1", bob, SHA_A))
    store.insert_upload(upload("upl_2", alice, SHA_B))
    shared, alices = f"inputs/{SHA_A}.png", f"inputs/{SHA_B}.png"
    for key in (output, shared, alices, "outputs/nobody.png", f"inputs/{'c' * 64}.png"):
        assert not store.blob_owners_revoked(key), key

    assert store.revoke_key(alice)
    assert store.blob_owners_revoked(output)
    assert store.blob_owners_revoked(alices)
    assert not store.blob_owners_revoked(shared)  # bob uploaded it too
    assert not store.blob_owners_revoked(f"outputs/{gen.id}.webp")  # not its result key
    assert store.revoke_key(bob)
    assert store.blob_owners_revoked(shared)
    assert not store.blob_owners_revoked("outputs/nobody.png")
