"""A cursor's query read as an Arrow table (salesplan/storage/backends.py, ``Cursor.arrow``), on
both backends: the rows and column types :meth:`frame` converts to pandas (the store's repeated-key
check reads its column of key hashes this way, without a pandas frame's copy)."""

from __future__ import annotations

import pyarrow as pa


def test_arrow_gives_the_rows_and_types_frame_gives(org):
    sql = ("SELECT x AS n, CAST(x AS VARCHAR) AS t FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL "
           "SELECT ? ) v ORDER BY n")
    with org.cursor() as cursor:
        table = cursor.arrow(sql, [3])
        frame = cursor.frame(sql, [3])
    assert isinstance(table, pa.Table)
    assert table.to_pydict() == {"n": [1, 2, 3], "t": ["1", "2", "3"]}
    assert table.to_pandas().equals(frame)
