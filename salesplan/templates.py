"""The example files of each import kind (Upload page's download, data/templates/).

They name the demo organisation's people by the e-mails every demo has whatever its size and seed
(rep1@demo.test, rep2@demo.test, manager1@demo.test, see salesplan/demo/org.py) and its first territory,
and carry dates close to an as-of day, so that uploading a template unchanged works on the demo.
The shipped files are dated around ``SHIPPED_TODAY``; the page passes its own as-of date.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

__all__ = ["KINDS", "SHIPPED_TODAY", "template_csv"]

KINDS = ("reps", "holidays", "targets", "actuals", "deals")
SHIPPED_TODAY = date(2026, 11, 26)  # the day the files in data/templates are dated around

REP1, REP2, MANAGER1 = "rep1@demo.test", "rep2@demo.test", "manager1@demo.test"
TERRITORY, REGION = "Nordics", "North"  # the demo's first territory (salesplan.demo.REGIONS)


def _working_day_before(d: date, n: int) -> date:
    """The n-th Monday-Friday before ``d`` (n=0: ``d`` itself or the Friday before a weekend day)."""
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    for _ in range(n):
        d -= timedelta(days=1)
        while d.weekday() >= 5:
            d -= timedelta(days=1)
    return d


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def template_csv(kind: str, today: date | None = None) -> str:
    """A small example file of ``kind`` dated around ``today`` (default ``SHIPPED_TODAY``).

    Actuals fall on the working days just before ``today``, targets and the new hire on next month,
    deals close after ``today``. Raises KeyError for an unknown kind.
    """
    today = today or SHIPPED_TODAY
    sold, credited = _working_day_before(today, 2), _working_day_before(today, 1)
    nxt = _next_month(today)
    after = _next_month(nxt)
    nxt_end = date(nxt.year, nxt.month, calendar.monthrange(nxt.year, nxt.month)[1])
    after_end = date(after.year, after.month, calendar.monthrange(after.year, after.month)[1])
    month = f"{nxt:%Y-%m}"
    tag = f"{today:%y%m%d}"  # order and deal ids differ per as-of day, so a second upload adds rows
    return {
        "actuals": "date,rep,order_id,line,customer,product,territory,revenue,cost\n"
                   f"{sold},{REP1},SO-{tag}-1,1,Acme Ltd,Widget,,1250.00,700.00\n"
                   f"{sold},{REP2},SO-{tag}-2,1,Globex,Service,,\"2,400.50\",1100\n"
                   f"{credited},{REP1},CN-{tag}-1,1,Acme Ltd,Widget,,-125.00,-70.00\n",
        "reps": "rep_id,name,email,territory,region,manager,start_date,end_date\n"
                f"R900,Noa Lind,noa.lind@demo.test,{TERRITORY},{REGION},{MANAGER1},{nxt},\n",
        "targets": "owner_type,owner,metric,month,start,end,amount,reason\n"
                   f"rep,{REP1},revenue,{month},,,20000,agreed at the review\n"
                   f"rep,{REP1},profit,{month},,,8000,agreed at the review\n"
                   f"rep,{REP2},revenue,,{nxt},{after_end},44000,two months spread by working days\n"
                   f"territory,{TERRITORY},revenue,{month},,,60000,top-down\n",
        "holidays": "date,name,territory\n"
                    f"{date(today.year + 1, 1, 1)},New Year's Day,\n"
                    f"{nxt_end},Company day,{TERRITORY}\n",
        "deals": "deal_id,owner,name,customer,stage,probability,amount,expected_close\n"
                 f"D-{tag}-1,{REP1},Acme renewal,Acme Ltd,Proposal,40%,12000,{today + timedelta(days=20)}\n"
                 f"D-{tag}-2,{REP2},Globex expansion,Globex,Negotiation,0.7,\"8,500.00\",{today + timedelta(days=45)}\n",
    }[kind]
