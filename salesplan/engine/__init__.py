"""The computation engine: every number of the report for every owner at once.

Design. For one level (rep, territory, region or org) the engine builds, once:

* a daily matrix owners x calendar days [D0, D1] of the metric, and its prefix sums ``S0``
  (``S0[o, j]`` = Σ actuals of owner o on days < j), so any "Σ actuals between two days" is one
  subtraction;
* per distinct working calendar (a handful: org-wide, plus one per territory holiday set), the
  working-day index of every day (``bidx``: which run-rate bucket it falls in) and, for every
  working day i, the sum of the full window of L buckets ending at i, masked to windows starting
  on or after the bucket of the owner's first actual, and its running maximum along i. A window
  ending before bucket(e) holds only actuals <= e whatever e is, so B at any as-of date is
  max(running max up to bucket(e) - 1, the window ending at bucket(e) truncated at e).

Those matrices and the target matrices are kept with the EngineInputs object they were built
from (while it lives; ``common._memo_of``, ``prep._prepare``), read-only: a report, watch list or
digest that asks again on the same object reuses them. An EngineInputs is therefore treated as
immutable: its frames must not be changed after it has been handed to the engine (build a new
one, e.g. with ``dataclasses.replace``).

Each period / as-of date is then a few vector operations over all owners, whose results are kept
with the preparation too (``numbers._computed``): a digest's report, chance details and watch list
read the same period at the same date. There is no Python loop
over days or rows; loops run only over calendars and periods (<= 12) or, for
:func:`status_history`, over the Sundays of one owner.

Modules: ``common`` (columns, organisation, targets), ``prep`` (the matrices), ``numbers`` (one
period at one date), ``pipeline`` (the open-deals columns), ``chance`` (chance_to_reach), ``api``
(report, status history, watch list, chance details), ``rows`` (a frame's rows as dicts), ``synthetic`` (benchmark and calibration
data). What every number means: docs/numbers.md.

Run ``python -m salesplan.engine --bench`` for the timing on 1,000 synthetic reps.
"""

from salesplan.engine.api import chance_details, empty_watchlist_message, report, status_history, watchlist
from salesplan.engine.common import (
    LEVELS,
    METRICS,
    MONEY_COLUMNS,
    ORG_ID,
    ORG_NAME,
    PASSED,
    PIPELINE_COLUMNS,
    RATIO_COLUMNS,
    REPORT_COLUMNS,
    STATUSES,
    WATCH_STATUSES,
    WATCHLIST_COLUMNS,
    allocation,
)
from salesplan.engine.synthetic import bench, main, synthetic_inputs

__all__ = [
    "LEVELS", "METRICS", "MONEY_COLUMNS", "ORG_ID", "ORG_NAME", "PASSED", "PIPELINE_COLUMNS", "RATIO_COLUMNS", "REPORT_COLUMNS",
    "STATUSES", "WATCH_STATUSES", "WATCHLIST_COLUMNS", "allocation", "bench", "chance_details", "empty_watchlist_message", "main", "report",
    "status_history", "synthetic_inputs", "watchlist",
]
