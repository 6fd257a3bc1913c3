"""Units of work for the model (one thread's call, or one commit's) run in a pool of threads with at most N
requests in flight.

A unit is started holding a place (``Slots``); its first request uses it and gives it back as soon as the answer
is in, before the answer is checked, so the next unit's request leaves at once instead of after those checks
(and the next commit's prompt). A unit's later requests (a retry) wait for a place like the others. The pool
has room for twice N units: those whose answers are being checked hold no place.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

R = TypeVar("R")
Unit = list[int]  # the indices of the jobs asked in one call
_unit = threading.local()  # in a worker: the run's Slots, and whether the unit still holds its first place


class Slots:
    """Places for requests in flight, at most ``size``."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._cond = threading.Condition()

    def take(self, or_else: Callable[[], bool] = lambda: False) -> bool:
        """Wait for a free place (True: taken) or for ``or_else`` to hold (False); ``wake`` asks it again."""
        with self._cond:
            self._cond.wait_for(lambda: self._free > 0 or or_else())
            if self._free > 0:
                self._free -= 1
                return True
            return False

    def give_back(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    def wake(self, *_: object) -> None:
        with self._cond:
            self._cond.notify_all()


@contextmanager
def in_flight() -> Iterator[None]:
    """A place for one request of the current unit (outside a unit, as for the overview, none is needed)."""
    slots: Slots | None = getattr(_unit, "slots", None)
    if slots is None:
        yield
        return
    if _unit.holding:
        _unit.holding = False
    else:
        slots.take()
    try:
        yield
    finally:
        slots.give_back()


def run(
    queue: list[tuple[int, int, Unit]],
    work: Callable[[Unit], R],
    finished: Callable[[R], list[tuple[int, Unit]]],
    *,
    concurrency: int,
) -> None:
    """Every unit of ``queue`` (a heap of (rank, n, unit): lowest rank first) through ``work`` in a pool;
    ``finished`` gets each result, in the calling thread, and returns the units to queue again (rank, unit).
    An exception of a unit stops the run (the units not started are dropped) and is raised here."""
    slots = Slots(concurrency)
    workers = 2 * concurrency
    numbers = itertools.count(len(queue))
    running: dict[Future[R], Unit] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm") as pool:
        try:
            while queue or running:
                for future in [f for f in running if f.done()]:
                    del running[future]
                    for rank, unit in finished(future.result()):
                        heapq.heappush(queue, (rank, next(numbers), unit))
                if not queue or len(running) >= workers:
                    if running:
                        wait(running, return_when=FIRST_COMPLETED)
                # The next unit starts when a place is free; the loop goes round when a unit ends instead (its
                # commits may be back in the queue, ahead of the next).
                elif slots.take(lambda: any(f.done() for f in running)):
                    unit = heapq.heappop(queue)[2]
                    future = pool.submit(_started, slots, work, unit)
                    future.add_done_callback(slots.wake)
                    running[future] = unit
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _started(slots: Slots, work: Callable[[Unit], R], unit: Unit) -> R:
    """``work`` on ``unit``, holding the place taken for it until its first answer is in (or it ends)."""
    _unit.slots, _unit.holding = slots, True
    try:
        return work(unit)
    finally:
        if _unit.holding:
            slots.give_back()
        _unit.slots, _unit.holding = None, False
