"""Watch list: each card's pipeline coverage, the advice that names the uncovered gap, and the
chance to reach with its "see the math": the engine's numbers for the demo organisation."""

from __future__ import annotations

import pytest

from salesplan import engine, ui
from tests.helpers.pages import DEMO_TODAY, app, engine_inputs, fresh_db, texts


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return fresh_db(tmp_path_factory.mktemp("watchlist"))


@pytest.fixture(scope="module")
def expected(db):
    return engine.watchlist(engine_inputs(db), DEMO_TODAY)


@pytest.fixture
def at(monkeypatch, db):
    return app(monkeypatch, db, page="watchlist")


def test_cards_show_pipeline_coverage_and_name_the_uncovered_gap(at, expected):
    shown = expected.iloc[: ui.WATCHLIST_PAGE_SIZE]
    with_pipeline = shown[shown["weighted_coverage"].notna()]
    assert not with_pipeline.empty, "the demo's watch list has owners with a pipeline"
    weighted = [m.value for m in at.metric if m.label == "Weighted coverage"]
    uncovered = [m.value for m in at.metric if m.label == "Uncovered gap"]
    assert weighted == [ui.pct(v, 0) for v in shown.loc[shown["pipeline"].notna(), "weighted_coverage"]]
    assert uncovered == [ui.money(v) for v in shown.loc[shown["pipeline"].notna(), "uncovered_gap"]]
    page = texts(at)
    for entry in with_pipeline.itertuples():
        if entry.uncovered_gap > 0:
            assert f"{ui.md(ui.money(entry.uncovered_gap))} is not covered by any deal" in page


def test_cards_show_the_chance_and_its_math(at, db, expected):
    shown = expected.iloc[: ui.WATCHLIST_PAGE_SIZE]
    assert [m.value for m in at.metric if m.label == "Chance to reach"] == [
        ui.pct(v, 0) for v in shown["chance_to_reach"]]
    details = engine.chance_details(engine_inputs(db), DEMO_TODAY, level="rep").set_index("owner_id")
    rep = shown[shown["owner_type"] == "rep"].iloc[0]
    assert ui.md(details.loc[rep["owner_id"], "explanation"]) in texts(at)
    assert len([e for e in at.expander if e.label == "See the math of the chance"]) == len(shown)
