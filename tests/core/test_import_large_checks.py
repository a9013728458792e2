"""Checks that a large actuals file answers from its distinct texts first (docs/decisions.md,
"What the parser of a large file costs"): its territories are looked up once per distinct text,
and only a file naming an unknown one tests every row. The answers are those of a small file:
an unknown territory is refused on its line, padded cells are read trimmed."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import Problem
from salesplan.principal import SYSTEM
from tests.helpers.actuals import actuals, problems

HEADER = "date,rep,order_id,line,amount,territory\n"


def _file(rows: list[str]) -> tuple[str, int]:
    """A file of ``rows`` after enough rows of known territories to take the large path, and the
    line of its first row."""
    filler = [f"2025-03-{3 + i % 20:02d},R001,F{i},1,{i}.5,{'Nordics' if i % 3 else ''}"
              for i in range(imports.parser._SMALL_FILE_ROWS + 20)]
    return HEADER + "\n".join(filler + rows) + "\n", len(filler) + 2


@pytest.fixture(params=["large in Arrow", "large kept in DuckDB"])
def path(request, monkeypatch):
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if request.param.endswith("DuckDB") else 1e9)
    return request.param


def test_an_unknown_territory_of_a_large_file_is_refused_on_its_line(reps_store, path):
    text, first = _file(["2025-03-04,R001,A,1,20,DACH", "2025-03-04,R001,B,1,20,Atlantis", "2025-03-04,R001,C,1,20, Atlantis "])
    assert problems(reps_store, text) == [
        Problem("sales.csv", first + 1, "territory", "unknown territory 'Atlantis'"),
        Problem("sales.csv", first + 2, "territory", "unknown territory 'Atlantis'"),
    ]


def test_known_territories_of_a_large_file_are_written_trimmed(reps_store, path):
    text, first = _file(["2025-03-04,R001,A,1,20,DACH", '2025-03-04,R001,B,1,20," DACH "'])
    result = actuals(reps_store, text)
    assert (result.inserted, result.rejected) == (imports.parser._SMALL_FILE_ROWS + 22, 0)
    frame = reps_store.actuals(SYSTEM).set_index("order_id")
    assert frame.loc[["A", "B", "F1", "F3"], "territory"].tolist() == ["DACH", "DACH", "Nordics", "Nordics"]
