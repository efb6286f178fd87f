"""HEALTHCHECK of the worker image: healthy while this container's worker heartbeats.

The worker writes a heartbeat row to the shared store (there is no HTTP port on a worker):
healthy when a row from this host is fresh and not failed or stopped. Starting and loading
count as healthy (the first start downloads ~58 GB of weights; see start_period).
"""

from __future__ import annotations

import socket
import sys


def main() -> int:
    from editserve.services.catalog import WORKER_FRESH_SECONDS
    from editserve.core.settings import load_settings
    from editserve.store import open_store
    from editserve.store.rows import WorkerState

    store = open_store(load_settings())
    try:
        host = socket.gethostname()
        mine = [w for w in store.list_workers(WORKER_FRESH_SECONDS) if w.host == host]
    finally:
        store.close()
    bad = (WorkerState.FAILED, WorkerState.STOPPED)
    alive = [w for w in mine if w.state not in bad]
    print(", ".join(f"{w.id}: {w.state.value}" for w in mine) or f"no worker row from {host}")
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
