"""InputBudget: bytes in flight for checking inputs, per API process (inputs/budget.py).

The checks here block on events, so what is asserted is who runs, who waits and who is
refused, never how long anything took.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from editserve.core.errors import Unavailable
from editserve.inputs.budget import InputBudget

MB = 1 << 20


class Gate:
    """A check that holds its bytes until opened, telling when it has started."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def work(self, value: str = "done") -> Callable[[], str]:
        def run() -> str:
            self.started.set()
            assert self.release.wait(10), "gate never opened"
            return value

        return run


async def started(gate: Gate) -> None:
    assert await asyncio.to_thread(gate.started.wait, 10)


async def test_checks_within_the_budget_run_at_once() -> None:
    budget = InputBudget(100 * MB)
    first, second = Gate(), Gate()
    a = asyncio.create_task(budget.run(50 * MB, first.work("a")))
    b = asyncio.create_task(budget.run(50 * MB, second.work("b")))
    await started(first)
    await started(second)
    assert budget.used == 100 * MB and budget.waiting == 0
    first.release.set()
    second.release.set()
    assert await asyncio.gather(a, b) == ["a", "b"]
    assert budget.used == 0


async def test_a_check_that_does_not_fit_waits_for_room_then_runs() -> None:
    budget = InputBudget(100 * MB, wait_seconds=30)
    holder, waiter = Gate(), Gate()
    held = asyncio.create_task(budget.run(80 * MB, holder.work()))
    await started(holder)
    waiting = asyncio.create_task(budget.run(40 * MB, waiter.work("waited")))
    while budget.waiting == 0:
        await asyncio.sleep(0.01)
    assert not waiter.started.is_set()  # 80 + 40 MB would be over the budget
    holder.release.set()
    await held
    await started(waiter)
    assert budget.used == 40 * MB
    waiter.release.set()
    assert await waiting == "waited"


async def test_a_full_budget_refuses_with_503_and_retry_after_once_the_wait_is_over() -> None:
    budget = InputBudget(100 * MB, wait_seconds=0.05, retry_after=2)
    holder = Gate()
    held = asyncio.create_task(budget.run(100 * MB, holder.work()))
    await started(holder)
    with pytest.raises(Unavailable) as refused:
        await budget.run(10 * MB, lambda: "never")
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "2"}
    assert "input_memory_mb" in refused.value.detail
    assert budget.waiting == 0  # the refused one left the line
    holder.release.set()
    await held
    assert budget.used == 0


async def test_when_the_line_holds_a_whole_budget_more_are_refused_at_once() -> None:
    budget = InputBudget(100 * MB, wait_seconds=30)
    holder = Gate()
    held = asyncio.create_task(budget.run(100 * MB, holder.work()))
    await started(holder)
    queued = [asyncio.create_task(budget.run(50 * MB, lambda: "late")) for _ in range(2)]
    while budget.waiting < 2:
        await asyncio.sleep(0.01)
    with pytest.raises(Unavailable):  # no 30 s wait: refused before waiting
        await asyncio.wait_for(budget.run(1 * MB, lambda: "never"), timeout=10)
    holder.release.set()
    await held
    assert await asyncio.gather(*queued) == ["late", "late"]


async def test_first_come_first_served() -> None:
    budget = InputBudget(100 * MB, wait_seconds=30)
    holder = Gate()
    order: list[str] = []
    held = asyncio.create_task(budget.run(60 * MB, holder.work()))
    await started(holder)
    big = asyncio.create_task(budget.run(90 * MB, lambda: order.append("big")))
    while budget.waiting < 1:
        await asyncio.sleep(0.01)
    # 60 + 10 would fit, but the big one came first: the small one waits behind it
    small = asyncio.create_task(budget.run(10 * MB, lambda: order.append("small")))
    while budget.waiting < 2:
        await asyncio.sleep(0.01)
    assert order == []
    holder.release.set()
    await asyncio.gather(held, big, small)
    assert order == ["big", "small"]


async def test_a_check_larger_than_the_budget_runs_alone() -> None:
    budget = InputBudget(100 * MB, wait_seconds=30)
    assert await budget.run(500 * MB, lambda: "alone") == "alone"
    holder = Gate()
    held = asyncio.create_task(budget.run(1 * MB, holder.work()))
    await started(holder)
    huge = asyncio.create_task(budget.run(500 * MB, lambda: "after"))
    while budget.waiting < 1:
        await asyncio.sleep(0.01)
    holder.release.set()
    await held
    assert await huge == "after"


async def test_bytes_stay_held_until_the_thread_is_done_even_if_the_caller_left() -> None:
    budget = InputBudget(100 * MB, wait_seconds=30)
    gate = Gate()
    task = asyncio.create_task(budget.run(70 * MB, gate.work()))
    await started(gate)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert budget.used == 70 * MB  # the decode is still running: its memory still counts
    gate.release.set()
    while budget.used:
        await asyncio.sleep(0.01)


async def test_a_cancelled_waiter_leaves_the_line_and_errors_release() -> None:
    budget = InputBudget(100 * MB, wait_seconds=30)
    holder = Gate()
    held = asyncio.create_task(budget.run(100 * MB, holder.work()))
    await started(holder)
    waiter = asyncio.create_task(budget.run(10 * MB, lambda: "never"))
    while budget.waiting < 1:
        await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert budget.waiting == 0
    holder.release.set()
    await held

    def fails() -> None:
        raise ValueError("corrupt")

    with pytest.raises(ValueError, match="corrupt"):
        await budget.run(50 * MB, fails)
    assert budget.used == 0
