"""Which lists are due at a moment: each list sends at its ``send_at`` in its own timezone, the digest of the
local day before. Shared by the scheduled Lambda (a tick every 15 minutes) and ``newsletter run``.

A list stays due for ``catch_up`` after its send time, so a tick that failed or came late is made up by the
next one; the issue records (one per list and day, created conditionally) make sure it is built once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from newsletter.models import MailingList, zone

CATCH_UP = timedelta(hours=3)


@dataclass(frozen=True)
class Due:
    mailing_list: MailingList
    day: date  # the local day the issue covers (the day before the send date)
    send_at: datetime  # when it was due, in UTC


def due_lists(lists: Iterable[MailingList], now: datetime, *, catch_up: timedelta = CATCH_UP) -> list[Due]:
    """Lists whose send time (today or yesterday, local) lies in (now - catch_up, now]."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    out = []
    for mailing_list in lists:
        tz = zone(mailing_list.timezone)
        local_today = now.astimezone(tz).date()
        for send_day in (local_today, local_today - timedelta(days=1)):
            # Across a DST gap the wall time may not exist; zoneinfo shifts it forward, which is what we want.
            moment = datetime.combine(send_day, mailing_list.send_at, tz).astimezone(UTC)
            if now - catch_up < moment <= now:
                out.append(Due(mailing_list, send_day - timedelta(days=1), moment))
                break
    return out
