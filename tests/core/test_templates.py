"""The example files: the demo's people and recent dates, so that uploading one unchanged works on
the demo."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.store import Store
from salesplan.templates import KINDS, SHIPPED_TODAY, template_csv
from tests.helpers.demo import demo_copy

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_files_are_the_templates():
    for kind in KINDS:
        assert (ROOT / "data" / "templates" / f"{kind}.csv").read_text() == imports.template_csv(kind)


def test_each_template_imports_unchanged_into_a_demo(tmp_path):
    # the demo the pages' tests use (tests/helpers/pages.py): a run builds each demo once, and this
    # one is built anyway
    with Store.open(demo_copy(tmp_path, reps=12, seed=3, today=SHIPPED_TODAY)) as store:
        before = store.actual_totals(SYSTEM)["revenue"]
        for kind in ("reps", "holidays", "targets", "actuals"):
            result = imports.import_file(store, kind, ROOT / "data" / "templates" / f"{kind}.csv")
            assert result.rejected == 0 and not result.problems, (kind, result.problems)
            assert result.inserted + result.updated >= 1, kind
        deals = imports.import_file(store, "deals", ROOT / "data" / "templates" / "deals.csv", as_of=SHIPPED_TODAY)
        assert deals.rejected == 0 and deals.inserted == 2
        assert store.actual_totals(SYSTEM)["revenue"] == pytest.approx(before + 1250 + 2400.5 - 125)
        assert "R900" in set(store.rep_lookup()["rep_id"])


@pytest.mark.parametrize("today", [date(2026, 3, 2), date(2027, 12, 31), date(2026, 11, 29)])
def test_templates_follow_the_as_of_day(today):
    actual_days = [line.split(",")[0] for line in template_csv("actuals", today).splitlines()[1:]]
    assert all(date.fromisoformat(d) < today and date.fromisoformat(d).weekday() < 5 for d in actual_days)
    closes = [line.rsplit(",", 1)[1] for line in template_csv("deals", today).splitlines()[1:]]
    assert all(date.fromisoformat(d) > today for d in closes)
    target_month = template_csv("targets", today).splitlines()[1].split(",")[3]
    assert target_month > f"{today:%Y-%m}"
