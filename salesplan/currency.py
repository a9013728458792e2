"""Currencies (docs/currencies.md): ISO 4217 codes, the symbols an amount may carry, and the SQL
that reads a currency off an amount's text.

Conversion itself happens where the engine's inputs are read (salesplan/storage/reads.py): the
ledger keeps every amount in its own currency, so importing or undoing rates re-prices the rows
already stored.
"""

from __future__ import annotations

from salesplan.errors import BadInput

# ISO 4217 codes in current use (funds and precious metals left out: nobody sells in them)
_CODES_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
"""
CODES: frozenset[str] = frozenset(_CODES_TEXT.split())
# the currencies written with a plain "$": "$" names the base currency when it is one of these
_DOLLARS_TEXT = "USD CAD AUD NZD SGD HKD TWD MXN BND BSD BBD BZD BMD FJD GYD JMD KYD LRD NAD SBD SRD TTD XCD ZWL"
DOLLAR_CODES: frozenset[str] = frozenset(_DOLLARS_TEXT.split())
SYMBOLS: dict[str, str] = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
# shown before an amount in reports and pages
DISPLAY_SYMBOLS: dict[str, str] = {**{code: symbol for symbol, code in SYMBOLS.items()}, "USD": "$"}


def validate_code(value: str, *, allow_empty: bool = False) -> str:
    """The upper-case ISO 4217 code of ``value`` ('' when empty and allowed); raises ValueError."""
    code = str(value or "").strip().upper()
    if not code and allow_empty:
        return ""
    if code not in CODES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (like EUR, USD, GBP)")
    return code


def dollar_code(base_currency: str) -> str:
    """The currency a plain "$" names: the base currency when it is a dollar currency, else USD."""
    return base_currency if base_currency in DOLLAR_CODES else "USD"


def symbol_of(code: str | None) -> str:
    """The symbol money in ``code`` is shown with ("€", "$", ...), else the code and a space ('' for none)."""
    if not code:
        return ""
    return DISPLAY_SYMBOLS.get(code, code + " ")


def codes_regex() -> str:
    """Case-insensitive regular expression (RE2) of every code."""
    return "(?i:" + "|".join(sorted(CODES)) + ")"


# A letter as RE2 compares case-insensitively: A-Z, a-z, and the two other characters whose case
# folds onto them, U+017F (long s, folds to s) and U+212A (Kelvin sign, folds to k). A code is
# found with this generic class and then looked up (code_test_sql): a regular expression of every
# code costs ~2 ms to compile each time a statement names it.
CODE_LETTER = "[A-Za-z\u017f\u212a]"
_CODES_LISTED = " ".join(sorted(CODES))


def code_test_sql(letters: str) -> str:
    """SQL: whether ``letters`` (three CODE_LETTER characters, or '') is a code in any case, as
    the case-insensitive :func:`codes_regex` would match it (NULL for NULL)."""
    # upper() turns a long s into S but leaves the Kelvin sign as it is; three letters are found in
    # the list of codes only as one of them (a needle of three characters is searched fast)
    return f"({letters} <> '' AND contains('{_CODES_LISTED}', upper(replace({letters}, '\u212a', 'K'))))"


def amount_currency_sql(text: str, base_currency: str) -> str:
    """SQL (DuckDB, the parser's) of the currency an amount's text names, NULL when it names none.

    A code counts only at the start or the end of the text (``EUR 1.234,56``, ``12.5 usd``), like
    the parser that strips it; a symbol anywhere. Two different markers give the text
    'MIXED', which the importer refuses.
    """
    # the three letters after any signs, brackets and spaces at the start, and those before any
    # at the end (no letter is one of those characters, so there is one place each to look)
    first = f"regexp_extract({text}, '^[-+(\\s]*({CODE_LETTER}{{3}})', 1)"
    last = f"regexp_extract({text}, '({CODE_LETTER}{{3}})[-)\\s]*$', 1)"
    leading = f"CASE WHEN {code_test_sql(first)} THEN upper({first}) END"
    trailing = f"CASE WHEN {code_test_sql(last)} THEN upper({last}) END"
    symbol = "CASE " + " ".join(
        f"WHEN contains({text}, '{mark}') THEN '{code}'" for mark, code in SYMBOLS.items()
    ) + f" WHEN contains({text}, '$') THEN '{dollar_code(base_currency)}' END"
    markers = f"list_distinct(list_filter([{leading}, {trailing}, {symbol}], lambda x: x IS NOT NULL))"
    # the markers are worked out once and named (a one-element list_transform): DuckDB would plan
    # each copy of the expression, its regular expressions included, anew
    return f"list_transform([{markers}], lambda sp_markers: CASE WHEN len(sp_markers) > 1 THEN 'MIXED' ELSE sp_markers[1] END)[1]"


def month_key(value: str) -> str:
    """'YYYY-MM' of a month text; raises BadInput when it is not one (used by the rates editor)."""
    import re

    match = re.fullmatch(r"(\d{4})-(\d{1,2})", str(value).strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 <= int(match.group(1)) <= 2199:
        raise BadInput.single("rates", f"{value!r} is not a month between 1900-01 and 2199-12 (use YYYY-MM)", column="month")
    return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"
