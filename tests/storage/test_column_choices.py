"""A remembered column mapping keeps the date format and decimal separator stated with it, per user,
kind and header (migration 70), on both backends."""

from __future__ import annotations

from salesplan.principal import SYSTEM, Principal

HEADER = ["Booked On", "Seller", "Net"]
MAPPING = {"Booked On": "date", "Seller": "rep", "Net": "revenue"}


def test_date_format_and_decimal_are_remembered_with_the_mapping(org):
    manager = Principal("max@x.test", "manager", "M1")
    assert org.column_choices(manager, "actuals", HEADER) is None
    org.save_column_map(manager, "actuals", HEADER, MAPPING, date_format="DMY", decimal="comma")
    assert org.column_map(manager, "actuals", HEADER) == MAPPING
    # the same header written differently finds them; another user, kind or header does not
    assert org.column_choices(manager, "actuals", ["booked on", "SELLER", "net"]) == {
        "date_format": "DMY", "decimal": "comma"}
    assert org.column_choices(SYSTEM, "actuals", HEADER) is None
    assert org.column_choices(manager, "targets", HEADER) is None
    # saved again: the new choices replace the old ones, "recognise it" is None
    org.save_column_map(manager, "actuals", HEADER, MAPPING, date_format=None, decimal="point")
    assert org.column_choices(manager, "actuals", HEADER) == {"date_format": None, "decimal": "point"}
    org.save_column_map(manager, "actuals", HEADER, {})
    assert org.column_choices(manager, "actuals", HEADER) == {"date_format": None, "decimal": None}
    assert org.column_map(manager, "actuals", HEADER) == {}
