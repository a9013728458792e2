"""The printable plan: one self-contained HTML page, every user text escaped."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

import pandas as pd

from salesplan import planflow

from salesplan.ui.data import today
from salesplan.ui.formatting import (
    METRIC_LABEL,
    day_text,
    is_empty,
    money,
    pct,
    ponr_text,
    status_label,
)


def _numbers(items: pd.DataFrame) -> list[Any]:
    """The items' numbers within their plan (the store's ``number``; in order when a frame has none)."""
    if "number" in items.columns:
        return [None if is_empty(n) else int(n) for n in items["number"]]
    return list(range(1, len(items) + 1))


def plan_html(rep_name: str, rep_id: str, fy: int, plan: dict[str, Any], row: pd.Series | None, metric: str) -> str:
    """The whole plan as one print-friendly HTML page; every user text is escaped."""
    e = html.escape

    def table(frame: pd.DataFrame, columns: dict[str, str]) -> str:
        if frame.empty:
            return "<p class='empty'>None yet.</p>"
        head = "".join(f"<th>{e(label)}</th>" for label in columns.values())
        body = []
        for _, item in frame.iterrows():
            cells = []
            for key in columns:
                value = item[key]
                if key in ("revenue_at_risk", "expected_impact"):
                    text = money(value)
                elif isinstance(value, (date, datetime, pd.Timestamp)):
                    text = day_text(pd.Timestamp(value).date())
                else:
                    text = "" if is_empty(value) else str(value)
                cells.append(f"<td>{e(text)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    figures = ""
    if row is not None:
        items = [
            ("Status", status_label(row["status"])),
            ("Target", money(row["target"])),
            ("Actual to date", money(row["actual_to_date"])),
            ("Expected to date", money(row["expected_to_date"])),
            ("Attainment", pct(row["attainment"])),
            ("Pace", pct(row["pace"])),
            ("Gap to date (+ = behind plan)", money(row["gap_to_date"])),
            ("Required per working day", money(row["required_per_working_day"])),
            ("Current per working day", money(row["current_per_working_day"])),
            ("Point of no return", ponr_text(row["point_of_no_return"])),
            ("Action coverage", pct(row["action_coverage"])),
        ]
        figures = "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items) + "</dl>"
        figures = f"<h2>{e(METRIC_LABEL[metric])} as of {e(day_text(row['as_of']))}</h2>{figures}"
    obstacles = plan["obstacles"].copy()
    obstacles["label"] = [planflow.item_label("obstacle", n) for n in _numbers(obstacles)]
    actions = planflow.flag_overdue(plan["actions"], today())
    late = int(actions["overdue"].sum())
    if not actions.empty:
        names = dict(zip(obstacles["obstacle_id"], obstacles["label"] + ": " + obstacles["description"]))
        actions["answers"] = actions["obstacle_id"].map(lambda i: names.get(i, "") if not is_empty(i) else "")
        actions["label"] = [planflow.item_label("action", n) for n in _numbers(actions)]
        actions = planflow.for_people(actions, {rep_id: rep_name})
        actions["status"] = actions["status"] + actions["overdue"].map({True: " (overdue)", False: ""})
    overdue = (f"<p class='late'>{late} open action{'s' if late != 1 else ''} past the due date.</p>"
               if late else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(f"Plan FY{fy} - {rep_name}")}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }}
h1 {{ font-size: 1.5em; margin-bottom: 0; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }}
.meta {{ color: #555; }} table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; font-size: .92em; }}
th {{ background: #f2f2f2; }} dl {{ display: grid; grid-template-columns: max-content auto; gap: 2px 1.5em; }}
dt {{ color: #555; }} dd {{ margin: 0; font-weight: 600; }} .summary {{ white-space: pre-wrap; }}
.empty {{ color: #777; font-style: italic; }} .late {{ color: #b71c1c; font-weight: 600; }}
@media print {{ body {{ margin: 0; }} h2 {{ break-after: avoid; }} tr {{ break-inside: avoid; }} }}
</style></head><body>
<h1>{e(rep_name)} ({e(rep_id)}): target achievement plan FY{fy}</h1>
<p class="meta">Plan status: {e(str(plan["status"]))}. Printed {e(day_text(today()))}.</p>
{figures}
<h2>Summary</h2><p class="summary">{e(plan["summary"] or "") or "<span class='empty'>No summary yet.</span>"}</p>
<h2>Obstacles</h2>{table(obstacles, {"label": "#", "description": "Obstacle", "likelihood": "Likelihood (1-5)", "revenue_at_risk": "Revenue at risk"})}
<h2>Actions</h2>{overdue}{table(actions, {"label": "#", "description": "Action", "owner": "Owner", "due_date": "Due", "status": "Status", "expected_impact": "Expected impact", "answers": "Answers obstacle"}) if not actions.empty else "<p class='empty'>None yet.</p>"}
<h2>Check-ins</h2>{table(plan["checkins"], {"checkin_date": "Date", "author": "Author", "note": "Note"})}
</body></html>
"""
