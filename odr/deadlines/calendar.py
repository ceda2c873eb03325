"""The legal calendar (D38).

Periods are counted in calendar days in the mediation body's time zone. The day of the triggering
event does not count: a period of N days that starts on local day S ends at 23:59:59 local time on day
S+N. Periods in years follow the French rule for periods in months and years (Code de procédure civile
art. 641): they end on the day with the same number, or on the last day of the month when there is
none (a complaint written on 29 February 2024 opens a one-year window that ends on 28 February 2025).
Optionally (setting ODR_ROLL_OVER_NON_WORKING_DAYS, as CPC art. 642 does for court deadlines), a
period whose last day is a Saturday, a Sunday or a French public holiday ends on the next working day.
"""

import calendar as _calendar
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

END_OF_DAY = time(23, 59, 59)


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or settings.ODR_DEFAULT_TIME_ZONE)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """23:59:59 local time on `day`, as an aware datetime (right on both sides of a DST change)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=tz)


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _french_holidays(day.year)


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_years(day: date, years: int) -> date:
    """The same day number `years` later, or the last day of that month when it has none."""
    year = day.year + years
    last_day = _calendar.monthrange(year, day.month)[1]
    return day.replace(year=year, day=min(day.day, last_day))


def period_end(
    start: datetime,
    *,
    days: int = 0,
    years: int = 0,
    time_zone: str | None = None,
    roll_over: bool | None = None,
) -> datetime:
    """When a legal period that starts at `start` ends (aware, the last second of its last day)."""
    if days < 0 or years < 0:
        raise ValueError("A legal period cannot be negative")
    tz = zone(time_zone)
    last_day = add_years(local_date(start, tz), years) + timedelta(days=days)
    if settings.ODR_ROLL_OVER_NON_WORKING_DAYS if roll_over is None else roll_over:
        last_day = next_working_day(last_day)
    return end_of_local_day(last_day, tz)


def days_left(due_at: datetime, now: datetime, time_zone: str | None = None) -> int:
    """Whole local days from today to the due day (0 on the due day, negative when overdue)."""
    tz = zone(time_zone)
    return (local_date(due_at, tz) - local_date(now, tz)).days
