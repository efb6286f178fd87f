"""Model weights from a Hugging Face Hub (or a hub-compatible mirror, ``HF_ENDPOINT``) into
the Hugging Face cache: planned, size-checked, resumable, verified, with progress.

    hub/
      sources.py   HubFiles: a repo, a revision, which files (what a model spec lists)
      plan.py      the hub's answer: commit, files, sizes; what the cache already holds
      transfer.py  one file: lock, HEAD, ranged GET into blobs/<etag>.incomplete, hash, link
      fetch.py     many files: disk check, progress, Ctrl-C, verify, refs and listing
      cache.py     the cache layout huggingface_hub reads
"""
