"""SQL of an amount cell's text: its cleaning (currency symbols and codes, spaces), its number, and
whether it is a plain number; and :func:`_let`, which binds a sub-expression once."""

from __future__ import annotations

from salesplan.currency import CODE_LETTER, code_test_sql, codes_regex


def _let(value: str, name: str, body: str) -> str:
    """SQL of ``body`` with the lambda parameter ``name`` bound to ``value``, worked out once.

    DuckDB binds every copy of a sub-expression anew (each regular expression compiled, each
    format parsed) and shares none across the branches of a CASE: the cell rules written out
    with their sub-expressions repeated cost ~0.2 s of planning per import, whatever the size
    of the file. A one-element ``list_transform`` binds ``value`` once; the body is evaluated
    only for the rows that reach it. ``name`` must not be a column of the query."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def _amount_clean(text: str) -> str:
    # currency symbols and codes, spaces (also non-breaking and narrow) and apostrophes (1'234.50)
    # a currency code only at the start or the end: "12eur34" is not an amount
    symbols_gone = f"regexp_replace({text}, '[\\s\\x{{00a0}}\\x{{202f}}$€£¥₹'']', '', 'g')"
    # a code of _CURRENCY_CODES is found as three letters, then looked up (a regular expression of
    # every code costs ~2 ms to compile, each time a statement names it), else it is "kr": the
    # code the regular expression would match first. No letter is a sign or bracket, so the three
    # letters have one place to be: right after the signs at the start, right before those at the end
    letters = f"{CODE_LETTER}{{3}}"
    first = f"regexp_extract(sp_symbols, '^[-+(]*({letters})', 1)"
    leading_gone = (
        f"CASE WHEN {code_test_sql(first)} THEN regexp_replace(sp_symbols, '^([-+(]*){letters}', '\\1') "
        f"ELSE regexp_replace(sp_symbols, '^([-+(]*){_KR}', '\\1') END"
    )
    last = f"regexp_extract(sp_lead, '({letters})[-)]*$', 1)"
    codes_gone = _let(leading_gone, "sp_lead", (
        f"CASE WHEN {code_test_sql(last)} THEN regexp_replace(sp_lead, '{letters}([-)]*)$', '\\1') "
        f"ELSE regexp_replace(sp_lead, '{_KR}([-)]*)$', '\\1') END"
    ))
    # the usual text has no letter at all, and then no code to look for
    return _let(symbols_gone, "sp_symbols", f"CASE WHEN regexp_matches(sp_symbols, '{CODE_LETTER}') THEN {codes_gone} ELSE sp_symbols END")


# every ISO 4217 code, and "kr", which names no one currency (SEK, NOK, DKK, ISK)
_CURRENCY_CODES = codes_regex()[:-1] + "|kr)"
# "kr" as the case-insensitive _CURRENCY_CODES matches it (U+212A, the Kelvin sign, folds to k)
_KR = "[kK\u212a][rR]"


def _amount_core(text: str) -> str:
    return _core_of(_amount_clean(text))


def _core_of(clean: str) -> str:
    """SQL of the number in a cleaned amount text (_amount_clean), without its sign."""
    # (123.45) and 123.45- are negatives; the sign is applied separately
    return f"regexp_replace(regexp_replace({clean}, '^\\((.*)\\)$', '\\1'), '^(.*[0-9])-$', '\\1')"


def _plain_number(text: str) -> str:
    """SQL: whether a (trimmed) cell is a plain decimal number such as ``-1234.50``: digits with
    an optional minus and decimal point, nothing else (no symbol, code, space or separator)."""
    return f"regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?')"


# the largest amount a DECIMAL(18,4) holds, the ledger's type for every amount: a profit worked
# out as revenue minus cost (DECIMAL(19,4) in the parse) may pass it where neither amount does
LARGEST_AMOUNT = "99999999999999.9999"

