"""Every use case, between the wire and the store: generations, event hub and feed, catalog,
uploads, keys, metrics, webhooks, the OpenAI mapping, retention, the cluster; and the wire
models they return (wire.py). Imported by api/, worker/ and commands/, never the reverse."""
