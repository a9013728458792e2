"""The cheap tests of a cell's shape in the import's SQL give, for every text, the answer of the
expressions they replaced (docs/decisions.md, "What the parser of a large file costs"): checked
on many random texts (digits, separators, letters, spaces, code points of two to four bytes, a
combining mark) and on every text one edit away from an ISO date, in DuckDB itself."""

from __future__ import annotations

import random

import duckdb
import pytest

from salesplan.imports.parser import _iso_shaped

# an ISO date's characters, its neighbours and characters of 2, 3 and 4 bytes (one combining)
_ALPHABET = list("0123456789-/.: T_%\\\n\t") + ["é", "\u0301", "€", "\u00a0", "😀", "Z", "a"]
_ISO_SHAPE = "length(t) = 10 AND substr(t, 5, 1) = '-' AND substr(t, 8, 1) = '-'"  # the expression replaced


def _texts() -> list[str | None]:
    rng = random.Random(17)
    texts: list[str | None] = [None, "", "2025-03-14", "2025-3-14", "14-03-2025"]
    texts += ["".join(rng.choice(_ALPHABET) for _ in range(rng.choice([9, 10, 10, 10, 11, rng.randrange(0, 16)])))
              for _ in range(40_000)]
    # every text one edit (a character replaced, inserted or removed) away from an ISO date
    date = "2025-03-14"
    for position in range(len(date) + 1):
        for character in _ALPHABET:
            texts += [date[:position] + character + date[position + 1:], date[:position] + character + date[position:]]
        texts.append(date[:position] + date[position + 1:])
    return texts


def _disagreements(expression: str) -> list[tuple]:
    connection = duckdb.connect()
    try:
        return connection.execute(
            f"SELECT t, ({_ISO_SHAPE}) AS old, ({expression}) AS new FROM (SELECT unnest(?::VARCHAR[]) AS t) "
            f"WHERE (({_ISO_SHAPE}) IS DISTINCT FROM ({expression}))",
            [_texts()],
        ).fetchall()
    finally:
        connection.close()


def test_the_iso_shape_is_one_like_with_the_same_answer_for_every_text():
    assert _disagreements(_iso_shaped("t")) == []


@pytest.mark.parametrize("wrong", ["t LIKE '____-__-_%'", "t LIKE '%-__-__'", "strlen(t) = 10 AND t LIKE '____-__-__'"])
def test_the_texts_tell_a_near_miss_apart(wrong):
    # the same comparison finds the texts where a slightly different test answers otherwise
    # (a longer text, a shorter first part, bytes instead of characters)
    assert _disagreements(wrong) != []
