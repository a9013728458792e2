"""How an import reads each amount and date cell (docs/files.md): the value, the currency an
amount names, and the problem of a cell it cannot read, for every accepted way of writing them;
and the SQL of those rules stays compact (DuckDB plans every copy of a sub-expression anew, and
the planning of the rules was once half the CPU of a small import)."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store

# amount cell -> (value, currency) or the problem; base currency EUR, rates for USD, KRW and SEK
AMOUNTS = {
    "12": (12.0, "EUR"),
    "-1234.50": (-1234.5, "EUR"),
    '"1,234.50"': (1234.5, "EUR"),
    '"(1,234.50)"': (-1234.5, "EUR"),
    "12-": (-12.0, "EUR"),
    "+7": (7.0, "EUR"),
    ".5": (0.5, "EUR"),
    "1'234.5": (1234.5, "EUR"),
    "USD 12": (12.0, "USD"),
    "usd12": (12.0, "USD"),
    "12 usd": (12.0, "USD"),
    "12USD": (12.0, "USD"),
    "(USD 12)": (-12.0, "USD"),
    "USD (12)": (-12.0, "USD"),
    "-USD 5": (-5.0, "USD"),
    "12 USD-": (-12.0, "USD"),
    "$12": (12.0, "USD"),
    "€12": (12.0, "EUR"),
    "12 €": (12.0, "EUR"),
    "kr 12": (12.0, "EUR"),  # "kr" is read but names no one currency
    "12 kr": (12.0, "EUR"),
    "12KR": (12.0, "EUR"),
    "Kr12": (12.0, "EUR"),
    "\u212ar 12": (12.0, "EUR"),  # a Kelvin sign: a K to a case-insensitive match
    "KRW 12": (12.0, "KRW"),
    "krw12": (12.0, "KRW"),
    "12 SEK": (12.0, "SEK"),
    "\u017fek 12": (12.0, "SEK"),  # a long s: an s to a case-insensitive match
    "12eur34": "'12eur34' has letters in it: amounts must be numbers",
    "ZZZ 12": "'ZZZ 12' has letters in it: amounts must be numbers",
    "12 EUR USD": "'12 EUR USD' has letters in it: amounts must be numbers",
    "EUR 12 USD": "EUR 12 USD names two currencies",  # (the text is not quoted here)
    "€12 $": (12.0, "EUR"),  # the first symbol found counts
    '"1.234,50"': "'1.234,50' is written differently from the other amounts of the file, which use a decimal point",
    "1.2.3": "'1.2.3' is not a number",
    "--12": "'--12' is not a number",
    "99999999999999999": "'99999999999999999' is too large",
}

# date cell -> the date it reads as (day first) or the problem
DATES = {
    "2025-03-04": date(2025, 3, 4),
    "2025-3-4": date(2025, 3, 4),
    "2025/03/04": date(2025, 3, 4),
    "2025.03.04": date(2025, 3, 4),
    "2025-03-04 12:30": date(2025, 3, 4),
    "2025-03-04T12:30:00": date(2025, 3, 4),
    "2025-03-04T12:30:00Z": date(2025, 3, 4),
    "04/03/2025": date(2025, 3, 4),
    "4.3.25": date(2025, 3, 4),
    "04-03-2025 10:00:59.5": date(2025, 3, 4),
    "4 Mar 2025": date(2025, 3, 4),
    "04-Mar-2025": date(2025, 3, 4),
    "4 March 2025": date(2025, 3, 4),
    "Mar 4 2025": date(2025, 3, 4),
    '"Mar 4, 2025"': date(2025, 3, 4),
    '"March 4, 2025"': date(2025, 3, 4),
    "March 4 2025": date(2025, 3, 4),
    # a two-digit year last, as with numbers (4.3.25): %d-%b-%Y read "25" as the year 25 before
    "04-Mar-25": date(2025, 3, 4),
    "4 Mar 25": date(2025, 3, 4),
    "2025-02-29": "'2025-02-29' is not a real date",
    "31/02/2025": "'31/02/2025' is not a real date",
    "2025-03-04 24:00": "'2025-03-04 24:00' is not a date (use YYYY-MM-DD)",
    "30 Feb 2025": "'30 Feb 2025' is not a date (use YYYY-MM-DD)",
    "yesterday": "'yesterday' is not a date (use YYYY-MM-DD)",
    "1899-12-31": "date 1899-12-31 is out of range",
    "01/01/2200": "date 2200-01-01 is out of range",
}


@pytest.fixture
def eur_store(reps_store: Store) -> Store:
    reps_store.save_settings(SYSTEM, base_currency="EUR")
    imports.import_file(reps_store, "rates", b"currency,month,rate\nUSD,2025-03,0.9\nKRW,2025-03,0.0007\nSEK,2025-03,0.09\n",
                        file_name="rates.csv", principal=SYSTEM)
    return reps_store


def _import(store: Store, column: str, cells: list[str], **options):
    """Import one row per cell (order id = its position) with every other cell plain; returns the
    result, {order id: (sale_date, revenue, currency)} and {order id: problem}."""
    rows = [
        f"{cell if column == 'date' else '2025-03-04'},R001,{number},1,{cell if column == 'amount' else '1'}"
        for number, cell in enumerate(cells)
    ]
    text = "date,rep,order_id,line,amount\n" + "\n".join(rows) + "\n"
    result = imports.import_file(store, "actuals", text.encode(), file_name="cells.csv", valid_only=True, **options)
    with store.cursor() as cursor:
        stored = cursor.execute("SELECT order_id, sale_date, revenue::DOUBLE, currency FROM actuals").fetchall()
    values = {int(order): (day, revenue, currency) for order, day, revenue, currency in stored}
    problems = {}
    for problem in result.problems:
        assert (problem.file, problem.column) == ("cells.csv", column)
        problems[problem.line - 2] = problem.reason
    return result, values, problems


def _assert_cells(cells, table, values, problems, stored_part, as_stored) -> None:
    """Each cell of ``table`` either refused with exactly its reason (a str) and nothing stored, or
    stored as expected (``stored_part`` of the stored row equals ``as_stored(expected)``) without
    a problem."""
    for number, cell in enumerate(cells):
        expected = table[cell]
        if isinstance(expected, str):
            assert (cell, problems.get(number)) == (cell, expected)
            assert number not in values
        else:
            assert number in values, cell
            assert (cell, stored_part(values[number])) == (cell, as_stored(expected))
            assert number not in problems


def test_every_way_of_writing_an_amount_reads_as_it_always_has(eur_store):
    cells = list(AMOUNTS)
    _, values, problems = _import(eur_store, "amount", cells)
    _assert_cells(cells, AMOUNTS, values, problems, lambda stored: stored, lambda expected: (date(2025, 3, 4), *expected))


def test_amounts_with_a_decimal_comma(eur_store):
    cells = ['"1.234,50"', '"(1.234,50 EUR)"', '"12,5-"', "SEK 7", '"1,234.50"', '"1.2,3"']
    _, values, problems = _import(eur_store, "amount", cells, decimal="comma")
    assert {number: revenue for number, (_, revenue, _) in values.items()} == {0: 1234.5, 1: -1234.5, 2: -12.5, 3: 7.0}
    assert problems == {
        4: "'1,234.50' is written differently from the other amounts of the file, which use a decimal comma",
        5: "'1.2,3' is not a number",
    }


def test_every_accepted_date_reads_as_it_always_has(eur_store):
    cells = list(DATES)
    _, values, problems = _import(eur_store, "date", cells, date_format="DMY")
    _assert_cells(cells, DATES, values, problems, lambda stored: stored[0], lambda expected: expected)


@pytest.mark.parametrize(("date_format", "expected"), [
    # month first, ISO only (a date with the year last is no real date), a stated pattern
    ("MDY", {0: date(2025, 4, 3), 1: date(2025, 3, 4), 2: date(2025, 3, 4)}),
    ("ISO", {1: date(2025, 3, 4), 2: date(2025, 3, 4), 0: "'04/03/2025' is not a real date"}),
    ("%d.%m.%Y", {0: "'04/03/2025' is not a date in the format %d.%m.%Y", 1: "'2025-3-4' is not a date in the format %d.%m.%Y",
                  2: "'Mar 4 2025' is not a date in the format %d.%m.%Y", 3: date(2025, 3, 4),
                  4: "date 1800-01-01 is out of range"}),
])
def test_the_stated_date_order_decides(eur_store, date_format, expected):
    cells = ["04/03/2025", "2025-3-4", "Mar 4 2025"] + (["04.03.2025", "01.01.1800"] if date_format.startswith("%") else [])
    _, values, problems = _import(eur_store, "date", cells, date_format=date_format)
    assert {**{n: v[0] for n, v in values.items()}, **problems} == expected


def test_a_refused_file_names_each_cell_it_cannot_read(eur_store):
    text = "date,rep,amount\n2025-02-30,R001,12\n2025-03-04,R001,12eur34\n"
    with pytest.raises(BadInput) as refused:
        imports.import_file(eur_store, "actuals", text.encode(), file_name="bad.csv")
    assert [(p.file, p.line, p.column, p.reason) for p in refused.value.problems] == [
        ("bad.csv", 2, "date", "'2025-02-30' is not a real date"),
        ("bad.csv", 3, "amount", "'12eur34' has letters in it: amounts must be numbers"),
    ]


@pytest.mark.parametrize("known", [False, True], ids=["shape not known", "shape known"])
def test_each_cell_rule_names_each_of_its_expressions_once(known):
    # a stand-in for the parser: the rules read only whether a field is mapped, its column and
    # whether its cells' shape is known (a large file's usual cells: no shape test per cell)
    cells = SimpleNamespace(has=lambda name: True, col=lambda name: '"x"', known_shape=lambda name, shape: known)
    for comma in (False, True):
        value, reason = imports._Parser.amount_sql(cells, "amount", comma)
        currency = imports._currency_select(cells, ["amount"], "EUR")
        sql = value + reason + currency
        # the currency codes are looked up, not spelled out as one regular expression of all of them
        assert "AED|" not in sql
        # the symbols are removed once for the value and once for the reason
        assert sql.count("x{00a0}") == 2
    for order in ("DMY", "MDY", "YMD"):
        value, reason = imports._Parser.date_sql(cells, "date", order)
        for pattern in (imports._ISO, imports._YEAR_LAST):
            assert 1 <= (value + reason).count(pattern) <= 2
        assert 1 <= len(re.findall("try_strptime", value + reason)) <= 6
        # the shape of YYYY-MM-DD is tested cell by cell only when not known of every cell
        assert ("LIKE '____-__-__'" in value + reason) == (not known)


def test_a_repeat_naming_another_currency_is_a_conflict_and_two_problems_of_a_cell_keep_their_order(eur_store):
    # "8" (the row's currency: the base, EUR) and "8 USD" are not the same sale listed twice: the
    # second copy was dropped as an exact repeat. And the two problems of one amount cell came out
    # in either order from one import of the same file to the next
    text = (
        "date,rep,order_id,line,amount,currency\n2025-03-04,R001,A,1,5.25,EUR\n"
        '2025-03-04,R001,B,1,"10,00 $",EUR\n2025-03-04,R001,C,1,8,\n2025-03-04,R001,C,1,8 USD,\n'
    )
    expected = [
        (3, "amount", "'10,00 $' is written differently from the other amounts of the file, which use a decimal point"),
        (3, "amount", "10,00 $ is in USD but the row's currency is EUR"),
        (5, "order_id", "order C line 1 is also on line 4 with other values"),
    ]
    for _ in range(4):
        with pytest.raises(BadInput) as refused:
            imports.import_file(eur_store, "actuals", text.encode(), file_name="cells.csv")
        assert [(problem.line, problem.column, problem.reason) for problem in refused.value.problems] == expected
