"""The memory an API process lets input images take at once, and the threads they are
checked on.

:class:`InputBudget` is a weighted semaphore over bytes (``input_memory_mb``): each check
holds what it is estimated to take (inputs/cost.py) from before it starts until it has
ended, on the thread that ran it, so the memory is counted until it is really free, even
when the request that asked for it is gone. A check that does not fit waits, first come
first served, at most ``wait_seconds``; then, or at once when the waiting line already
holds a whole budget's worth, it is refused with 503 and Retry-After. One check larger than
the whole budget runs alone.

The checks run on a few dedicated threads (``THREADS``), not on the event loop's default
pool of forty: fewer threads touch fewer of glibc's malloc arenas, and after a large check
the thread hands freed memory back to the system (``malloc_trim``, where glibc is there),
so the resident set returns to where it was once a flood is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from editserve.core.errors import Unavailable

T = TypeVar("T")
MiB = 1 << 20
WAIT_SECONDS = 5.0
RETRY_AFTER_SECONDS = 2
THREADS = max(2, min(4, os.cpu_count() or 1))
TRIM_AT = 32 * MiB  # a check estimated at this much or more trims the heap after itself


@dataclass(eq=False)
class _Waiter:
    weight: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


class InputBudget:
    """Bytes in flight for checking inputs, shared by every request of one API process."""

    def __init__(
        self,
        capacity: int,
        *,
        wait_seconds: float = WAIT_SECONDS,
        retry_after: int = RETRY_AFTER_SECONDS,
    ) -> None:
        self.capacity = max(1, capacity)
        self.wait_seconds = wait_seconds
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._used = 0
        self._queued = 0
        self._queue: deque[_Waiter] = deque()

    @classmethod
    def of_megabytes(cls, megabytes: int) -> InputBudget:
        return cls(megabytes * MiB)

    @property
    def used(self) -> int:
        """Bytes held now by checks that are running or about to."""
        return self._used

    @property
    def waiting(self) -> int:
        """Checks waiting for room."""
        return len(self._queue)

    async def run(self, weight: int, work: Callable[[], T]) -> T:
        """``work()`` on a check thread once ``weight`` bytes are free (503 if they are
        not, soon); the bytes stay held until it has returned."""
        weight = max(1, min(int(weight), self.capacity))
        await self._acquire(weight)
        try:
            future = _pool().submit(self._work, weight, work)
        except BaseException:
            self._release(weight)
            raise
        # cancelled before it started: the thread never runs it, so release here
        future.add_done_callback(lambda done: self._release(weight) if done.cancelled() else None)
        return await asyncio.wrap_future(future)

    def _work(self, weight: int, work: Callable[[], T]) -> T:
        try:
            return work()
        finally:
            if weight >= TRIM_AT:
                trim_heap()
            self._release(weight)

    async def _acquire(self, weight: int) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._queue and self._fits(weight):
                self._used += weight
                return
            if self._queued + weight > self.capacity:
                raise self._refusal()
            waiter = _Waiter(weight, loop, loop.create_future())
            self._queue.append(waiter)
            self._queued += weight
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter.future
        except BaseException as exc:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._queue.remove(waiter)
                    self._queued -= weight
                    self._dispatch()  # the head gave up: those behind it may fit
            if granted and isinstance(exc, TimeoutError):
                return  # room came just as the wait ran out: take it
            if granted:
                self._release(weight)
            if isinstance(exc, TimeoutError):
                raise self._refusal() from None
            raise

    def _fits(self, weight: int) -> bool:
        return self._used == 0 or self._used + weight <= self.capacity

    def _release(self, weight: int) -> None:
        with self._lock:
            self._used -= weight
            self._dispatch()

    def _dispatch(self) -> None:
        """Admit waiters in order while the first fits (the lock is held)."""
        while self._queue and self._fits(self._queue[0].weight):
            waiter = self._queue.popleft()
            self._queued -= waiter.weight
            self._used += waiter.weight
            waiter.granted = True
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:  # its loop is closed: nobody will use the room
                waiter.granted = False
                self._used -= waiter.weight

    def _refusal(self) -> Unavailable:
        return Unavailable(
            "input images: this server is checking as many images as its memory for them "
            "allows (input_memory_mb); retry shortly",
            headers={"Retry-After": str(self.retry_after)},
        )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The process's check threads (made on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(THREADS, thread_name_prefix="editserve-inputs")
        return _POOL


def _malloc_trim() -> Callable[[], object] | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):  # type: ignore[union-attr]
            return None
    except (AttributeError, ValueError, OSError):  # not glibc, or no confstr at all
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


_TRIM = _malloc_trim()


def trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc only; elsewhere nothing)."""
    if _TRIM is not None:
        with contextlib.suppress(OSError):
            _TRIM()


__all__ = ["InputBudget", "trim_heap"]
