"""People over time (docs/people.md): territories by sale date, bottom-up targets by first-day
membership, leavers, the history editor."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesplan import engine, imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates

REPS = "rep_id,name,territory,region\nR1,Ann,North,EU\nR2,Bob,South,EU\nR3,Cid,South,EU\n"


def _load(store: Store, kind: str, text: str, name: str | None = None):
    return imports.import_file(store, kind, text.encode(), file_name=name or f"{kind}.csv", principal=SYSTEM)


def _move(store: Store) -> None:
    _load(store, "reps", REPS)
    _load(store, "reps", "rep_id,name,territory,region,effective_from\nR1,Ann,South,EU,2025-03-15\n", "move.csv")
    _load(store, "actuals", "date,rep,amount,territory\n2025-03-14,R1,100,\n2025-03-15,R1,200,\n"
                            "2025-04-01,R1,400,\n2025-04-02,R1,800,North\n2025-03-20,R2,10,\n")
    _load(store, "targets", "owner,month,amount\nR1,2025-03,1000\nR1,2025-04,2000\nR2,2025-03,50\n")


@pytest.fixture
def moved(tmp_path):
    """R1 in North, moved to South on 2025-03-15; actuals either side of the move; targets for
    March and April (a copy of a database built once per run: four imports)."""
    with templates.open_copy(templates.template("people_history_moved", _move), tmp_path / "p.duckdb") as store:
        yield store


def test_a_rep_moved_on_the_15th(moved):
    inputs = moved.engine_inputs(SYSTEM)
    daily = inputs.daily_actuals.set_index(["date", "rep_id"])["territory"]
    assert daily[(pd.Timestamp("2025-03-14"), "R1")] == "North"  # before the move
    assert daily[(pd.Timestamp("2025-03-15"), "R1")] == "South"  # from the day of the move
    assert daily[(pd.Timestamp("2025-04-01"), "R1")] == "South"
    assert daily[(pd.Timestamp("2025-04-02"), "R1")] == "North"  # the file named it: it stays
    report = engine.report(inputs, "2025-04-30", fy=2025, level="territory", period="month")
    march = report[report["period"] == "FY2025-M03"].set_index("owner_id")
    april = report[report["period"] == "FY2025-M04"].set_index("owner_id")
    assert march.loc["North", "actual_to_date"] == 100
    assert march.loc["South", "actual_to_date"] == 210
    assert april.loc["North", "actual_to_date"] == 800
    assert april.loc["South", "actual_to_date"] == 400
    # bottom-up targets: R1 was in North on 1 March and in South on 1 April
    assert march.loc["North", "target"] == 1000 and march.loc["South", "target"] == 50
    assert april.loc["North", "target"] == 0 and april.loc["South", "target"] == 2000
    # the rep's own numbers do not move with the rep
    reps = engine.report(inputs, "2025-04-30", fy=2025, level="rep", period="year").set_index("owner_id")
    assert reps.loc["R1", "actual_to_date"] == 1500 and reps.loc["R1", "target"] == 3000
    history = moved.rep_history(SYSTEM, "R1")
    assert history["territory"].tolist() == ["North", "South"]
    assert history["effective_from"].tolist() == [pd.Timestamp("1900-01-01"), pd.Timestamp("2025-03-15")]


def test_a_later_history_edit_moves_rows_without_a_file_territory(moved):
    moved.set_rep_history(SYSTEM, "R1", dt.date(2025, 4, 1), "North", None)
    daily = moved.engine_inputs(SYSTEM).daily_actuals.set_index(["date", "rep_id"])["territory"]
    assert daily[(pd.Timestamp("2025-03-15"), "R1")] == "South"
    assert daily[(pd.Timestamp("2025-04-01"), "R1")] == "North"
    moved.delete_rep_history(SYSTEM, "R1", dt.date(2025, 4, 1))
    daily = moved.engine_inputs(SYSTEM).daily_actuals.set_index(["date", "rep_id"])["territory"]
    assert daily[(pd.Timestamp("2025-04-01"), "R1")] == "South"
    with pytest.raises(BadInput, match="unknown territory"):
        moved.set_rep_history(SYSTEM, "R1", dt.date(2025, 5, 1), "Atlantis", None)
    with pytest.raises(BadInput, match="only history row"):
        moved.delete_rep_history(SYSTEM, "R2", dt.date(1900, 1, 1))


def test_a_rep_moving_twice_in_one_file(tmp_path):
    with templates.open_copy(templates.template(templates.MIGRATED), tmp_path / "t.duckdb") as store:
        _load(store, "reps", "rep_id,name,territory,region,effective_from\nR1,Ann,North,EU,\n"
                             "R1,Ann,South,EU,2025-02-01\nR1,Ann,West,EU,2025-05-01\n")
        assert store.rep_history(SYSTEM, "R1")["territory"].tolist() == ["North", "South", "West"]
        assert store.reps(SYSTEM)["territory"].tolist() == ["West"]  # in effect today
        with pytest.raises(BadInput, match="listed again with other values"):
            _load(store, "reps", "rep_id,name,territory,effective_from\nR2,Bo,North,2025-02-01\nR2,Bo,South,2025-02-01\n", "r2.csv")


def test_a_leaver(tmp_path):
    with templates.open_copy(templates.template(templates.MIGRATED), tmp_path / "l.duckdb") as store:
        _load(store, "reps", REPS)
        _load(store, "targets", "owner,month,amount\nR2,2025-06,100\nR2,2025-07,100\nR3,2025-07,40\n")
        _load(store, "reps", "rep_id,name,territory,region,end_date\nR2,Bob,South,EU,2025-06-30\n", "leaver.csv")
        reps = store.reps(SYSTEM).set_index("rep_id")
        assert bool(reps.loc["R2", "left"]) and not bool(reps.loc["R3", "left"])
        # the July target stored before the end date was known counts no more
        inputs = store.engine_inputs(SYSTEM)
        r2 = inputs.targets[inputs.targets["owner_id"] == "R2"]
        assert r2["month"].tolist() == [pd.Timestamp("2025-06-01")]
        south = engine.report(inputs, "2025-07-31", fy=2025, level="territory", period="month").set_index(["owner_id", "period"])
        assert south.loc[("South", "FY2025-M07"), "target"] == 40
        # new targets after leaving are refused with line and column
        with pytest.raises(BadInput) as caught:
            _load(store, "targets", "owner,month,amount\nR2,2025-06,10\nR2,2025-08,10\n", "late.csv")
        [problem] = caught.value.problems
        assert (problem.line, problem.column) == (3, "month")
        assert problem.reason == "rep R2 left on 2025-06-30: no targets after that"


DAYS = [dt.date(2025, 1, 1) + dt.timedelta(days=d) for d in range(120)]


@pytest.fixture(scope="module")
def shared_store():
    store = Store.open(":memory:")
    _load(store, "reps", REPS)
    yield store
    store.close()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.sampled_from(["R1", "R2", "R3"]), st.sampled_from(DAYS),
                                st.sampled_from(["North", "South"])), max_size=5),
       sales=st.lists(st.tuples(st.sampled_from(["R1", "R2", "R3"]), st.sampled_from(DAYS),
                                st.integers(min_value=1, max_value=999)), min_size=1, max_size=12))
def test_a_territorys_actuals_are_its_members_on_each_day(shared_store, moves, sales):
    store = shared_store
    with store.cursor() as cursor:  # back to the starting history between examples
        cursor.execute("DELETE FROM rep_history WHERE effective_from > DATE '1900-01-01'")
    for (rep, day), territory in {(r, d): t for r, d, t in moves}.items():
        store.set_rep_history(SYSTEM, rep, day, territory, None)
    batch = _load(store, "actuals", "date,rep,amount\n" + "".join(f"{d},{r},{a}\n" for r, d, a in sales)).batch_id
    try:
        history = store.rep_history(SYSTEM)
        daily = store.engine_inputs(SYSTEM).daily_actuals
        for day in sorted({d for _, d, _ in sales}):
            # who was where on that day, straight from the history rows
            members: dict[str, set[str]] = {}
            for rep, rows in history.groupby("rep_id"):
                current = rows[rows["effective_from"] <= pd.Timestamp(day)].sort_values("effective_from").iloc[-1]
                members.setdefault(current["territory"], set()).add(rep)
            on_day = daily[daily["date"] == pd.Timestamp(day)]
            for territory, reps in members.items():
                expected = sum(a for r, d, a in sales if d == day and r in reps)
                assert on_day.loc[on_day["territory"] == territory, "revenue"].sum() == expected
    finally:
        store.undo(SYSTEM, batch)
