"""What a sending process asks of the C allocator.

Each message is a ~100–300 KB bytes object built, handed over and freed by one of several sender threads.
glibc serves blocks that large with mmap (its threshold starts at 128 KB) and gives each thread's arena back
to the kernel as soon as its top is free, so every message faulted its pages in afresh: about 140 page faults
(half a megabyte) per message, more system than user CPU, and a campaign 2–2.5x slower than the same work with
the memory kept. Raising both thresholds keeps those blocks in the arenas and reuses them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 2**20  # blocks below this come from the arenas (messages are well under it)
TRIM_THRESHOLD = 64 * 2**20  # an arena keeps up to this much free memory instead of returning it

log = logging.getLogger(__name__)


@functools.cache
def keep_message_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not done:
        log.debug("mallopt refused the thresholds")
    return done
