"""Property: after any sequence of deals uploads (by people of different scopes, on any dates, in
any order) and undos, the deals open on a day are, for each rep, those of the newest upload not
undone dated on or before that day that covered the rep (docs/pipeline.md) — checked against a
plain-Python model of that rule."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesplan import imports
from salesplan.principal import SYSTEM, Principal
from salesplan.storage.deals import DEAL_COLUMNS
from salesplan.store import Store
from tests.helpers import templates

TEAMS_CSV = (
    "rep_id,name,email,territory,region,manager\n"
    "M1,Max One,max@example.com,North,N,\n"
    "A1,Ada Ant,ada@example.com,North,N,M1\n"
    "A2,Abe Ant,abe@example.com,North,N,M1\n"
    "B1,Bea Bee,bea@example.com,South,S,\n"
)
UPLOADERS = {
    "admin": (SYSTEM, ("M1", "A1", "A2", "B1")),
    "manager": (Principal("max@example.com", "manager", "M1"), ("M1", "A1", "A2")),
    "rep A1": (Principal("ada@example.com", "rep", "A1"), ("A1",)),
    "rep B1": (Principal("bea@example.com", "rep", "B1"), ("B1",)),
}
DAY0 = date(2025, 3, 3)
NO_REJECTS = pd.DataFrame({"line": pd.Series([], dtype="int64"), "record": [], "problems": []})

upload = st.tuples(
    st.sampled_from(sorted(UPLOADERS)),
    st.integers(0, 4),                                    # the snapshot's day
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(1, 9)), max_size=6),  # (deal, rep pick, amount)
    st.booleans(),                                        # undo it afterwards
)


def _teams(store: Store) -> None:
    imports.import_file(store, "reps", TEAMS_CSV.encode(), file_name="reps.csv")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("deals")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(upload, min_size=1, max_size=5))
def test_open_deals_follow_the_newest_snapshot_per_rep(folder, uploads):
    # each example starts from a copy of the teams' database, built once per run (migrating a new
    # store and importing the reps cost ~0.3 s of CPU per example)
    path = templates.duckdb_copy(folder / f"{uuid.uuid4().hex}.duckdb", "deals-teams", _teams)
    store = Store.open(path)
    try:
        model = []  # (batch_id, day, scope, {deal_id: (rep_id, amount)}, undone)
        for who, day, picks, undo in uploads:
            principal, scope = UPLOADERS[who]
            rows = {f"D{deal}": (scope[pick % len(scope)], float(amount)) for deal, pick, amount in picks}
            frame = pd.DataFrame({
                "line": range(2, len(rows) + 2), "deal_id": list(rows), "rep_id": [r for r, _ in rows.values()],
                "amount": [a for _, a in rows.values()], "probability": 0.5, "probability_source": "file",
                "expected_close": pd.Timestamp("2025-06-30"), "stage": None, "name": None, "customer": None,
                "product": None, "currency": None,
            }, columns=DEAL_COLUMNS)
            as_of = DAY0 + timedelta(days=day)
            batch_id, _, _ = store.apply_deals(principal, frame, NO_REJECTS, as_of=as_of, file_name="d.csv",
                                               sha256=None, valid_only=False)
            if undo:
                store.undo(SYSTEM, batch_id)
            model.append((batch_id, as_of, set(scope), rows, undo))
        for offset in range(-1, 6):
            day = DAY0 + timedelta(days=offset)
            expected = set()
            for rep in ("M1", "A1", "A2", "B1"):
                live = [m for m in model if not m[4] and rep in m[2] and m[1] <= day]
                if live:
                    _, _, _, rows, _ = max(live, key=lambda m: (m[1], m[0]))
                    expected |= {(deal, rep, amount) for deal, (owner, amount) in rows.items() if owner == rep}
            frame = store.open_deals(SYSTEM, day)
            assert set(zip(frame["deal_id"], frame["rep_id"], frame["amount"])) == expected, day
    finally:
        store.close()
        path.unlink()
