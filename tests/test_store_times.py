"""Stored times are fixed-width UTC text, so that they sort in time order as plain strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsletter.store.common import iso, parse_iso


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 13, 7, 0, tzinfo=UTC),  # no microseconds: still written
        datetime(2026, 1, 13, 7, 0, 0, 5, tzinfo=timezone(timedelta(hours=8))),  # another zone: in UTC
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_times_are_fixed_width_utc(moment: datetime) -> None:
    text = iso(moment)
    assert text == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00").rjust(32, "0")
    assert len(text) == 32 and parse_iso(text) == moment


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        iso(datetime(2026, 1, 13, 7, 0))
