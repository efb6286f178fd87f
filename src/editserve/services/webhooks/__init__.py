"""Webhooks: signed deliveries of a generation's events, from a durable outbox in the store.
The signatures themselves are domain/webhook_signing.py; checking a webhook URL at
enqueue (scheme, host, SSRF policy) is net/webhook_targets.py.

dispatcher.py  the delivery loop: claim due deliveries, POST (one deadline per attempt),
               record, back off
pool.py        the deliveries in flight as tasks, and their caps: per node, key and host
"""
