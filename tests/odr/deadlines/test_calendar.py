"""D38: legal periods in calendar days, in the body's time zone, ending 23:59:59 local time."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from odr.deadlines.calendar import add_years, days_left, is_working_day, period_end

PARIS = ZoneInfo("Europe/Paris")


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


def test_d38_domain_example_saisine_31_january_outcome_due_1_may():
    assert period_end(paris(2026, 1, 31, 10, 0), days=90) == paris(2026, 5, 1, 23, 59, 59)


def test_d38_day_of_the_event_does_not_count():
    # Filed at 00:00:01 or at 23:59 on 1 June: either way the 30-day period ends on 1 July.
    assert period_end(paris(2026, 6, 1, 0, 0, 1), days=30) == paris(2026, 7, 1, 23, 59, 59)
    assert period_end(paris(2026, 6, 1, 23, 59), days=30) == paris(2026, 7, 1, 23, 59, 59)


def test_d38_local_day_not_utc_day():
    # 23:30 UTC on 31 March is already 1 April in Paris: the period starts from 1 April.
    start = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert period_end(start, days=21) == paris(2026, 4, 22, 23, 59, 59)
    # In another body's time zone the same instant is still 31 March.
    assert period_end(start, days=21, time_zone="America/Martinique") == datetime(
        2026, 4, 21, 23, 59, 59, tzinfo=ZoneInfo("America/Martinique")
    )


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        (date(2026, 1, 31), 30, date(2026, 3, 2)),  # across a short February
        (date(2028, 1, 31), 30, date(2028, 3, 1)),  # leap year: 29 February exists
        (date(2026, 12, 15), 21, date(2027, 1, 5)),  # across the new year
        (date(2028, 2, 28), 1, date(2028, 2, 29)),
        (date(2026, 2, 28), 1, date(2026, 3, 1)),
        (date(2026, 4, 30), 15, date(2026, 5, 15)),
    ],
)
def test_d38_month_ends_and_leap_years(start, days, end):
    moment = datetime.combine(start, datetime.min.time().replace(hour=12), tzinfo=PARIS)
    assert period_end(moment, days=days) == datetime.combine(end, datetime.max.time(), tzinfo=PARIS).replace(
        microsecond=0
    )


def test_d38_period_ending_after_spring_dst_change_is_2159_utc():
    # Paris moves from UTC+1 to UTC+2 on 29 March 2026: the period still ends at 23:59:59 local.
    end = period_end(paris(2026, 3, 20, 9, 0), days=15)
    assert end == paris(2026, 4, 4, 23, 59, 59)
    assert end.astimezone(UTC) == datetime(2026, 4, 4, 21, 59, 59, tzinfo=UTC)


def test_d38_period_ending_after_autumn_dst_change_is_2259_utc():
    # Paris moves from UTC+2 to UTC+1 on 25 October 2026.
    end = period_end(paris(2026, 10, 20, 9, 0), days=15)
    assert end.astimezone(UTC) == datetime(2026, 11, 4, 22, 59, 59, tzinfo=UTC)


def test_d38_period_starting_in_the_repeated_autumn_hour():
    # 02:30 happens twice on 25 October 2026; both count as 25 October.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1)
    assert period_end(first, days=1) == period_end(second, days=1) == paris(2026, 10, 26, 23, 59, 59)


def test_d38_no_roll_over_by_default(settings):
    settings.ODR_ROLL_OVER_NON_WORKING_DAYS = False
    # 14 July 2026 (Bastille Day) is a Tuesday and a public holiday; the period still ends that day.
    assert period_end(paris(2026, 6, 29, 10, 0), days=15) == paris(2026, 7, 14, 23, 59, 59)


@pytest.mark.parametrize(
    ("start", "days", "end", "why"),
    [
        (date(2026, 6, 29), 15, date(2026, 7, 15), "14 July is a public holiday"),
        (date(2026, 4, 18), 7, date(2026, 4, 27), "25 April is a Saturday, 26 a Sunday"),
        (date(2026, 4, 30), 1, date(2026, 5, 4), "1 May (Friday) holiday, then a weekend"),
        (date(2026, 12, 10), 15, date(2026, 12, 28), "25 December is a Friday holiday"),
        (date(2027, 3, 20), 9, date(2027, 3, 30), "29 March 2027 is Easter Monday"),
    ],
)
def test_d38_roll_over_to_next_french_working_day_when_enabled(settings, start, days, end, why):
    settings.ODR_ROLL_OVER_NON_WORKING_DAYS = True
    moment = datetime.combine(start, datetime.min.time().replace(hour=10), tzinfo=PARIS)
    assert period_end(moment, days=days) == datetime(
        end.year, end.month, end.day, 23, 59, 59, tzinfo=PARIS
    ), why


def test_d38_working_days_know_french_public_holidays():
    assert not is_working_day(date(2026, 5, 1))  # Labour Day
    assert not is_working_day(date(2026, 5, 14))  # Ascension
    assert not is_working_day(date(2026, 11, 11))  # Armistice
    assert not is_working_day(date(2026, 11, 21))  # a Saturday
    assert is_working_day(date(2026, 11, 23))


def test_d8_one_year_window_ends_on_the_same_day_number():
    assert period_end(paris(2026, 3, 15, 18, 0), years=1) == paris(2027, 3, 15, 23, 59, 59)


def test_d8_one_year_from_29_february_ends_on_28_february():
    # CPC art. 641: no 29 February in 2029, so the last day of the month.
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert period_end(paris(2028, 2, 29, 9, 0), years=1) == paris(2029, 2, 28, 23, 59, 59)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


def test_negative_periods_are_refused():
    with pytest.raises(ValueError):
        period_end(paris(2026, 1, 1), days=-1)


def test_d2_days_left_counts_local_days():
    due = paris(2026, 5, 1, 23, 59, 59)
    assert days_left(due, paris(2026, 4, 30, 23, 0)) == 1
    assert days_left(due, paris(2026, 5, 1, 0, 1)) == 0
    assert days_left(due, paris(2026, 5, 1, 0, 1) + timedelta(days=2)) == -2
