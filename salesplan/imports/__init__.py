"""Imports of reps, targets, actuals and holidays files (docs/files.md).

The flow of every import is the same:
  1. ``files.read_table`` turns the bytes into text cells with line numbers;
  2. the header is mapped to fields by name and synonym (case- and space-insensitive);
  3. every cell is parsed and checked in SQL on a private connection of an in-memory DuckDB (whole columns, no
     Python loop over rows), collecting problems as (line, column, reason) rows;
  4. with any problem and without ``valid_only``, BadInput lists them all and nothing changes;
  5. the store writes the whole batch in one transaction.

Cells are only ever stored as text or parsed as numbers and dates: a cell starting with ``=``,
``+``, ``-`` or ``@`` is never evaluated.
"""


from __future__ import annotations

from salesplan.files import (
    RawTable,
    UploadLimits,
    normalise_header,
    quiet_connection,
    read_source,
    read_table,
    too_large_for_memory,
)
from salesplan.imports.actuals import (
    _import_actuals,
)
from salesplan.imports.fields import (
    FIELDS,
    KINDS,
    MAX_PROBLEMS_LISTED,
    Field,
    ImportOverview,
    ImportResult,
    Kind,
    _fields,
    _looks_like_header,
    _synonym_index,
    map_columns,
    map_header,
    template_csv,
)
from salesplan.imports.flow import (
    _import_data,
    _import_rates,
    import_file,
)
from salesplan.imports.amountsql import _CURRENCY_CODES, _amount_clean, _amount_core
from salesplan.imports.parser import (
    _COMMA_NUMBER,
    _DATE_FORMAT_ALIASES,
    _DOT_NUMBER,
    _ISO,
    _NAMED_MONTH_FORMATS,
    _TIME,
    _TOTALS_COLUMN,
    _TOTALS_LABEL,
    _TOTALS_LABEL_COLUMNS,
    _YEAR_LAST,
    STATE_DATE_FORMAT,
    _collect,
    _currency_checks,
    _currency_select,
    _date_range_check,
    _normalise_date_format,
    _Parser,
    _rejected_records,
    _sql_text,
    _src_column,
    _unique_names,
    rejected_table,
)
from salesplan.imports.people import (
    _import_holidays,
    _import_reps,
    _manager_cycles,
)
from salesplan.imports.progress import (
    ESTIMATE_MB_PER_SECOND,
    LONG_IMPORT_SECONDS,
    ImportProgress,
    estimate_seconds,
)
from salesplan.imports.targets import (
    _import_targets,
    _target_cells,
)

__all__ = [
    "RawTable",
    "UploadLimits",
    "normalise_header",
    "quiet_connection",
    "read_source",
    "read_table",
    "too_large_for_memory",
    "Kind",
    "KINDS",
    "MAX_PROBLEMS_LISTED",
    "Field",
    "_fields",
    "FIELDS",
    "ImportOverview",
    "ImportResult",
    "_synonym_index",
    "map_header",
    "map_columns",
    "_looks_like_header",
    "template_csv",
    "ESTIMATE_MB_PER_SECOND",
    "LONG_IMPORT_SECONDS",
    "estimate_seconds",
    "ImportProgress",
    "_Parser",
    "_TOTALS_COLUMN",
    "_TOTALS_LABEL_COLUMNS",
    "_TOTALS_LABEL",
    "_DOT_NUMBER",
    "_COMMA_NUMBER",
    "_TIME",
    "_ISO",
    "_YEAR_LAST",
    "_NAMED_MONTH_FORMATS",
    "STATE_DATE_FORMAT",
    "_DATE_FORMAT_ALIASES",
    "_normalise_date_format",
    "_date_range_check",
    "_amount_clean",
    "_CURRENCY_CODES",
    "_amount_core",
    "_currency_select",
    "_currency_checks",
    "_src_column",
    "_sql_text",
    "_collect",
    "_rejected_records",
    "_unique_names",
    "rejected_table",
    "_import_actuals",
    "_import_reps",
    "_manager_cycles",
    "_import_holidays",
    "_import_targets",
    "_target_cells",
    "import_file",
    "_import_data",
    "_import_rates",
]
