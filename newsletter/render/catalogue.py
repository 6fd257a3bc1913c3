"""The strings of one language as the renderers ask for them: ``t(key, **values)``, dates and times."""

from __future__ import annotations

from datetime import date, datetime

from newsletter import i18n
from newsletter.models import zone


class Catalogue:
    """``t(key, **values)`` for one language (newsletter.i18n); a missing key is a bug, so it raises KeyError.

    Dotted keys (``importance.high``) are the shared catalogue's; plain keys are the email's own (``email.``)."""

    def __init__(self, language: str, *, weekly: bool = False) -> None:
        self.language = i18n.check_language(language)
        self.weekly = weekly  # a weekly issue: times carry their day
        self._labels: dict[str, str] = {}  # strings without values, looked up once (several per commit)

    def short_date(self, day: date) -> str:
        """ "Sun 8 Mar": a day of a weekly issue, short enough for a phone's column."""
        return self("week_day_label").format(
            weekday=self("weekdays_short").split(",")[day.weekday()],
            day=day.day,
            month=self("subject_months").split(",")[day.month - 1],
        )

    def moment(self, when: datetime, tz: str) -> str:
        local = when.astimezone(zone(tz))
        clock = f"{local.hour:02d}:{local.minute:02d}"  # %H:%M without strftime (once per commit)
        return f"{self.short_date(local.date())} {clock}" if self.weekly else clock

    def __call__(self, key: str, **values: object) -> str:
        if values:
            return i18n.t(self.language, key if "." in key else f"email.{key}", **values)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = i18n.t(self.language, key if "." in key else f"email.{key}")
        return label

    def date(self, day: date) -> str:
        return self("date_format").format(
            weekday=self("weekdays").split(",")[day.weekday()],
            day=day.day,
            month=self("language.months").split(",")[day.month - 1],
            month_number=day.month,
            year=day.year,
        )
