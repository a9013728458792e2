"""Signals in plain words: the seasonal reason, stale data, required per month, undo."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from salesplan import signals
from salesplan.calendar import WorkingCalendar


def test_on_pace_with_a_higher_required_rate_says_the_shape_asks_for_more_later():
    row = {"pace": 1.05, "required_per_working_day": 1500.0, "current_per_working_day": 1200.0}
    text = signals.seasonal_reason(row)
    assert "seasonal shape asks for more later" in text and "1,500" in text and "1,200" in text
    assert signals.seasonal_reason({**row, "pace": 0.9}) is None  # behind: the badge is not green
    assert signals.seasonal_reason({**row, "current_per_working_day": 1600.0}) is None
    assert signals.seasonal_reason({**row, "required_per_working_day": np.nan}) is None


def test_as_of_more_than_a_month_past_the_last_sale_is_warned():
    assert signals.stale_data_warning(date(2026, 3, 28), date(2026, 2, 28)) is None  # a month exactly
    assert signals.stale_data_warning(date(2026, 3, 29), date(2026, 2, 28)) is not None
    text = signals.stale_data_warning(date(2026, 12, 6), date(2025, 12, 31))
    assert "340 days after the last sale" in text and "2025-12-31" in text
    assert signals.stale_data_warning(date(2026, 12, 6), None) is None


def test_required_per_month_follows_the_working_days_left():
    cal = WorkingCalendar("1111100", [np.datetime64("2026-12-25")])
    frame = signals.required_by_month(6300.0, date(2026, 11, 26), date(2026, 12, 31), cal)
    # after Thu 26 Nov: Fri 27 and Mon 30 in November (2), December has 23 weekdays less Christmas (22)
    assert frame["month"].tolist() == [date(2026, 11, 1), date(2026, 12, 1)]
    assert frame["working_days_left"].tolist() == [2, 22]
    assert frame["required"].tolist() == pytest.approx([6300 * 2 / 24, 6300 * 22 / 24])
    assert frame["required"].sum() == pytest.approx(6300)
    assert signals.required_by_month(100.0, date(2026, 12, 31), date(2026, 12, 31), cal).empty


def test_undo_message_says_when_a_newer_batch_keeps_the_values():
    assert signals.undo_message({"batch_id": 4, "kept_by_newer": 0}) == \
        "Batch 4 undone: its rows are back to their previous values."
    text = signals.undo_message({"batch_id": 4, "kept_by_newer": 12, "newer_batches": [7]})
    assert "12 of its rows are also in the newer batch 7" in text and "current values stay" in text
