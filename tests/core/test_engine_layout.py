"""How the engine lays out and builds its matrices at scale (salesplan/engine/prep.py) and how the
store hands the actuals lines over (salesplan/storage/reads.py, _Lines): the numbers stay the
same bit for bit whatever the chunking and the order of the lines, the best-window maxima are
kept for the fiscal year's buckets only, and the lines read in batches land in their final
arrays."""

import dataclasses
import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest

from salesplan import engine
from salesplan.engine import prep
from salesplan.engine.synthetic import synthetic_inputs
from salesplan.storage.reads import _Lines

D = dt.date
AS_OF = D(2025, 9, 30)


@functools.cache
def _base():
    return synthetic_inputs(n_reps=24, years=3, last_fy=2025, seed=5, n_territories=4, n_regions=2)


def _with_lines(actuals: pd.DataFrame):
    return dataclasses.replace(_base(), daily_actuals=actuals.reset_index(drop=True))


def _whole(actuals: pd.DataFrame) -> pd.DataFrame:
    """The lines with amounts of four decimals, as the store holds them (the exact sums)."""
    out = actuals.copy()
    for column in ("revenue", "profit"):
        out[column] = out[column].round(4)
    return out


def _all_reports(inputs) -> dict:
    return {(level, period): engine.report(dataclasses.replace(inputs), AS_OF, level=level, period=period)
            for level in ("rep", "territory", "region", "org") for period in ("year", "week")}


def _assert_same(a: dict, b: dict) -> None:
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=True, obj=str(key))


def _reference_runmax(s0, og, wdays, ndays, L, fb):
    """The best-window running maximum as one owners x working days matrix (the engine's former
    construction, kept here as the reference)."""
    nw = len(wdays)
    endp1 = np.append(wdays[1:], ndays)
    full = s0[np.ix_(og, endp1)]
    if nw >= L:
        full[:, L - 1:] -= s0[np.ix_(og, wdays[:nw - L + 1])]
    np.putmask(full, (np.arange(nw) - L + 1)[None, :] < fb[:, None], -np.inf)
    np.maximum.accumulate(full, axis=1, out=full)
    return full


@pytest.mark.parametrize("L", [1, 3, 7, 40])
@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_the_blockwise_best_windows_are_the_whole_matrix_ones(monkeypatch, L, chunk):
    monkeypatch.setattr(prep, "_CHUNK", chunk)  # many blocks, or one
    rng = np.random.default_rng(L)
    n, ndays = 9, 30
    by_day = np.cumsum(np.vstack([np.zeros((1, n)), rng.integers(-50, 500, (ndays, n)) / 100]), axis=0)
    s0 = by_day.T  # owners x days, the engine's view
    wdays = np.flatnonzero(rng.random(ndays) < 0.7)
    fb = np.where(rng.random(n) < 0.2, prep._BIG, rng.integers(0, len(wdays), n))
    for og in (np.arange(n), np.array([1, 4, 5, 8])):
        expected = _reference_runmax(s0, og, wdays, ndays, L, fb[og])
        for run0 in (0, 2, min(L, len(wdays) - 1), len(wdays) - 1):
            got = prep._window_runmax(s0, og, wdays, ndays, L, fb[og], run0)
            assert got.shape == (len(wdays) - run0, len(og))
            np.testing.assert_array_equal(got, expected[:, run0:].T)


def test_a_preparation_keeps_the_best_windows_of_its_fiscal_year_only():
    inputs = dataclasses.replace(_base())
    kept = prep._prepare(inputs, "rep", "revenue", 2025, AS_OF)
    fy_start = int((np.datetime64("2025-01-01") - kept.d0).astype(np.int64))
    assert fy_start > 500  # two years of history before the FY
    for g in kept.groups:
        assert g.run0 == int(g.bidx[fy_start]) - 1
        assert g.runmax.shape == (len(g.wdays) - g.run0, len(g.owners))
        expected = _reference_runmax(kept.s0, g.owners, g.wdays, kept.ndays, kept.L, g.fb)
        np.testing.assert_array_equal(g.runmax, expected[:, g.run0:].T)
        # a bucket before the FY (no period of the FY ends there) is computed when asked for
        np.testing.assert_array_equal(prep._best_before(kept, g, 100), expected[:, 100])


def test_the_numbers_do_not_depend_on_the_order_of_whole_lines():
    lines = _whole(_base().daily_actuals)
    by_rep = _all_reports(_with_lines(lines))  # synthetic lines come rep by rep
    by_date = _all_reports(_with_lines(lines.sort_values(["date", "rep_id"], kind="stable")))
    shuffled = _all_reports(_with_lines(lines.sample(frac=1.0, random_state=2)))
    _assert_same(by_rep, by_date)
    _assert_same(by_rep, shuffled)


@pytest.mark.parametrize("whole", [True, False], ids=["whole amounts", "converted amounts"])
def test_chunks_of_lines_give_the_numbers_of_one_chunk(monkeypatch, whole):
    lines = _base().daily_actuals
    lines = _whole(lines) if whole else lines
    # lines the preparation leaves out, spread over the chunks: an unknown rep, an empty date,
    # a line after the as-of date, a line without a territory
    odd = pd.DataFrame({
        "date": pd.to_datetime(pd.Series(["2024-03-04", None, "2025-12-01", "2024-03-05"])),
        "rep_id": ["nobody", "r0001", "r0002", "r0003"], "territory": ["T00", "T01", "T01", None],
        "revenue": [5.0, 7.0, 9.0, 11.0], "profit": [1.0, 2.0, 3.0, 4.0],
    })
    lines = pd.concat([odd.iloc[:1], lines.iloc[:5000], odd.iloc[1:], lines.iloc[5000:]], ignore_index=True)
    one = _all_reports(_with_lines(lines))
    monkeypatch.setattr(prep, "_CHUNK", 997)
    _assert_same(one, _all_reports(_with_lines(lines)))


def test_lines_read_in_batches_land_in_their_final_arrays():
    lines = _Lines(count=3, reps=2, codes=5)  # two reps, three territories
    assert (lines.rep.dtype, lines.territory.dtype, lines.date.dtype) == (np.int8, np.int8, np.dtype("datetime64[ns]"))
    batches = [
        [np.array([20000, 20001], np.int32), np.array([0, 1], np.int32), np.array([2, -1], np.int32),
         np.array([1.5, 2.5]), np.array([0.5, 0.0])],
        # more lines than were counted (the table grew in between): the arrays grow
        [np.array([20002, 20003], np.int32), np.array([1, 0], np.int32), np.array([2, 0], np.int32),
         np.array([3.5, 4.5]), np.array([1.0, 2.0])],
    ]
    for batch in batches:
        lines._add(batch, None)  # texts read as codes (no keys)
    assert lines.n == 4 and not lines.unknown
    np.testing.assert_array_equal(lines.date[:4], pd.to_datetime(["2024-10-04", "2024-10-05", "2024-10-06",
                                                                   "2024-10-07"]).to_numpy())
    np.testing.assert_array_equal(lines.rep[:4], [0, 1, 1, 0])
    np.testing.assert_array_equal(lines.territory[:4], [2, -1, 2, 0])
    np.testing.assert_array_equal(lines.revenue[:4], [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(lines.territories_used[1:4], [True, False, True])  # territory 1 unused
    lines._add([np.array([20004], np.int32), np.array([-2], np.int32), np.array([0], np.int32),
                np.array([1.0]), np.array([1.0])], None)
    assert lines.unknown  # a rep in none of the lists: the store reads again with every code
