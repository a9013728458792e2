"""Property-based checks of actuals imports (docs/files.md): all or nothing, idempotent, undo.

Small files are generated with a random mix of valid and invalid rows, random order ids and lines,
and exact or conflicting duplicates. A pure-Python reference computes, for each file, whether it must
be refused and otherwise the natural key and values of each row; the ledger must equal the reference
(per key, the last batch wins).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers.unchanged import changed_tables, fingerprint

# cell text -> parsed value (None: invalid)
DATES = {"2025-03-03": "2025-03-03", "2025-03-04": "2025-03-04", "2025/03/31": "2025-03-31", "2024-02-29": "2024-02-29"}
BAD_DATES = ["2025-02-30", "tomorrow", "2025-13-01"]
REPS = {"R001": "R001", "r002": "R002", "ava@example.com": "R001", "Li Wei": "R003", "JOERG@example.com": "R002"}
BAD_REPS = ["Nobody", "R999", "li wei"]
AMOUNTS = {"10": Decimal("10"), "10.00": Decimal("10"), "-7.5": Decimal("-7.5"), '"1,234.50"': Decimal("1234.5"),
           "(20)": Decimal("-20"), "$5": Decimal("5"), "0": Decimal("0"), "0.01": Decimal("0.01")}
BAD_AMOUNTS = ["12abc", "1.2.3", "=1+2"]
ORDERS = ["A", "B", "C"]
LINES = ["1", "2"]

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@dataclass(frozen=True)
class Row:
    date: str
    rep: str
    amount: str
    order: str  # "" = empty cell
    line: str

    def cells(self, with_order: bool, with_line: bool) -> list[str]:
        cells = [self.date, self.rep, self.amount]
        if with_order:
            cells.append(self.order)
        if with_line:
            cells.append(self.line)
        return cells

    @property
    def valid(self) -> bool:
        return self.date in DATES and self.rep in REPS and self.amount in AMOUNTS

    @property
    def values(self) -> tuple[str, str, Decimal]:
        return DATES[self.date], REPS[self.rep], AMOUNTS[self.amount]


@dataclass(frozen=True)
class File:
    rows: tuple[Row, ...]
    with_order: bool
    with_line: bool

    def text(self) -> bytes:
        header = ["date", "rep", "amount"] + (["order id"] if self.with_order else []) + (["line"] if self.with_line else [])
        lines = [",".join(header)] + [",".join(row.cells(self.with_order, self.with_line)) for row in self.rows]
        return ("\n".join(lines) + "\n").encode("utf-8")


@st.composite
def rows(draw, valid_only: bool = False):
    row = Row(
        date=draw(st.sampled_from(sorted(DATES))),
        rep=draw(st.sampled_from(sorted(REPS))),
        amount=draw(st.sampled_from(sorted(AMOUNTS))),
        order=draw(st.sampled_from(ORDERS + [""])),
        line=draw(st.sampled_from(LINES + [""])),
    )
    # about one row in eight gets an invalid cell, so that both outcomes are common
    if not valid_only and draw(st.integers(0, 7)) == 0:
        which = draw(st.sampled_from(["date", "rep", "amount"]))
        bad = {"date": BAD_DATES + [""], "rep": BAD_REPS, "amount": BAD_AMOUNTS}[which]
        row = Row(**{**row.__dict__, which: draw(st.sampled_from(bad))})
    return row


@st.composite
def files(draw, valid_only: bool = False):
    base = draw(st.lists(rows(valid_only), min_size=1, max_size=7))
    # exact repeats of some rows (the same sale listed twice, or two identical sales)
    repeats = draw(st.lists(st.sampled_from(base), max_size=2))
    ordered = draw(st.permutations(base + repeats))
    return File(tuple(ordered), with_order=draw(st.booleans()), with_line=draw(st.booleans()))


def reference(file: File) -> dict[object, tuple] | None:
    """Key -> (date, rep_id, revenue) of every sale in the file, or None when the file must be refused."""
    if not all(row.valid for row in file.rows):
        return None
    keyed: dict[object, tuple] = {}
    occurrences: Counter = Counter()
    for row in file.rows:
        order = row.order if file.with_order else ""
        line = row.line if file.with_line else ""
        if order and line:
            key = ("o", f"o|{order}|{line}")
            if key in keyed and keyed[key] != row.values:
                return None  # the same order line with other values
            keyed.setdefault(key, row.values)
            continue
        if order:
            occurrences[("o#", order)] += 1
            key = ("o", f"o|{order}|#{occurrences[('o#', order)]}")
        else:
            occurrences[("h", row.values)] += 1
            key = ("h", row.values, occurrences[("h", row.values)])
        keyed[key] = row.values
    return keyed


def current_ledger(store: Store) -> dict[object, tuple]:
    frame = store.actuals(SYSTEM)
    result = {}
    for row in frame.itertuples(index=False):
        values = (pd.Timestamp(row.sale_date).date().isoformat(), row.rep_id, Decimal(str(row.revenue)).normalize())
        if row.row_key.startswith("o|"):
            key = ("o", row.row_key)
        else:
            assert row.row_key.startswith("h|")
            key = ("h", values, int(row.row_key.rsplit("|", 1)[1]))
        assert key not in result
        result[key] = values
    return result


def normalised(expected: dict[object, tuple]) -> dict[object, tuple]:
    out = {}
    for key, (date, rep, amount) in expected.items():
        if key[0] == "h":
            key = ("h", (key[1][0], key[1][1], key[1][2].normalize()), key[2])
        out[key] = (date, rep, amount.normalize())
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory, reps_template):
    return reps_template


class Fresh:
    """A fresh copy of the reps database for one generated example."""

    def __init__(self, template: Path):
        self.folder = tempfile.mkdtemp(prefix="salesplan-prop-")
        path = Path(self.folder) / "db.duckdb"
        shutil.copyfile(template, path)
        self.store = Store.open(path)

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def import_bytes(store: Store, file: File, name: str):
    return imports.import_file(store, "actuals", file.text(), file_name=name)


@settings(max_examples=25, **SETTINGS)
@given(batches=st.lists(files(), min_size=1, max_size=3))
def test_all_or_nothing_and_last_batch_wins(template, batches):
    with Fresh(template) as store:
        expected: dict[object, tuple] = {}
        for number, file in enumerate(batches, start=1):
            wanted = reference(file)
            event("refused" if wanted is None else "imported")
            if wanted is None:
                # every table's fingerprint (tests/helpers/unchanged.py: half a snapshot's CPU),
                # read only where it is compared with
                before = fingerprint(store)
                with pytest.raises(BadInput) as error:
                    import_bytes(store, file, f"batch{number}.csv")
                assert error.value.problems
                assert all(p.file == f"batch{number}.csv" and p.line is not None and p.line >= 2
                           for p in error.value.problems)
                assert not changed_tables(store, before)
                continue
            result = import_bytes(store, file, f"batch{number}.csv")
            new = normalised(wanted)
            assert result.inserted == sum(1 for key in new if key not in expected)
            assert result.updated == sum(1 for key in new if key in expected and expected[key] != new[key])
            assert result.unchanged == sum(1 for key in new if key in expected and expected[key] == new[key])
            assert result.rejected == 0
            expected.update(new)
            assert current_ledger(store) == expected


@settings(max_examples=10, **SETTINGS)
@given(file=files(valid_only=True))
def test_reimporting_the_same_file_changes_nothing(template, file):
    wanted = reference(file)
    if wanted is None:  # conflicting duplicates of an order line: covered above
        return
    with Fresh(template) as store:
        first = import_bytes(store, file, "a.csv")
        assert first.inserted == len(wanted)
        ledger = current_ledger(store)
        columns = ["row_key", "sale_date", "rep_id", "territory", "revenue", "order_id", "order_line"]
        table = store.actuals(SYSTEM)[columns].sort_values("row_key").reset_index(drop=True)
        again = import_bytes(store, file, "a.csv")
        assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, len(wanted), 0)
        assert current_ledger(store) == ledger == normalised(wanted)
        pd.testing.assert_frame_equal(store.actuals(SYSTEM)[columns].sort_values("row_key").reset_index(drop=True), table)


@settings(max_examples=10, **SETTINGS)
@given(batches=st.lists(files(valid_only=True), min_size=2, max_size=3))
def test_undo_of_the_last_batch_restores_the_ledger(template, batches):
    valid = [file for file in batches if reference(file) is not None]
    if not valid:
        return
    with Fresh(template) as store:
        for number, file in enumerate(valid[:-1], start=1):
            import_bytes(store, file, f"batch{number}.csv")
        before = store.snapshot()
        last = import_bytes(store, valid[-1], "last.csv")
        store.undo(SYSTEM, last.batch_id)
        after = store.snapshot()
        assert after["actuals"] == before["actuals"]
        # the versions stay (one per inserted or changed row; unchanged ones are held, not copied);
        # only the batch is marked as undone
        assert len(after["actual_versions"]) == len(before["actual_versions"]) + last.inserted + last.updated
        with store.cursor() as cursor:
            held = cursor.execute("SELECT count(*) FROM actual_batch_rows WHERE batch_id = ?", [last.batch_id]).fetchall()[0][0]
        assert held == len(reference(valid[-1]))
        with pytest.raises(BadInput):
            store.undo(SYSTEM, last.batch_id)
