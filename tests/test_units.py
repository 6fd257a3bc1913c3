"""The model's units of work: what runs while requests are out (``quiet``) and the prompts made ahead
(``Ahead``), on real threads."""

from __future__ import annotations

import threading
import time
from collections import Counter

from newsletter.analyze.units import Ahead, Slots


def _quiet_in_background(slots: Slots) -> threading.Event:
    done = threading.Event()

    def run() -> None:
        slots.quiet()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done


def test_quiet_waits_while_a_unit_is_making_its_request() -> None:
    slots = Slots(2)
    slots.startable(False)
    assert slots.take(for_unit=True)  # a unit started: its request has not left yet
    quiet = _quiet_in_background(slots)
    assert not quiet.wait(0.3)
    slots.leaving()  # the request is out; a place is free but nothing could start
    assert quiet.wait(5)


def test_quiet_waits_while_a_free_place_could_start_a_unit() -> None:
    slots = Slots(1)  # until the run says otherwise, a unit could start: a place is free
    quiet = _quiet_in_background(slots)
    assert not quiet.wait(0.3)
    assert slots.take(for_unit=True)
    slots.startable(False)
    assert not quiet.wait(0.3)  # taken, but its request is still being made
    slots.leaving()
    assert quiet.wait(5)


def test_ahead_makes_nothing_until_the_requests_are_out_then_each_value_once() -> None:
    slots = Slots(1)
    slots.startable(False)
    assert slots.take(for_unit=True)
    made: Counter[int] = Counter()
    started = threading.Event()

    def make(key: int) -> str:
        started.set()
        made[key] += 1
        time.sleep(0.05)
        return f"prompt {key}"

    ahead = Ahead(make, [1, 2, 3], slots)
    assert not started.wait(0.3)  # the first request is being made: nothing in its way
    slots.leaving()
    assert started.wait(5)
    # Units asking at once for what the background is making, has made, or has not reached yet.
    got: dict[int, list[str]] = {1: [], 2: [], 3: []}

    def ask(key: int) -> None:
        got[key].append(ahead.get(key))

    askers = [threading.Thread(target=ask, args=(k,)) for k in (1, 2, 3)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join(5)
    ahead.stop()
    assert got == {k: [f"prompt {k}"] for k in (1, 2, 3)}
    assert made == {1: 1, 2: 1, 3: 1}


def test_a_value_the_background_failed_to_make_is_made_by_the_unit() -> None:
    slots = Slots(1)
    slots.startable(False)
    calls: list[str] = []

    def make(key: str) -> str:
        calls.append(threading.current_thread().name)
        if threading.current_thread().name == "read-ahead":
            raise OSError("disk")
        return key.upper()

    ahead = Ahead(make, ["a"], slots)
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ahead.get("a") == "A"  # the unit's own reading reports (or here, succeeds)
    assert calls == ["read-ahead", threading.current_thread().name]
