"""The window of one collect run from what a person typed: a day in a timezone, or explicit instants."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from newsletter.errors import InputError
from newsletter.models import Window, zone


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"invalid date {text!r}", hint="expected YYYY-MM-DD, e.g. 2026-01-13") from None


def parse_instant(text: str, tz: str) -> datetime:
    """ISO 8601; without an offset the time is read in ``tz``."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"invalid time {text!r}", hint="expected ISO 8601, e.g. 2026-01-13T08:00:00+08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(tz))


def resolve_window(
    day: str | None, tz: str, *, since: str | None = None, until: str | None = None, now: datetime | None = None
) -> Window:
    """``--since``/``--until`` when given (until defaults to now), else ``day`` (default: yesterday in ``tz``)."""
    zi = zone(tz)
    now = now or datetime.now(zi)
    if since or until:
        if day:
            raise InputError("give either --date or --since/--until, not both")
        if not since:
            raise InputError("--until needs --since")
        end = parse_instant(until, tz) if until else now
        return Window.between(parse_instant(since, tz), end, tz)
    chosen = parse_day(day) if day else now.astimezone(zi).date() - timedelta(days=1)
    return Window.for_day(chosen, tz)
