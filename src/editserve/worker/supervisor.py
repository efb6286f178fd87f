"""Runs worker processes next to the API (`editserve serve`) and restarts them when they die.

When a worker exits unexpectedly, the leases it held are released at once, so its job is
claimed by the restarted worker instead of waiting for the lease to run out. A worker
whose model fails to load is restarted with a growing delay (its state is visible in
/readyz meanwhile).
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from editserve.core.devices import count_gpus
from editserve.core.settings import Settings
from editserve.store import WorkerRegistry
from editserve.worker.loop import EXIT_HUNG

log = logging.getLogger("editserve.supervisor")

MAX_BACKOFF_SECONDS = 60.0
HEALTHY_AFTER_SECONDS = 60.0


def plan_devices(settings: Settings) -> list[str]:
    """One device string per worker process to start."""
    if settings.gpus:
        devices = [f"cuda:{index.strip()}" for index in settings.gpus.split(",") if index.strip()]
    elif settings.device not in ("auto",):
        devices = [settings.device]
    else:
        gpus = count_gpus()
        devices = [f"cuda:{index}" for index in range(gpus)] if gpus else ["cpu"]
    if settings.workers is not None:
        if settings.workers < 1:
            return []
        devices = [devices[i % len(devices)] for i in range(settings.workers)]
    return devices


@dataclass
class _Slot:
    index: int
    device: str
    process: subprocess.Popen[bytes] | None = None
    worker_id: str = ""
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    restarts: int = field(default=0)


class Supervisor:
    def __init__(self, settings: Settings, store: WorkerRegistry, devices: list[str]) -> None:
        self.settings = settings
        self.store = store
        self.slots = [_Slot(index=i, device=device) for i, device in enumerate(devices)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)
        self._thread.start()

    def _spawn(self, slot: _Slot) -> None:
        slot.worker_id = f"w{slot.index}-{secrets.token_hex(3)}"
        env = {**os.environ, **self.settings.for_child_env()}
        command = [
            sys.executable,
            "-m",
            "editserve",
            "worker",
            "--worker-id",
            slot.worker_id,
            "--device",
            slot.device,
            "--parent-pid",
            str(os.getpid()),
        ]
        slot.process = subprocess.Popen(command, env=env)
        slot.started_at = time.monotonic()
        log.info("started worker %s on %s (pid %d)", slot.worker_id, slot.device, slot.process.pid)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for slot in self.slots:
                self._check(slot)

    def _check(self, slot: _Slot) -> None:
        if slot.process is None:
            if time.monotonic() >= slot.restart_at and not self._stop.is_set():
                slot.restarts += 1
                self._spawn(slot)
            return
        code = slot.process.poll()
        if code is None:
            return
        if self._stop.is_set():
            return
        released = self.store.release_worker_leases(slot.worker_id)
        ran_for = time.monotonic() - slot.started_at
        slot.failures = 0 if ran_for > HEALTHY_AFTER_SECONDS else slot.failures + 1
        delay = min(MAX_BACKOFF_SECONDS, 0.5 * (2 ** max(0, slot.failures - 1)))
        log.warning(
            "worker %s exited with code %s%s after %.0f s; %d job(s) returned to the queue; "
            "restarting in %.1f s",
            slot.worker_id,
            code,
            " (its watchdog: no step progress)" if code == EXIT_HUNG else "",
            ran_for,
            released,
            delay,
        )
        self.store.record_worker_restart(slot.worker_id)  # and marks it stopped
        slot.process = None
        slot.restart_at = time.monotonic() + delay

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
