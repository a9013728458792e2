"""The store's contract for open-deals snapshots (salesplan/storage/deals.py), on DuckDB.

Rows go in through ``apply_deals`` as the import hands them over; every expectation is worked
out by hand.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from salesplan.errors import NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.storage.deals import DEAL_COLUMNS

# reps_store holds R000 (manager of R001..R003)
MANAGER = Principal("mia@example.com", "manager", "R000")
REP_1 = Principal("ava@example.com", "rep", "R001")
NO_REJECTS = pd.DataFrame({"line": pd.Series([], dtype="int64"), "record": [], "problems": []})


def deals(*rows: tuple[str, str, float, float, str]) -> pd.DataFrame:
    """Deals (deal_id, rep_id, amount, probability, expected_close) as the importer hands them over."""
    frame = pd.DataFrame(rows, columns=["deal_id", "rep_id", "amount", "probability", "expected_close"])
    frame["line"] = range(2, len(frame) + 2)
    frame["expected_close"] = pd.to_datetime(frame["expected_close"])
    frame["probability_source"] = "file"
    for column in ("stage", "name", "customer", "product", "currency"):
        frame[column] = None
    return frame[DEAL_COLUMNS]


def apply(store, frame, day, principal=SYSTEM, name="d.csv"):
    return store.apply_deals(principal, frame, NO_REJECTS, as_of=day, file_name=name, sha256="ab" * 32, valid_only=False)


def test_a_snapshot_is_one_batch_with_its_counts_and_the_reps_it_covers(reps_store):
    batch_id, counts, closed = apply(reps_store, deals(("A", "R001", 100, 0.5, "2025-04-01")), date(2025, 3, 3))
    assert (counts.inserted, counts.updated, counts.unchanged, counts.rejected, closed) == (1, 0, 0, 0, 0)
    info = reps_store.batch(batch_id)
    assert (info["kind"], info["file_name"], info["sha256"], info["uploaded_by"], info["rows_inserted"]) == \
        ("deals", "d.csv", "ab" * 32, "system", 1)
    assert info["reason"] == "open deals as of 2025-03-03 for 4 rep(s); 0 no longer open"
    covered = reps_store.deal_snapshots(SYSTEM)
    assert covered["rep_id"].tolist() == ["R000", "R001", "R002", "R003"]
    assert (covered["snapshot_date"] == pd.Timestamp("2025-03-03")).all()
    assert reps_store.schema_version() >= 30


def test_history_resolves_the_newest_upload_per_rep_and_date(reps_store):
    day = date(2025, 3, 3)
    apply(reps_store, deals(("A", "R001", 100, 0.5, "2025-04-01"), ("B", "R002", 200, 0.2, "2025-05-01")), day)
    # a manager's upload on the same day, then the rep's own: the newest covering a rep wins
    apply(reps_store, deals(("A", "R001", 150, 0.5, "2025-04-01")), day, principal=MANAGER)
    batch_id, counts, closed = apply(reps_store, deals(("C", "R001", 50, 1.0, "2025-03-31")), day, principal=REP_1)
    assert (counts.inserted, counts.updated, counts.unchanged, closed) == (1, 0, 0, 1)
    history = reps_store.deal_history(SYSTEM)
    assert history[["rep_id", "deal_id", "amount"]].values.tolist() == [["R001", "C", 50.0]]
    # the manager's upload covered R002 without deals: R002 has none left on that day
    assert reps_store.open_deals(SYSTEM, day)["deal_id"].tolist() == ["C"]
    # undoing the rep's upload brings back the manager's for R001
    reps_store.undo(SYSTEM, batch_id)
    assert reps_store.open_deals(SYSTEM, day)[["deal_id", "amount"]].values.tolist() == [["A", 150.0]]


def test_the_engine_frames_per_rep_and_snapshot_date(reps_store):
    apply(reps_store, deals(("A", "R001", 100, 0.5, "2025-04-01"), ("B", "R002", 200, 0.2, "2025-05-01")),
          date(2025, 3, 3))
    apply(reps_store, deals(("B", "R002", 250, 0.4, "2025-05-01")), date(2025, 3, 10))
    history = reps_store.deal_history(SYSTEM)
    assert list(history.columns[:6]) == ["snapshot_date", "rep_id", "deal_id", "amount", "probability", "expected_close"]
    rows = [(str(r.snapshot_date.date()), r.rep_id, r.deal_id, r.amount, r.probability, str(r.expected_close.date()))
            for r in history.itertuples()]
    assert rows == [
        ("2025-03-03", "R001", "A", 100.0, 0.5, "2025-04-01"),
        ("2025-03-03", "R002", "B", 200.0, 0.2, "2025-05-01"),
        ("2025-03-10", "R002", "B", 250.0, 0.4, "2025-05-01"),
    ]
    assert history["snapshot_date"].dtype == "datetime64[ns]" and history["expected_close"].dtype == "datetime64[ns]"
    # every rep is covered on both dates: R001's deal A vanished on 03-10, so R001 has nothing open then
    scopes = reps_store.deal_snapshots(SYSTEM)
    assert [(str(d.date()), r) for d, r in zip(scopes["snapshot_date"], scopes["rep_id"])] == [
        (day, rep) for day in ("2025-03-03", "2025-03-10") for rep in ("R000", "R001", "R002", "R003")
    ]
    inputs = reps_store.engine_inputs(SYSTEM)
    if hasattr(inputs, "deals"):  # the engine's EngineInputs carries the snapshots
        pd.testing.assert_frame_equal(inputs.deals, history)
        pd.testing.assert_frame_equal(inputs.deal_scopes, scopes)


def test_reads_are_scoped_to_what_the_principal_may_see(reps_store):
    apply(reps_store, deals(("A", "R001", 100, 0.5, "2025-04-01"), ("B", "R002", 200, 0.2, "2025-05-01")),
          date(2025, 3, 3))
    assert reps_store.deal_history(REP_1)["deal_id"].tolist() == ["A"]
    assert reps_store.deal_snapshots(REP_1)["rep_id"].tolist() == ["R001"]
    assert reps_store.open_deals(MANAGER, date(2025, 3, 3))["deal_id"].tolist() == ["A", "B"]
    assert reps_store.open_deals(Principal("x@example.com", "rep", None), date(2025, 3, 3)).empty


def test_writes_outside_the_scope_are_refused_and_change_nothing(reps_store):
    before = reps_store.snapshot()
    with pytest.raises(NotAllowed):
        apply(reps_store, deals(("B", "R002", 200, 0.2, "2025-05-01")), date(2025, 3, 3), principal=REP_1)
    with pytest.raises(NotAllowed):
        apply(reps_store, deals(("B", "R002", 200, 0.2, "2025-05-01")), date(2025, 3, 3),
              principal=Principal("lead@example.com", "leader"))
    with pytest.raises(NotAllowed):
        reps_store.deal_scope(Principal("nobody@example.com", "rep", None))
    assert reps_store.snapshot() == before
    assert reps_store.deal_scope(MANAGER) == ["R000", "R001", "R002", "R003"]
    assert reps_store.deal_scope(REP_1) == ["R001"]
