"""Property tests for the hour-window and years arithmetic the readings rely on (rules/README.md)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from endorse.dates import (
    DAYS_PER_YEAR_OF_EXPERIENCE,
    add_months,
    add_years,
    covered_days,
    days_inclusive,
    spans_at_least_months,
)
from tasks.eligibility.evaluation import _RscPiece, best_rsc_window

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))
periods = st.lists(st.tuples(days, st.integers(0, 2000)).map(lambda t: (t[0], t[0] + timedelta(days=t[1]))),
                   min_size=0, max_size=8)


@given(periods)
def test_years_of_work_overlapping_records_count_once(ps):
    total = covered_days(ps)
    assert total == covered_days(ps + ps)  # a duplicate adds nothing
    assert total == covered_days(list(reversed(ps)))  # order does not matter
    assert total <= sum(days_inclusive(s, e) for s, e in ps)
    assert total >= max((days_inclusive(s, e) for s, e in ps), default=0)


@given(periods, st.integers(0, 2000), st.integers(1, 1999))
def test_years_of_work_splitting_a_record_changes_nothing(ps, length, cut):
    start = date(2015, 3, 1)
    end = start + timedelta(days=length)
    cut = min(cut, length)
    split = [(start, start + timedelta(days=cut - 1)), (start + timedelta(days=cut), end)] if cut else [(start, end)]
    assert covered_days(ps + [(start, end)]) == covered_days(ps + split)


@given(days, st.integers(1, 5))
def test_years_of_work_any_n_calendar_years_make_n_years(start, n):
    end = add_years(start, n) - timedelta(days=1)
    assert covered_days([(start, end)]) >= DAYS_PER_YEAR_OF_EXPERIENCE * n


@given(days, st.integers(1, 5))
def test_years_of_work_one_day_short_of_n_calendar_years_is_short_unless_a_leap_day_helps(start, n):
    end = add_years(start, n) - timedelta(days=2)
    got = covered_days([(start, end)])
    assert got < DAYS_PER_YEAR_OF_EXPERIENCE * n + 2  # at most the leap days of the span


@given(days, st.integers(-60, 60))
def test_add_months_lands_in_the_right_month(d, k):
    out = add_months(d, k)
    assert (out.year * 12 + out.month) - (d.year * 12 + d.month) == k
    assert out.day <= d.day


pieces = st.lists(
    st.tuples(days, st.integers(0, 900), st.floats(0.5, 120, allow_nan=False), st.floats(0, 1)).map(
        lambda t: _RscPiece(t[0], t[0] + timedelta(days=t[1]), t[2], t[2] * t[3])
    ),
    min_size=1, max_size=6,
)


@settings(max_examples=150)
@given(pieces)
def test_rsc_window_never_counts_more_than_was_received(ps):
    valid, best = best_rsc_window(ps, 24, 12)
    total = sum(p.hours for p in ps)
    assert best is not None and best.hours <= total + 1e-6
    assert best.about <= best.hours + 1e-6
    assert days_inclusive(best.start, best.end) <= 731
    if valid is not None:
        assert valid.hours <= best.hours + 1e-6
        assert spans_at_least_months(valid.first, valid.last, 12)


@given(days, st.integers(365, 700), st.floats(1, 200, allow_nan=False))
def test_rsc_window_one_record_within_24_months_counts_whole(start, length, hours):
    p = _RscPiece(start, start + timedelta(days=length), hours, 0.0)
    valid, best = best_rsc_window([p], 24, 12)
    assert abs(best.hours - hours) < 1e-6
    assert valid is not None  # 365+ days span 12 months


@given(days, st.integers(760, 1500), st.floats(10, 200, allow_nan=False))
def test_rsc_window_a_record_longer_than_24_months_counts_pro_rata(start, length, hours):
    p = _RscPiece(start, start + timedelta(days=length), hours, 0.0)
    _, best = best_rsc_window([p], 24, 12)
    window_days = days_inclusive(best.start, best.end)
    assert abs(best.hours - hours * window_days / (length + 1)) < 1e-6
