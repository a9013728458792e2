"""Small actuals files imported in tests: a header with order ids and the import or its problems."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import BadInput, Problem

HEADER = "date,rep,order_id,line,amount\n"


def actuals(store, text: str, **options):
    """Import ``text`` as an actuals file named sales.csv (``options`` go to import_file)."""
    return imports.import_file(store, "actuals", text.encode("utf-8"), file_name="sales.csv", **options)


def problems(store, text: str) -> list[Problem]:
    """The problems of an actuals file that must be refused."""
    with pytest.raises(BadInput) as caught:
        actuals(store, text)
    return caught.value.problems
