"""The demo organisation: what a first visitor of the dashboard sees.

``generate`` writes the four import files of docs/files.md (reps, targets, holidays, actuals) and
weekly snapshots of open deals (docs/pipeline.md) for a fictitious European sales organisation, and returns the written plans as plain Python data.
``load_demo`` loads it into a store: the actuals through the real import path; people, holidays,
targets and deal snapshots through the store's API as their imports would record them; plans
through the plan API.

The organisation (default 40 people): a VP, 4 regional heads (North, West, South, East), 12
territory managers (player-coaches with a smaller personal quota) and their sellers. The manager
chain is seller -> territory manager -> regional head -> VP. Only people with a territory carry a
quota; the VP and the regional heads have no territory, no targets and no actuals.

The data cover two complete fiscal years plus the current one up to and including ``today``.
Targets are monthly, seasonal (Q4 heavy, summer dip) for revenue and profit. The story of the
current fiscal year (year-to-date pace is pinned exactly, whatever the seed):

* ``rep2@demo.test`` is well ahead; ``rep1@demo.test`` (same team, ``manager1@demo.test``) has
  been sliding behind since spring and has a point of no return coming up;
* a few more reps are behind or at risk, one rep sells on plan but discounts away the profit;
* one rep lost the key account early in the year and is hopelessly behind;
* three new hires start inside the current fiscal year (one of them after ``today``);
  one seller left during the previous year;
* behind reps have plans whose open actions do not cover their gap; on-track ones are fine.
* every active quota carrier has open deals in four weekly snapshots (the last dated ``today``),
  at stages whose probabilities the demo sets; some deals are overdue or slipped; on-track reps
  carry about three times their gap, rep1's pipeline is thin and drying up, the hopeless rep's
  nearly empty.

Everything is deterministic: the same (reps, seed, today) gives byte-identical files.
Generation is vectorised per rep (no loop per row or day).
"""

from __future__ import annotations

# The demo was one module: every name of its parts stays importable as ``salesplan.demo.X``.
# common: settings and helpers; org: people, customers, holidays; actuals: sale lines and
# territory targets; pipeline: open deals; plans: plans; build: ``generate``; load: ``load_demo``.
from salesplan.demo.common import (
    MIN_REPS as MIN_REPS,
    MAX_REPS as MAX_REPS,
    FY_START_MONTH as FY_START_MONTH,
    WEEKMASK as WEEKMASK,
    DOMAIN as DOMAIN,
    SEASONALITY as SEASONALITY,
    _fy_of as _fy_of,
    _fy_start as _fy_start,
    _add_months as _add_months,
    _month_end as _month_end,
    _easter as _easter,
    _nth_weekday as _nth_weekday,
    _d64 as _d64,
    _ascii_local as _ascii_local,
    _money as _money,
    _round_to as _round_to,
    _floor_to as _floor_to,
    _write as _write,
)
from salesplan.demo.org import (
    REGIONS as REGIONS,
    COMPANY_SUFFIX as COMPANY_SUFFIX,
    FIRST_NAMES as FIRST_NAMES,
    LAST_NAMES as LAST_NAMES,
    CUSTOMER_STEMS as CUSTOMER_STEMS,
    CUSTOMER_INDUSTRIES as CUSTOMER_INDUSTRIES,
    _fixed as _fixed,
    _easter_plus as _easter_plus,
    ORG_HOLIDAYS as ORG_HOLIDAYS,
    LABOUR_DAY as LABOUR_DAY,
    TERRITORY_HOLIDAYS as TERRITORY_HOLIDAYS,
    _customers as _customers,
    _org_shape as _org_shape,
    _people as _people,
    _holidays as _holidays,
)
from salesplan.demo.actuals import (
    PRODUCTS as PRODUCTS,
    PRODUCT_NAMES as PRODUCT_NAMES,
    PRODUCT_PRICE as PRODUCT_PRICE,
    PRODUCT_MARGIN as PRODUCT_MARGIN,
    PRODUCT_WEIGHT as PRODUCT_WEIGHT,
    RETURN_LINE_SHARE as RETURN_LINE_SHARE,
    RETURN_GROSS_UP as RETURN_GROSS_UP,
    WEEKEND_ORDER_SHARE as WEEKEND_ORDER_SHARE,
    _days_to_act as _days_to_act,
    _orders as _orders,
    _finish_actuals as _finish_actuals,
    _territory_targets as _territory_targets,
)
from salesplan.demo.pipeline import (
    DEAL_STAGES as DEAL_STAGES,
    DEAL_SNAPSHOTS as DEAL_SNAPSHOTS,
    PIPELINE_COVERAGE as PIPELINE_COVERAGE,
    _pipelines as _pipelines,
)
from salesplan.demo.plans import (
    OBSTACLES as OBSTACLES,
    ACTIONS as ACTIONS,
    SUMMARIES as SUMMARIES,
    CHECKIN_NOTES as CHECKIN_NOTES,
    _plans as _plans,
)
from salesplan.demo.build import (
    DemoData as DemoData,
    generate as generate,
)
from salesplan.demo.load import (
    load_demo as load_demo,
    DEMO_PASSWORD as DEMO_PASSWORD,
    _demo_accounts as _demo_accounts,
)

__all__ = ["DemoData", "generate", "load_demo", "MIN_REPS", "MAX_REPS"]
