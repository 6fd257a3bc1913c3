"""Units of work for the model (one thread's call, or one commit's) run in a pool of threads with at most N
requests in flight.

A unit is started holding a place (``Slots``); its first request uses it and gives it back as soon as the answer
is in, before the answer is checked, so the next unit's request leaves at once instead of after those checks
(and the next commit's prompt). A unit's later requests (a retry) wait for a place like the others. The pool
has room for twice N units: those whose answers are being checked hold no place.

The threads share one interpreter lock, so work that does not send a request (checking an answer, making the
next prompts ``Ahead``) waits in ``quiet()`` while a request is about to leave (a unit holds a place and is
making its request, or a place is free and a unit is waiting to start): the requests go out first, and the rest
runs while they are out.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")
V = TypeVar("V")
Unit = list[int]  # the indices of the jobs asked in one call
# In a worker: the run's Slots, whether the unit still holds its first place, and whether its first request is
# being made (holding a place, not written yet).
_unit = threading.local()


class Slots:
    """Places for requests in flight, at most ``size``; and whether a request is about to leave (a unit holds a
    place and is making its request, or one could start now), so that other work can keep out of its way
    (``quiet``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._preparing = 0  # units holding a place whose first request has not left yet
        self._startable = True  # a unit is queued and the pool has a worker for it (the run says; until then, yes)
        self._cond = threading.Condition()

    def take(self, or_else: Callable[[], bool] = lambda: False, *, for_unit: bool = False) -> bool:
        """Wait for a free place (True: taken) or for ``or_else`` to hold (False); ``wake`` asks it again. A
        place taken ``for_unit`` counts as preparing until ``leaving``."""
        with self._cond:
            self._cond.wait_for(lambda: self._free > 0 or or_else())
            if self._free > 0:
                self._free -= 1
                self._preparing += for_unit
                self._cond.notify_all()  # those waiting to be quiet
                return True
            return False

    def leaving(self) -> None:
        """A unit's first request is being sent: it no longer prepares."""
        with self._cond:
            self._preparing -= 1
            self._cond.notify_all()

    def give_back(self, *, unsent: bool = False) -> None:
        with self._cond:
            self._free += 1
            self._preparing -= unsent
            self._cond.notify_all()

    def wake(self, *_: object) -> None:
        with self._cond:
            self._cond.notify_all()

    def startable(self, value: bool) -> None:
        """The run says whether a unit could start now (queued, and a worker free for it)."""
        with self._cond:
            if value != self._startable:
                self._startable = value
                self._cond.notify_all()

    def quiet(self, unless: Callable[[], bool] = lambda: False) -> None:
        """Wait while a request is about to leave (and ``unless`` does not hold): called before work that sends
        nothing, it lets that request have the interpreter first."""
        with self._cond:
            self._cond.wait_for(lambda: not (self._preparing or (self._free > 0 and self._startable)) or unless())


class Ahead(Generic[K, V]):
    """What the units will need (their prompts), made in the background in the order they will start, each
    begun only while the run is ``quiet``; or by the unit itself when it needs one not begun yet. Each is made
    once: a unit that needs the one being made waits for it, so the background never waits while it makes one
    (and holds nothing while it waits to begin the next). ``make`` must not fail (a unit meets the same error
    and reports it)."""

    def __init__(self, make: Callable[[K], V], keys: Sequence[K], slots: Slots) -> None:
        self._make, self._keys, self._slots = make, list(keys), slots
        self._lock = threading.Lock()
        self._made: dict[K, V] = {}
        self._making: dict[K, threading.Event] = {}
        self._stopped = False
        if self._keys:
            threading.Thread(target=self._run, name="read-ahead", daemon=True).start()

    def get(self, key: K) -> V:
        """The value for ``key``, taken out (each is used once): made ahead, or now."""
        with self._lock:
            if key in self._made:
                return self._made.pop(key)
            making = self._making.get(key)
            if making is None:
                self._making[key] = threading.Event()  # the background leaves it to this thread
        if making is not None:
            making.wait()
            with self._lock:
                if key in self._made:
                    return self._made.pop(key)
            return self._make(key)
        try:
            return self._make(key)
        finally:
            with self._lock:
                self._making[key].set()

    def stop(self) -> None:
        self._stopped = True
        self._slots.wake()

    def _run(self) -> None:
        for key in self._keys:
            self._slots.quiet(unless=lambda: self._stopped)
            with self._lock:
                if self._stopped:
                    return
                if key in self._making:
                    continue  # a unit is making (or has made) it
                making = self._making[key] = threading.Event()
            try:
                value = self._make(key)
            except Exception:  # the unit makes it again and reports the error
                making.set()
                return
            with self._lock:
                self._made[key] = value
            making.set()


@contextmanager
def in_flight() -> Iterator[None]:
    """A place for one request of the current unit (outside a unit, as for the overview, none is needed). Once
    the answer is in, the place is given back and the unit goes on (to check the answer) when it is ``quiet``."""
    slots: Slots | None = getattr(_unit, "slots", None)
    if slots is None:
        yield
        return
    if _unit.holding:
        _unit.holding, _unit.preparing = False, True  # until the request is written (``request_hook``)
    else:
        slots.take()
    try:
        yield
    finally:
        request_hook()  # when no request was written (an error before)
        slots.give_back()
    slots.quiet()


def request_hook(*_: object) -> None:
    """The HTTP client's hook before a request is written: the unit's first request is leaving, so the work
    that waits for that (``quiet``) may go on. Nothing outside a unit, or after its first request."""
    if getattr(_unit, "preparing", False):
        _unit.preparing = False
        _unit.slots.leaving()


def run(
    queue: list[tuple[int, int, Unit]],
    work: Callable[[Unit], R],
    finished: Callable[[R], list[tuple[int, Unit]]],
    *,
    slots: Slots,
) -> None:
    """Every unit of ``queue`` (a heap of (rank, n, unit): lowest rank first) through ``work`` in a pool, with
    at most ``slots.size`` requests in flight; ``finished`` gets each result, in the calling thread, and returns
    the units to queue again (rank, unit). An exception of a unit stops the run (the units not started are
    dropped) and is raised here."""
    workers = 2 * slots.size
    numbers = itertools.count(len(queue))
    running: dict[Future[R], Unit] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm") as pool:
        try:
            while queue or running:
                for future in [f for f in running if f.done()]:
                    del running[future]
                    for rank, unit in finished(future.result()):
                        heapq.heappush(queue, (rank, next(numbers), unit))
                startable = bool(queue) and len(running) < workers
                slots.startable(startable)
                if not startable:
                    if running:
                        wait(running, return_when=FIRST_COMPLETED)
                # The next unit starts when a place is free; the loop goes round when a unit ends instead (its
                # commits may be back in the queue, ahead of the next).
                elif slots.take(lambda: any(f.done() for f in running), for_unit=True):
                    unit = heapq.heappop(queue)[2]
                    future = pool.submit(_started, slots, work, unit)
                    future.add_done_callback(slots.wake)
                    running[future] = unit
        except BaseException:
            slots.startable(False)  # nothing more will start: no worker may wait for it
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            slots.startable(False)


def _started(slots: Slots, work: Callable[[Unit], R], unit: Unit) -> R:
    """``work`` on ``unit``, holding the place taken for it until its first answer is in (or it ends)."""
    _unit.slots, _unit.holding, _unit.preparing = slots, True, False
    try:
        return work(unit)
    finally:
        if _unit.holding:  # ended without a request (cached, triaged, or failed before sending)
            slots.give_back(unsent=True)
        _unit.slots, _unit.holding, _unit.preparing = None, False, False
