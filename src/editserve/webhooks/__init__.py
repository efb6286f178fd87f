"""Webhooks: signed deliveries of a generation's events, from a durable outbox in the store.

signing.py     Standard Webhooks signatures (webhook-id / -timestamp / -signature)
targets.py     checking a webhook URL at enqueue (scheme, host, SSRF policy)
dispatcher.py  the delivery loop: claim due deliveries, POST, record, back off
"""
