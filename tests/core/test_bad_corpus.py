"""The bad-input corpus (issue 7): every file under tests/data/bad/ against its expected outcome.

Each file is imported into a copy of a database that already holds reps, one actuals batch, one
targets batch and a holiday, so that "changed nothing" has something to keep. The outcome in
``expected.json`` is checked exactly: the counts and totals of an import, or the full list of
problems (line, column, reason) of a refusal, after which every table must be exactly as the copy
was made. The refused files share one copy per module (tests/helpers/unchanged.py: each test
compares it with its state when copied, which also catches a change an earlier file left); a file
that imports, or whose case changes a setting first, gets a fresh copy of its own.
Binary cases (workbooks, archives, odd encodings, the file over the upload limit) are built at test
time by ``make_binary_cases.py``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.unchanged import UnchangedStore, lending

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
MANIFEST = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
CASES = {name: entry for name, entry in MANIFEST.items() if not name.startswith("_")}
REFUSED = sorted(name for name, entry in CASES.items() if "refused" in entry)
IMPORTED = sorted(name for name, entry in CASES.items() if "refused" not in entry)
SUPPORT_FILES = {"expected.json", "make_binary_cases.py"}

BASE_ACTUALS = b"date,rep,amount,order id,line,cost\n2025-02-03,R001,1000,BASE-1,1,400\n2025-02-04,R002,2000,BASE-2,1,500\n"
BASE_TARGETS = b"owner,month,amount\nR001,2025-03,5000\nR002,2025-03,6000\n"
BASE_HOLIDAYS = b"date,name\n2025-01-01,New Year\n"


def _binary_cases():
    spec = importlib.util.spec_from_file_location("make_binary_cases", CORPUS / "make_binary_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BINARY = _binary_cases()


def payload(name: str, entry: dict) -> bytes:
    if entry.get("generated"):
        return BINARY.build(name)
    return (CORPUS / name).read_bytes()


@pytest.fixture(scope="module")
def corpus_template(tmp_path_factory, reps_template):
    path = tmp_path_factory.mktemp("corpus") / "base.duckdb"
    with templates.open_copy(reps_template, path) as store:
        imports.import_file(store, "actuals", BASE_ACTUALS, file_name="base-actuals.csv")
        imports.import_file(store, "targets", BASE_TARGETS, file_name="base-targets.csv")
        imports.import_file(store, "holidays", BASE_HOLIDAYS, file_name="base-holidays.csv")
    return path


@pytest.fixture
def base_store(tmp_path, corpus_template):
    path = tmp_path / "case.duckdb"
    shutil.copyfile(corpus_template, path)
    with Store.open(path) as store:
        yield store


@pytest.fixture(scope="module")
def shared_copy(tmp_path_factory, corpus_template):
    """The copy the refused files share (see the module's docstring)."""
    with UnchangedStore(corpus_template, tmp_path_factory.mktemp("refusals")) as shared:
        yield shared


unchanged = lending("shared_copy")


def test_the_corpus_is_complete_and_small():
    committed = {path.name for path in CORPUS.iterdir() if path.is_file() and path.name not in SUPPORT_FILES}
    described = {name for name, entry in CASES.items() if not entry.get("generated")}
    assert committed == described, "every committed file has exactly one manifest entry"
    assert {name for name, entry in CASES.items() if entry.get("generated")} == set(BINARY.CASES)
    assert len(CASES) >= 40
    assert all(entry["kind"] in imports.KINDS for entry in CASES.values())
    assert all(("imports" in entry) != ("refused" in entry) for entry in CASES.values())
    sizes = [(CORPUS / name).stat().st_size for name in committed]
    assert max(sizes) < 5 * 1024 and sum(sizes) < 200 * 1024
    kinds = {entry["kind"] for entry in CASES.values()}
    assert kinds == {"actuals", "reps", "targets", "holidays"}


def assert_refused_as_expected(store, name: str, entry: dict) -> None:
    with pytest.raises(BadInput) as error:
        imports.import_file(store, entry["kind"], payload(name, entry), file_name=name)
    problems = error.value.problems
    got = [(p.line, p.column) for p in problems]
    want = [(p["line"], p["column"]) for p in entry["refused"]]
    assert got == want, [str(p) for p in problems]
    for problem, expected in zip(problems, entry["refused"]):
        assert problem.file == name
        assert expected["reason_contains"] in problem.reason, str(problem)


@pytest.mark.parametrize("name", REFUSED)
def test_refused_file(request, name):
    entry = CASES[name]
    if not entry.get("settings"):
        shared = request.getfixturevalue("unchanged")
        assert_refused_as_expected(shared.store, name, entry)
        shared.assert_unchanged("a refused file changed the database")
        return
    store = request.getfixturevalue("base_store")
    store.save_settings(SYSTEM, **entry["settings"])
    before = store.snapshot()
    assert_refused_as_expected(store, name, entry)
    assert store.snapshot() == before, "a refused file changed the database"


@pytest.mark.parametrize("name", IMPORTED)
def test_imported_file(base_store, name):
    entry = CASES[name]
    kind = entry["kind"]
    if entry.get("settings"):
        base_store.save_settings(SYSTEM, **entry["settings"])
    data = payload(name, entry)
    ledger_before = base_store.actual_totals(SYSTEM)
    expected = entry["imports"]
    result = imports.import_file(base_store, kind, data, file_name=name)
    assert result.inserted == expected["inserted"], result.summary()
    assert (result.updated, result.rejected) == (0, 0), result.summary()
    for note in expected.get("notes_contain", []):
        assert any(note in text for text in result.notes), result.notes
    if not expected.get("notes_contain"):
        assert result.notes == []
    batch = base_store.batch(result.batch_id)
    assert (batch["kind"], batch["file_name"], batch["rows_inserted"]) == (kind, name, expected["inserted"])
    with base_store.cursor() as cursor:
        if kind == "actuals":
            rows, revenue, profit = cursor.execute(
                "SELECT count(*), coalesce(sum(revenue), 0)::DOUBLE, coalesce(sum(profit), 0)::DOUBLE "
                "FROM actual_versions WHERE batch_id = ?", [result.batch_id]
            ).fetchall()[0]
            assert rows == expected["inserted"]
            assert revenue == pytest.approx(expected["revenue_total"], abs=1e-9)
            if "profit_total" in expected:
                assert profit == pytest.approx(expected["profit_total"], abs=1e-9)
            ledger = base_store.actual_totals(SYSTEM)
            assert ledger["rows"] == ledger_before["rows"] + expected["inserted"]
            assert ledger["revenue"] == pytest.approx(ledger_before["revenue"] + expected["revenue_total"], abs=1e-9)
            if "dates" in expected:
                dates = cursor.execute(
                    "SELECT strftime(sale_date, '%Y-%m-%d') FROM actual_versions WHERE batch_id = ? ORDER BY 1",
                    [result.batch_id],
                ).fetchall()
                assert [row[0] for row in dates] == expected["dates"]
        elif kind == "targets":
            total = cursor.execute(
                "SELECT coalesce(sum(amount), 0)::DOUBLE FROM target_versions WHERE batch_id = ?", [result.batch_id]
            ).fetchall()[0][0]
            assert total == pytest.approx(expected["amount_total"], abs=1e-9)
        else:
            assert result.inserted > 0
    # importing the same file again changes nothing (docs/files.md)
    again = imports.import_file(base_store, kind, data, file_name=name)
    assert (again.inserted, again.updated) == (0, 0), again.summary()


def test_valid_only_imports_the_sales_above_a_totals_row(base_store):
    """With "import only the valid rows" the totals row is the one rejected row, with its reason."""
    name = "totals_row_at_bottom.csv"
    result = imports.import_file(base_store, "actuals", payload(name, CASES[name]), file_name=name, valid_only=True)
    assert (result.inserted, result.rejected) == (3, 1)
    rejected = base_store.rejected_rows(SYSTEM, result.batch_id)
    assert rejected["line"].tolist() == [5]
    assert rejected["problems"].iloc[0].startswith("date: this is a totals row ('Total', amount 12345)")
