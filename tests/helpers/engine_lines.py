"""The organisation of the engine-lines tests (tests/storage/test_engine_lines.py and
test_actual_keys.py): reps whose territory moves, targets, and actuals whose float sums depend on
their order; the reports compared bit for bit."""

from __future__ import annotations

import datetime as dt

from dataclasses import fields

import numpy as np

import pandas as pd

from salesplan import engine, imports
from salesplan.principal import SYSTEM

AS_OF = dt.date(2025, 6, 20)
REPS = (
    "rep_id,name,email,territory,region,manager\n"
    "M1,Max,max@x.test,North,EU,\n"
    "R1,Ann,ann@x.test,North,EU,M1\n"
    "R2,Bob,bob@x.test,South,EU,M1\n"
    "R3,Cem,cem@x.test,West,US,\n"
)
def load(store, kind: str, text: str, name: str | None = None):
    return imports.import_file(store, kind, text.encode(), file_name=name or f"{kind}.csv", principal=SYSTEM)


def actuals_file() -> str:
    """Several lines per (date, rep, territory), amounts whose float sums depend on their order
    (0.1 + 0.2 + 0.3 ...), some lines naming their territory and some not (then the rep's
    territory on the sale date, which moves on 2025-03-15 for R1)."""
    rng = np.random.default_rng(5)
    rows = ["date,rep,territory,amount,cost,order_id"]
    start = dt.date(2024, 1, 2)
    for i in range(900):
        day = start + dt.timedelta(days=int(rng.integers(0, 530)))
        rep = ("R1", "R2", "R3")[int(rng.integers(0, 3))]
        territory = ("", "North", "South", "West")[int(rng.integers(0, 4))]
        amount = ("0.1", "0.2", "0.3", "1234.5678", "0.0001", "-0.7", "99999.9999")[int(rng.integers(0, 7))]
        rows.append(f"{day.isoformat()},{rep},{territory},{amount},0.05,O{i}")
        if i % 3 == 0:  # a second and third line on the same day, rep and territory
            rows.append(f"{day.isoformat()},{rep},{territory},0.1,0.03,O{i}b")
            rows.append(f"{day.isoformat()},{rep},{territory},0.2,0.01,O{i}c")
    return "\n".join(rows) + "\n"


def organisation(store) -> None:
    load(store, "reps", REPS)
    load(store, "reps", "rep_id,name,territory,region,manager,effective_from\nR1,Ann,South,EU,M1,2025-03-15\n", "move.csv")
    targets = ["owner,month,amount"] + [f"{rep},2025-{m:02d},{1000 + 37 * m}" for rep in ("R1", "R2", "R3") for m in range(1, 13)]
    load(store, "targets", "\n".join(targets) + "\n")
    load(store, "actuals", actuals_file())


def reports(inputs) -> dict:
    return {
        (level, metric, period): engine.report(inputs, AS_OF, level=level, metric=metric, period=period)
        for level in ("rep", "territory", "region", "org") for metric in ("revenue", "profit")
        for period in ("year", "month", "week")
    }


_organisation_reports: dict = {}


def organisation_reports(inputs) -> dict:
    """The reports of the organisation as :func:`organisation` leaves it, given that state's
    engine inputs: computed from the first inputs a test process hands over and kept. The report
    of the same lines is the same bit for bit whichever backend read them, in whatever order
    (test_engine_lines.py), so the other backend's tests and test_actual_keys.py compare with these
    instead of computing the same 24 reports again (~0.35 s of CPU each time)."""
    if not _organisation_reports:
        _organisation_reports.update(reports(inputs))
        _organisation_reports_of.append(_summary(inputs))
    else:
        # the kept reports are the expected side only for the same state: every caller must hand
        # over that organisation's inputs (in any order of lines: summed, not compared row by row)
        assert _same_summary(_summary(inputs), _organisation_reports_of[0]), "organisation_reports: other inputs than the first caller's"
    return _organisation_reports


_organisation_reports_of: list = []


def _summary(inputs) -> dict:
    """Each frame of the engine inputs by its row count, the sums of its numeric columns and the
    ids it names: independent of the order of its lines (see :func:`_same_summary`)."""
    summary = {}
    for field in fields(inputs):
        frame = getattr(inputs, field.name)
        if isinstance(frame, pd.DataFrame):
            numeric = frame.select_dtypes("number")
            summary[field.name] = (
                len(frame),
                tuple(float(numeric[c].sum()) for c in sorted(numeric.columns)),
                tuple(sorted(frame["rep_id"].dropna().astype(str).unique())) if "rep_id" in frame.columns else (),
            )
    return summary


def _same_summary(one: dict, other: dict) -> bool:
    """Equal summaries, the sums equal but for the last bits a float sum in another order gives."""
    return one.keys() == other.keys() and all(
        a[0] == b[0] and a[2] == b[2] and len(a[1]) == len(b[1])
        and all(np.isclose(x, y, rtol=1e-12, atol=1e-9) for x, y in zip(a[1], b[1]))
        for a, b in ((one[k], other[k]) for k in one)
    )


def assert_same(expected: dict, actual: dict) -> None:
    for view, frame in expected.items():
        pd.testing.assert_frame_equal(actual[view], frame, check_exact=True, obj=str(view))
