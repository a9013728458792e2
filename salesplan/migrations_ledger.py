"""The migrations of the actuals ledger (80-89), with the statements the store reuses outside
them (a restore of an older backup, an import after an older salesplan wrote versions): kept apart
from salesplan/migrations.py, which applies them in order with the others. Portable SQL unless
said otherwise."""

from __future__ import annotations

LEDGER_MIGRATIONS: list[tuple[int, str, str]] = []

# The current ledger of actuals (docs/decisions.md): each row was written twice, once as a version
# and once to the table ``actuals``. A flag on the versions says which one is current, and
# ``actuals`` becomes a view of the flagged versions, so an import writes each new or changed row
# once and clears the flag of the version it replaces; an undo flips flags. Portable SQL.
LEDGER_COLUMNS = (
    "row_key, batch_id, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, order_line, "
    "customer, product, currency, territory_from_file"
)
VERSION_COLUMNS = (
    "batch_id, row_key, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, order_line, "
    "customer, product, currency, territory_from_file"
)


def flag_current_sql(ledger: str) -> str:
    """Statements that flag as current the versions whose (batch_id, row_key) are the rows of
    ``ledger`` (the table ``actuals`` as it was before migration 80, or such a table read from an
    older backup); a ledger row without such a version (none is expected: every row was copied from
    its version) becomes a version of its own, so the current ledger stays exactly what it was."""
    return f"""
        UPDATE actual_versions SET is_current = true WHERE EXISTS (
            SELECT 1 FROM {ledger} a WHERE a.batch_id = actual_versions.batch_id AND a.row_key = actual_versions.row_key);
        INSERT INTO actual_versions ({VERSION_COLUMNS}, is_current)
            SELECT {VERSION_COLUMNS}, true FROM {ledger} a WHERE NOT EXISTS (
                SELECT 1 FROM actual_versions v WHERE v.batch_id = a.batch_id AND v.row_key = a.row_key);
    """


LEDGER_MIGRATIONS += [
    (
        80,
        "actuals: the current ledger is a flag on the versions",
        f"""
        -- true for the one version of each key that is the current ledger (no version: the key is
        -- not in the ledger, e.g. after the undo of the batch that brought it)
        ALTER TABLE actual_versions ADD COLUMN is_current BOOLEAN DEFAULT false;
        {flag_current_sql("actuals")}
        DROP TABLE actuals;
        CREATE VIEW actuals AS SELECT {LEDGER_COLUMNS} FROM actual_versions WHERE is_current;
        """,
    ),
]

# A fingerprint of each version's texts (docs/decisions.md, "What an unchanged row costs"): an
# import compares a row with the current ledger by its amounts and date (exactly) and this one
# number, instead of reading every text column of a million-row ledger. The store computes it with
# its backend's own 64-bit hash (salesplan/storage/ledger.py); versions written before this
# migration, or restored from a backup of the other backend, carry NULL or a foreign number, and
# such a row is compared column by column, so the fingerprint only ever saves work (a large import on
# DuckDB decides its unchanged rows by hashes first: storage/comparison.py). Portable SQL.
LEDGER_MIGRATIONS += [
    (
        81,
        "actuals: a fingerprint of each version's texts",
        """
        -- rep_id, territory, customer, product and currency hashed by the store (NULL: compare the columns)
        ALTER TABLE actual_versions ADD COLUMN row_hash BIGINT;
        """,
    ),
]

# Integer keys of the texts the report reads per line (docs/decisions.md, "What the report reads"):
# each version carries the key of its rep_id and of its territory in ``actual_keys``, a dictionary
# of every such text the ledger holds (a key is given once and never changes or moves to another
# text; 0 is "no territory"). The report's read maps the keys to its codes through a small table
# instead of joining ten million lines with the reps and territories by their texts. A version
# without keys (written before this migration, by an older salesplan, or restored from an older
# backup) is read by its texts, so the keys only ever save work; the store fills them in here,
# after a restore of an older backup and at an import. Portable SQL.
FILL_KEYS = """
    INSERT INTO actual_keys (name, key_id)
        SELECT n.name, (SELECT coalesce(max(key_id), 0) FROM actual_keys) + row_number() OVER (ORDER BY n.name)
        FROM (SELECT rep_id AS name FROM actual_versions WHERE rep_key IS NULL
              UNION SELECT territory FROM actual_versions WHERE territory_key IS NULL) n
        WHERE n.name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM actual_keys k WHERE k.name = n.name);
    UPDATE actual_versions SET rep_key = k.key_id FROM actual_keys k
        WHERE actual_versions.rep_key IS NULL AND k.name = actual_versions.rep_id;
    UPDATE actual_versions SET territory_key = 0 WHERE territory_key IS NULL AND territory IS NULL;
    UPDATE actual_versions SET territory_key = k.key_id FROM actual_keys k
        WHERE actual_versions.territory_key IS NULL AND k.name = actual_versions.territory;
"""
"""Statements that give every version without keys the keys of its rep_id and territory, adding
the texts not yet in ``actual_keys`` (migration 82, a restore of an older backup, an import after
an older salesplan wrote versions)."""

KEYS_DISAGREE = """
    SELECT EXISTS (
        SELECT 1 FROM actual_versions v
        LEFT JOIN actual_keys r ON r.key_id = v.rep_key
        LEFT JOIN actual_keys t ON t.key_id = v.territory_key
        WHERE (v.rep_key IS NOT NULL AND r.name IS DISTINCT FROM v.rep_id)
           OR (v.territory_key IS NOT NULL AND v.territory IS NULL AND v.territory_key <> 0)
           OR (v.territory_key IS NOT NULL AND v.territory IS NOT NULL AND t.name IS DISTINCT FROM v.territory))
"""
"""True when a version's key is not the key of its own text (a restored backup whose
``actual_keys`` was left out or does not fit its versions): the keys are then given anew."""

CLEAR_KEYS = """
    DELETE FROM actual_keys;
    UPDATE actual_versions SET rep_key = NULL, territory_key = NULL;
"""

LEDGER_MIGRATIONS += [
    (
        82,
        "actuals: integer keys of each version's rep and territory",
        f"""
        CREATE TABLE actual_keys (name VARCHAR PRIMARY KEY, key_id INTEGER NOT NULL UNIQUE);
        ALTER TABLE actual_versions ADD COLUMN rep_key INTEGER;
        ALTER TABLE actual_versions ADD COLUMN territory_key INTEGER;
        {FILL_KEYS}
        """,
    ),
]


def rebuilt_versions_sql(row_key: str) -> str:
    """Statements that make ``actual_versions`` again with its order ids stored uncompressed and its
    row keys stored as ``row_key`` says (a compression clause, or nothing: DuckDB's choice), its
    versions copied in their order (DuckDB)."""
    return f"""
    CREATE TABLE actual_versions_rebuilt (
        batch_id BIGINT NOT NULL,
        row_key VARCHAR NOT NULL{row_key},
        line BIGINT,
        sale_date DATE NOT NULL,
        rep_id VARCHAR NOT NULL,
        territory VARCHAR,
        revenue DECIMAL(18,4) NOT NULL,
        cost DECIMAL(18,4),
        profit DECIMAL(18,4),
        order_id VARCHAR USING COMPRESSION uncompressed,
        order_line VARCHAR,
        customer VARCHAR,
        product VARCHAR,
        currency VARCHAR,
        territory_from_file BOOLEAN,
        is_current BOOLEAN DEFAULT false,
        row_hash BIGINT,
        rep_key INTEGER,
        territory_key INTEGER
    );
    INSERT INTO actual_versions_rebuilt
        SELECT batch_id, row_key, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, order_line,
               customer, product, currency, territory_from_file, is_current, row_hash, rep_key, territory_key
        FROM actual_versions;
    DROP TABLE actual_versions;
    ALTER TABLE actual_versions_rebuilt RENAME TO actual_versions;
"""


# The order ids of the versions stored uncompressed, on DuckDB (docs/decisions.md, "What an
# import's insert costs"): nearly every row has an order id of its own, so DuckDB's dictionary and
# FSST compression gains little on them (~8 MB per million versions, against ~18 MB stored as they
# are) and cost a fifth of an insert's CPU (measured at 1.08M versions: 0.44 CPU-s of the insert's
# ~2.2, against 0.11). The row keys, as unlike, stay compressed (by DuckDB's choice here; with
# ZSTD since migration 84, below): a re-import's comparison with the ledger reads every current
# version's row key, and at L (9.8M) their uncompressed blocks raised the re-import's peak past
# 2 GB (2.01 GB in a quiet benchmark, against 1.86 before). The name UNCOMPRESSED_KEYS says
# "the order ids uncompressed" (kept: tests/storage/test_versions_compression.py imports it). DuckDB
# takes a column's compression only when its table is made: the table is made again, its
# versions copied in their order; the views over it (``actuals``, ``actual_batch_rows``) read it
# by name. PostgreSQL stores its rows its own way: the migration is DuckDB's only
# (salesplan/storage/postgres.py, DUCKDB_ONLY).
UNCOMPRESSED_KEYS = rebuilt_versions_sql("")

LEDGER_MIGRATIONS += [
    (83, "actuals: order ids stored uncompressed (DuckDB)", UNCOMPRESSED_KEYS),
]

# The row keys stored with ZSTD, on DuckDB (docs/decisions.md, "What an import's insert costs"):
# DuckDB's own choice for them, its dictionary with FSST, costs the most of any column to write,
# as nearly every key is unlike the others (measured at 1.08M versions, the column alone: ~0.31
# CPU-s, against ~0.20 with ZSTD and ~0.12 uncompressed; the whole insert 1.74 -> 1.55 CPU-s,
# medians of 6). ZSTD keeps them nearly as small (7.4 MB per million keys, against 6.0 with FSST
# and 22 uncompressed, which raised the L re-import's peak past 2 GB: migration 83) and reads
# them as fast (a re-import's comparison with the ledger, cold: ~0.6 CPU-s either way). Made as
# migration 83 made it: the table again, its versions copied in their order. DuckDB's only
# (salesplan/storage/postgres.py, DUCKDB_ONLY).
LEDGER_MIGRATIONS += [
    (84, "actuals: row keys stored with ZSTD (DuckDB)", rebuilt_versions_sql(" USING COMPRESSION zstd")),
]
