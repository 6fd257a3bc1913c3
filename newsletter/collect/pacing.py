"""Client-side pacing that keeps every run inside GitHub's documented secondary rate limits for REST:
at most 900 points in any rolling minute (a GET costs one point) and at most 100 requests in flight.

One Pacer is shared by all the threads of one collect run; each REST request is made inside
``with pacer.request():``. Bursts are free until the rolling minute is full, so a normal day (a few hundred
requests) is never slowed down, while a huge one is spread out instead of tripping the limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

POINTS_PER_MINUTE = 900
MAX_IN_FLIGHT = 100


class Pacer:
    def __init__(
        self,
        points_per_minute: int = POINTS_PER_MINUTE,
        max_in_flight: int = MAX_IN_FLIGHT,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.points_per_minute = points_per_minute
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self.requests = 0

    @contextmanager
    def request(self) -> Iterator[None]:
        with self._slots:
            self._take_point()
            yield

    def _take_point(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - 60:
                    self._sent.popleft()
                if len(self._sent) < self.points_per_minute:
                    self._sent.append(now)
                    self.requests += 1
                    return
                wait = self._sent[0] + 60 - now
            if self._on_wait and wait >= 1:
                self._on_wait(wait)
            self._sleep(wait)
