"""The demo database the dashboard tests start from."""

from __future__ import annotations

from tests.helpers.pages import demo_template, engine_year


def test_demo_template_has_an_organisation():
    year = engine_year(demo_template())
    assert len(year) == 12
    assert (year["target"] > 0).sum() >= 6
