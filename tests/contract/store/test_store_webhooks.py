"""The webhook outbox on both stores: a delivery is written with the event it reports (when
the generation asked for that kind), claimed once at a time, rescheduled or ended."""

from __future__ import annotations

import time

from fixtures.store import MODELS, make_gen
from fixtures.store_targets import StoreTarget

from editserve.domain.record import Status
from editserve.store import Store
from editserve.store.rows import ApiKeyRow, DeliveryStatus


def test_deliveries_follow_the_events_the_generation_asked_for(target: StoreTarget) -> None:
    store = target.open()
    both = make_gen(webhook="https://hooks.example/a", webhook_events=["completed", "start"])
    done_only = make_gen(webhook="https://hooks.example/b", webhook_events=["completed"])
    silent = make_gen()
    store.insert_generations([both, done_only, silent])
    for _ in range(3):
        [gen] = store.claim_batch("w1", MODELS, 30, 3, 1)
        store.finish(gen, "w1", Status.SUCCEEDED, result_key="outputs/x.png")

    found = store.deliveries_of([both.id, done_only.id, silent.id])
    assert [d.event_type for d in found[both.id]] == ["generation.started", "generation.completed"]
    assert [d.event_type for d in found[done_only.id]] == ["generation.completed"]
    assert silent.id not in found
    delivery = found[both.id][0]
    assert delivery.url == "https://hooks.example/a" and delivery.status is DeliveryStatus.PENDING
    assert delivery.id.startswith("msg_") and delivery.owner == "key_a"

    cancelled = make_gen(webhook="https://hooks.example/c", webhook_events=["completed"])
    store.insert_generations([cancelled])
    store.request_cancel(cancelled.id, "key_a")
    [ended] = store.deliveries_of([cancelled.id])[cancelled.id]
    assert ended.event_type == "generation.completed"


def test_claims_lease_deliveries_and_finishing_reschedules_or_ends_them(
    target: StoreTarget,
) -> None:
    store, other = target.open(), target.open()
    gen = make_gen(webhook="https://hooks.example/a", webhook_events=["completed"])
    store.insert_generations([gen])
    [claimed] = store.claim_batch("w1", MODELS, 30, 3, 1)
    store.finish(claimed, "w1", Status.FAILED, error_message="boom")

    [due] = store.claim_deliveries(10, 30.0)
    assert other.claim_deliveries(10, 30.0) == []  # leased: nobody else sends it meanwhile
    store.finish_delivery(due.id, False, "HTTP 500", 500, time.time() + 3600)
    [later] = store.deliveries_of([gen.id])[gen.id]
    assert later.status is DeliveryStatus.PENDING and later.attempts == 1
    assert later.last_error == "HTTP 500" and later.last_status_code == 500
    assert store.claim_deliveries(10, 30.0) == []  # not due before its retry time

    store.finish_delivery(due.id, False, "HTTP 500", 500, time.time() - 1)
    [again] = other.claim_deliveries(10, 30.0)
    assert again.id == due.id and again.attempts == 2  # the same webhook-id on every try
    other.finish_delivery(again.id, True, None, 200, None)
    [sent] = store.deliveries_of([gen.id])[gen.id]
    assert sent.status is DeliveryStatus.DELIVERED and sent.delivered_at is not None

    gen2 = make_gen(webhook="https://hooks.example/a", webhook_events=["completed"])
    store.insert_generations([gen2])
    [claimed2] = store.claim_batch("w1", MODELS, 30, 3, 1)
    store.finish(claimed2, "w1", Status.SUCCEEDED, result_key="outputs/y.png")
    [due2] = store.claim_deliveries(10, 30.0)
    store.finish_delivery(due2.id, False, "timeout", None, None)  # too old: given up
    [failed] = store.deliveries_of([gen2.id])[gen2.id]
    assert failed.status is DeliveryStatus.FAILED


def test_an_expired_delivery_lease_is_claimed_again(target: StoreTarget) -> None:
    store, restarted = target.open(), target.open()
    gen = make_gen(webhook="https://hooks.example/a", webhook_events=["completed"])
    store.insert_generations([gen])
    [claimed] = store.claim_batch("w1", MODELS, 30, 3, 1)
    store.finish(claimed, "w1", Status.SUCCEEDED, result_key="outputs/x.png")
    [due] = store.claim_deliveries(10, 0.2)  # its sender dies without finishing it
    time.sleep(1.2)
    [again] = restarted.claim_deliveries(10, 30.0)
    assert again.id == due.id


def test_key_secrets_are_made_once_and_default_webhooks_set(target: StoreTarget) -> None:
    store = target.open()
    store.insert_key(ApiKeyRow("key_x", "x", "es_x", "hash-x", time.time()))
    first = store.webhook_secret("key_x", "whsec_first")
    assert first == "whsec_first" and store.webhook_secret("key_x", "whsec_second") == first
    assert store.rotate_webhook_secret("key_x", "whsec_third")
    assert store.webhook_secret("key_x", "whsec_fourth") == "whsec_third"
    assert store.key_webhook_url("key_x") is None
    assert store.set_key_webhook("key_x", "https://hooks.example/default")
    assert store.key_webhook_url("key_x") == "https://hooks.example/default"
    assert store.set_key_webhook("key_x", None) and store.key_webhook_url("key_x") is None


def ended_with_webhook(store: Store, owner: str, url: str) -> str:
    """A generation of ``owner`` cancelled while queued: one completed delivery to ``url``."""
    gen = make_gen(owner, webhook=url, webhook_events=["completed"])
    store.insert_generations([gen])
    store.request_cancel(gen.id, owner)
    return gen.id


def test_claims_leave_out_what_the_sender_is_busy_with(target: StoreTarget) -> None:
    store = target.open()
    busy_key = ended_with_webhook(store, "key_a", "https://hooks.example/a")
    busy_host = ended_with_webhook(store, "key_b", "HTTPS://Tarpit.Example:8443/b")
    bare_host = ended_with_webhook(store, "key_c", "http://tarpit.example")
    lookalike = ended_with_webhook(store, "key_d", "https://tarpit.example.org/d")
    busy_gen = ended_with_webhook(store, "key_e", "https://hooks.example/e")
    other = ended_with_webhook(store, "key_f", "https://hooks.example/f")
    prefixes = [f"{scheme}://tarpit.example{end}" for scheme in ("http", "https") for end in "/?#:"]

    claimed = store.claim_deliveries(
        10,
        30.0,
        busy_owners=["key_a"],
        busy_generations=[busy_gen],
        busy_prefixes=prefixes,
    )
    assert sorted(d.generation_id for d in claimed) == sorted([lookalike, other])
    rest = store.claim_deliveries(10, 30.0)
    assert sorted(d.generation_id for d in rest) == sorted(
        [busy_key, busy_host, bare_host, busy_gen]
    )


def test_released_deliveries_are_due_again_at_once(target: StoreTarget) -> None:
    store, other = target.open(), target.open()
    first = ended_with_webhook(store, "key_a", "https://hooks.example/a")
    second = ended_with_webhook(store, "key_a", "https://hooks.example/a")
    claimed = store.claim_deliveries(10, 300.0)
    assert other.claim_deliveries(10, 300.0) == []
    store.release_deliveries([d.id for d in claimed if d.generation_id == second])
    store.release_deliveries([])
    [again] = other.claim_deliveries(10, 300.0)
    assert again.generation_id == second and again.attempts == 0
    assert [d.generation_id for d in claimed] == [first, second]
    [sent] = [d for d in claimed if d.generation_id == first]
    store.finish_delivery(sent.id, True, None, 200, None)
    store.release_deliveries([sent.id])  # a delivered one stays delivered
    [delivered] = store.deliveries_of([first])[first]
    assert delivered.status is DeliveryStatus.DELIVERED
