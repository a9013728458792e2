"""Ordered schema migrations. Each runs in one transaction together with its record in
``schema_migrations``; a migration never changes once released: add a new one instead.

Amounts are DECIMAL(18,4) so that "unchanged" on re-import is an exact comparison.
The big table actual_versions (and, before migration 80, actuals) carries no primary-key index on
purpose: every write to it is set-based (flags updated by key set, insert from a staged table),
which DuckDB does faster with hash joins than by maintaining an ART index over millions of keys.
PostgreSQL gets its indexes in salesplan/storage/postgres.py.
"""

from __future__ import annotations

from salesplan.migrations_ledger import LEDGER_MIGRATIONS

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "core tables",
        """
        CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
        INSERT INTO meta VALUES ('data_version', 0);

        CREATE TABLE regions (region VARCHAR PRIMARY KEY);
        CREATE TABLE territories (territory VARCHAR PRIMARY KEY, region VARCHAR);
        CREATE TABLE reps (
            rep_id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            email VARCHAR,
            territory VARCHAR,
            region VARCHAR,
            manager VARCHAR,
            start_date DATE,
            end_date DATE,
            batch_id BIGINT
        );
        CREATE TABLE holidays (
            holiday_date DATE NOT NULL,
            territory VARCHAR NOT NULL,  -- '' = the whole organisation
            name VARCHAR,
            batch_id BIGINT,
            PRIMARY KEY (holiday_date, territory)
        );

        CREATE SEQUENCE batch_seq START 1;
        CREATE TABLE upload_batches (
            batch_id BIGINT PRIMARY KEY,
            kind VARCHAR NOT NULL,
            file_name VARCHAR,
            sha256 VARCHAR,
            uploaded_by VARCHAR NOT NULL,
            uploaded_at TIMESTAMP NOT NULL,
            rows_inserted BIGINT NOT NULL DEFAULT 0,
            rows_updated BIGINT NOT NULL DEFAULT 0,
            rows_unchanged BIGINT NOT NULL DEFAULT 0,
            rows_rejected BIGINT NOT NULL DEFAULT 0,
            valid_only BOOLEAN NOT NULL DEFAULT false,
            reason VARCHAR,
            reverted_at TIMESTAMP,
            reverted_by VARCHAR
        );

        CREATE TABLE target_versions (
            batch_id BIGINT NOT NULL,
            owner_type VARCHAR NOT NULL,
            owner_id VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            month DATE NOT NULL,
            amount DECIMAL(18,4) NOT NULL,
            previous_amount DECIMAL(18,4),
            reason VARCHAR,
            PRIMARY KEY (batch_id, owner_type, owner_id, metric, month)
        );
        CREATE TABLE targets (
            owner_type VARCHAR NOT NULL,
            owner_id VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            month DATE NOT NULL,
            amount DECIMAL(18,4) NOT NULL,
            batch_id BIGINT NOT NULL
        );

        CREATE TABLE actual_versions (
            batch_id BIGINT NOT NULL,
            row_key VARCHAR NOT NULL,
            line BIGINT,
            sale_date DATE NOT NULL,
            rep_id VARCHAR NOT NULL,
            territory VARCHAR,
            revenue DECIMAL(18,4) NOT NULL,
            cost DECIMAL(18,4),
            profit DECIMAL(18,4),
            order_id VARCHAR,
            order_line VARCHAR,
            customer VARCHAR,
            product VARCHAR
        );
        CREATE TABLE actuals (
            row_key VARCHAR NOT NULL,
            batch_id BIGINT NOT NULL,
            line BIGINT,
            sale_date DATE NOT NULL,
            rep_id VARCHAR NOT NULL,
            territory VARCHAR,
            revenue DECIMAL(18,4) NOT NULL,
            cost DECIMAL(18,4),
            profit DECIMAL(18,4),
            order_id VARCHAR,
            order_line VARCHAR,
            customer VARCHAR,
            product VARCHAR
        );
        CREATE TABLE rejected_rows (
            batch_id BIGINT NOT NULL,
            line BIGINT,
            record VARCHAR,
            problems VARCHAR NOT NULL
        );

        CREATE SEQUENCE plan_item_seq START 1;
        CREATE TABLE plans (
            rep_id VARCHAR NOT NULL,
            fy INTEGER NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'submitted', 'agreed')),
            summary VARCHAR,
            updated_by VARCHAR,
            updated_at TIMESTAMP,
            PRIMARY KEY (rep_id, fy)
        );
        CREATE TABLE obstacles (
            obstacle_id BIGINT PRIMARY KEY,
            rep_id VARCHAR NOT NULL,
            fy INTEGER NOT NULL,
            description VARCHAR NOT NULL,
            likelihood INTEGER NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
            revenue_at_risk DECIMAL(18,4) NOT NULL DEFAULT 0,
            created_by VARCHAR,
            created_at TIMESTAMP
        );
        CREATE TABLE actions (
            action_id BIGINT PRIMARY KEY,
            rep_id VARCHAR NOT NULL,
            fy INTEGER NOT NULL,
            description VARCHAR NOT NULL,
            owner VARCHAR,
            due_date DATE,
            status VARCHAR NOT NULL DEFAULT 'planned'
                CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
            expected_impact DECIMAL(18,4) NOT NULL DEFAULT 0,
            obstacle_id BIGINT,
            updated_by VARCHAR,
            updated_at TIMESTAMP
        );
        CREATE TABLE checkins (
            checkin_id BIGINT PRIMARY KEY,
            rep_id VARCHAR NOT NULL,
            fy INTEGER NOT NULL,
            checkin_date DATE NOT NULL,
            author VARCHAR NOT NULL,
            note VARCHAR NOT NULL,
            created_at TIMESTAMP
        );

        CREATE TABLE audit_log (
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            detail VARCHAR
        );
        """,
    ),
    (
        2,
        "users",
        """
        CREATE TABLE users (
            email VARCHAR PRIMARY KEY,  -- stored lower-case
            role VARCHAR NOT NULL CHECK (role IN ('admin', 'leader', 'manager', 'rep')),
            rep_id VARCHAR,
            password_hash VARCHAR,      -- argon2id; NULL for accounts that sign in through OIDC only
            disabled BOOLEAN NOT NULL DEFAULT false,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until TIMESTAMP,
            created_at TIMESTAMP NOT NULL,
            last_sign_in TIMESTAMP
        );
        """,
    ),
    (
        3,
        "remembered column mappings",
        """
        CREATE TABLE column_maps (
            kind VARCHAR NOT NULL,
            header_signature VARCHAR NOT NULL,  -- the file's normalised headers joined by '|'
            mapping VARCHAR NOT NULL,           -- JSON object: file header -> field
            saved_by VARCHAR NOT NULL,
            saved_at TIMESTAMP NOT NULL,
            PRIMARY KEY (kind, header_signature)
        );
        """,
    ),
    (
        4,
        "sessions end when a password changes",
        """
        -- sign-in cookies issued before this moment (UTC) are refused
        ALTER TABLE users ADD COLUMN sessions_valid_after TIMESTAMP;
        """,
    ),
    (
        5,
        "security: revoked sessions, failed sign-ins of unknown emails, per-user column mappings",
        """
        -- a signed-out cookie stays refused after a restart; rows go once the cookie has expired
        CREATE TABLE revoked_sessions (
            token_digest VARCHAR PRIMARY KEY,
            expires_at TIMESTAMP NOT NULL       -- UTC
        );
        -- failed sign-ins of emails without an account count and lock like an account's, so
        -- that the answers never tell whether an account exists
        CREATE TABLE unknown_sign_ins (
            email VARCHAR PRIMARY KEY,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until TIMESTAMP,
            last_failed_at TIMESTAMP NOT NULL
        );
        -- 1 once any account was ever created (disabled or demoted ones still count): the
        -- first-admin form is offered only to a database that never had an account
        INSERT INTO meta SELECT 'had_account', 1 WHERE EXISTS (SELECT 1 FROM users) ON CONFLICT (key) DO NOTHING;
        -- a remembered mapping belongs to the user who saved it
        CREATE TABLE column_maps_by_user (
            saved_by VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            header_signature VARCHAR NOT NULL,
            mapping VARCHAR NOT NULL,
            saved_at TIMESTAMP NOT NULL,
            PRIMARY KEY (saved_by, kind, header_signature)
        );
        INSERT INTO column_maps_by_user
            SELECT lower(saved_by), kind, header_signature, mapping, saved_at FROM column_maps;
        DROP TABLE column_maps;
        ALTER TABLE column_maps_by_user RENAME TO column_maps;
        """,
    ),
    (
        6,
        "actuals: a re-import holds unchanged rows without copying them",
        """
        -- An actuals batch writes a version only for the rows it inserts or changes. The rows it
        -- found unchanged it still holds (docs/decisions.md, "What an unchanged row costs"), so an
        -- undo of an earlier batch keeps their value; the holds are recorded compactly:
        -- batch_id holds every key that source_batch_id wrote a version of, with those values
        CREATE TABLE actual_batch_holds (
            batch_id BIGINT NOT NULL,
            source_batch_id BIGINT NOT NULL
        );
        -- batch_id holds row_key with the values of source_batch_id's version of it (when it
        -- holds only part of that batch's keys)
        CREATE TABLE actual_key_holds (
            batch_id BIGINT NOT NULL,
            row_key VARCHAR NOT NULL,
            source_batch_id BIGINT NOT NULL
        );
        -- every row each batch holds: the versions it wrote and the versions it held unchanged
        -- (version_batch_id: the batch that wrote the values)
        CREATE VIEW actual_batch_rows AS
            SELECT v.batch_id, v.batch_id AS version_batch_id, v.row_key, v.line, v.sale_date, v.rep_id, v.territory,
                   v.revenue, v.cost, v.profit, v.order_id, v.order_line, v.customer, v.product
            FROM actual_versions v
            UNION ALL
            SELECT h.batch_id, v.batch_id, v.row_key, v.line, v.sale_date, v.rep_id, v.territory,
                   v.revenue, v.cost, v.profit, v.order_id, v.order_line, v.customer, v.product
            FROM actual_batch_holds h JOIN actual_versions v ON v.batch_id = h.source_batch_id
            UNION ALL
            SELECT k.batch_id, v.batch_id, v.row_key, v.line, v.sale_date, v.rep_id, v.territory,
                   v.revenue, v.cost, v.profit, v.order_id, v.order_line, v.customer, v.product
            FROM actual_key_holds k JOIN actual_versions v ON v.batch_id = k.source_batch_id AND v.row_key = k.row_key;
        """,
    ),
    (
        30,
        "deals: dated snapshots of the open pipeline",
        """
        -- which reps a deals upload covers, as of its date: for each rep, the deals open on a day d
        -- are those of the newest (not undone) upload dated on or before d that covered the rep,
        -- so a rep covered by an upload without any of their deals has no open deals from then on
        CREATE TABLE deal_snapshot_reps (
            batch_id BIGINT NOT NULL,
            snapshot_date DATE NOT NULL,
            rep_id VARCHAR NOT NULL,
            PRIMARY KEY (batch_id, rep_id)
        );
        -- the open deals of one upload, as given (never changed; undo marks the upload's batch)
        CREATE TABLE deal_snapshot_deals (
            batch_id BIGINT NOT NULL,
            snapshot_date DATE NOT NULL,
            line BIGINT,
            deal_id VARCHAR NOT NULL,
            rep_id VARCHAR NOT NULL,
            amount DECIMAL(18,4) NOT NULL,
            probability DECIMAL(9,6) NOT NULL,   -- a fraction 0-1
            probability_source VARCHAR NOT NULL, -- 'file' or 'stage' (from the stage_probabilities setting)
            expected_close DATE NOT NULL,
            stage VARCHAR,
            name VARCHAR,
            customer VARCHAR,
            product VARCHAR,
            currency VARCHAR,
            PRIMARY KEY (batch_id, deal_id)
        );
        CREATE INDEX deal_snapshot_reps_by_rep ON deal_snapshot_reps (rep_id, snapshot_date);
        """,
    ),
    (
        40,
        "currencies and people over time",
        """
        -- monthly rates: units of the base currency for one unit of the currency (docs/currencies.md);
        -- the current rate of each (currency, month), and every version with the batch that set it
        CREATE TABLE rates (
            currency VARCHAR NOT NULL,
            month DATE NOT NULL,                -- first day of the month
            rate DOUBLE PRECISION NOT NULL,     -- 1 JPY = 0.0067 USD needs more than 4 decimals
            batch_id BIGINT,
            PRIMARY KEY (currency, month)
        );
        CREATE TABLE rate_versions (
            batch_id BIGINT NOT NULL,
            currency VARCHAR NOT NULL,
            month DATE NOT NULL,
            rate DOUBLE PRECISION NOT NULL,
            previous_rate DOUBLE PRECISION
        );
        -- every amount stays in its own currency (NULL: the organisation's only currency); the
        -- engine's input query converts at the current rates, so new rates re-price stored rows
        ALTER TABLE actuals ADD COLUMN currency VARCHAR;
        ALTER TABLE actual_versions ADD COLUMN currency VARCHAR;
        ALTER TABLE targets ADD COLUMN currency VARCHAR;
        ALTER TABLE target_versions ADD COLUMN currency VARCHAR;
        -- true when the file named the row's territory; otherwise it is the rep's territory on
        -- the sale date, looked up in rep_history whenever the engine reads the actuals
        ALTER TABLE actuals ADD COLUMN territory_from_file BOOLEAN;
        ALTER TABLE actual_versions ADD COLUMN territory_from_file BOOLEAN;
        -- a rep's territory and manager from effective_from on (docs/people.md); 1900-01-01 = always
        CREATE TABLE rep_history (
            rep_id VARCHAR NOT NULL,
            effective_from DATE NOT NULL,
            territory VARCHAR,
            manager VARCHAR,
            batch_id BIGINT,
            PRIMARY KEY (rep_id, effective_from)
        );
        INSERT INTO rep_history SELECT rep_id, DATE '1900-01-01', territory, manager, batch_id FROM reps;
        -- rows stored before: a territory other than the rep's own can only have come from the file
        UPDATE actuals SET territory_from_file = NOT EXISTS (
            SELECT 1 FROM reps r WHERE r.rep_id = actuals.rep_id AND r.territory IS NOT DISTINCT FROM actuals.territory);
        UPDATE actual_versions SET territory_from_file = NOT EXISTS (
            SELECT 1 FROM reps r WHERE r.rep_id = actual_versions.rep_id AND r.territory IS NOT DISTINCT FROM actual_versions.territory);
        """,
    ),
    (
        50,
        "plans: obstacles and actions numbered within their plan",
        """
        -- a display number (1, 2, 3 in creation order within the rep's FY plan) that stays when
        -- an earlier item is deleted, so "action 3" in a check-in note keeps meaning the same one
        ALTER TABLE obstacles ADD COLUMN number INTEGER;
        ALTER TABLE actions ADD COLUMN number INTEGER;
        -- how many were ever numbered in the plan: a deleted last item's number is not reused
        ALTER TABLE plans ADD COLUMN obstacles_numbered INTEGER;
        ALTER TABLE plans ADD COLUMN actions_numbered INTEGER;
        UPDATE obstacles SET number = (
            SELECT count(*) FROM obstacles o2
            WHERE o2.rep_id = obstacles.rep_id AND o2.fy = obstacles.fy AND o2.obstacle_id <= obstacles.obstacle_id
        );
        UPDATE actions SET number = (
            SELECT count(*) FROM actions a2
            WHERE a2.rep_id = actions.rep_id AND a2.fy = actions.fy AND a2.action_id <= actions.action_id
        );
        UPDATE plans SET
            obstacles_numbered = (SELECT count(*) FROM obstacles o WHERE o.rep_id = plans.rep_id AND o.fy = plans.fy),
            actions_numbered = (SELECT count(*) FROM actions a WHERE a.rep_id = plans.rep_id AND a.fy = plans.fy);
        """,
    ),
]

# Notifications (docs/notifications.md): the sent-message log, per-user opt-outs and the
# scheduler's passes. Portable SQL only (VARCHAR, INTEGER, DATE, TIMESTAMP, BOOLEAN), so the same
# statements run on PostgreSQL.
MIGRATIONS += [
    (
        20,
        "notification log and opt-outs",
        """
        -- one row per message that is due once: (recipient, kind, owner, slot) is claimed in a
        -- transaction before sending and marked sent (or failed, with the error) afterwards
        CREATE TABLE notification_log (
            recipient VARCHAR NOT NULL,        -- the account's email, lower-case
            kind VARCHAR NOT NULL,             -- 'digest' or 'alert'
            owner_key VARCHAR NOT NULL,        -- 'rep:R004', 'region:North', 'org:org'; '' for a digest
            slot VARCHAR NOT NULL,             -- ISO week '2026-W10' for a digest, a date for an alert
            state VARCHAR NOT NULL CHECK (state IN ('claimed', 'sent', 'failed')),
            as_of DATE NOT NULL,
            subject VARCHAR,
            claim_token VARCHAR,
            claimed_at TIMESTAMP,
            sent_at TIMESTAMP,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error VARCHAR,
            snapshot VARCHAR,                  -- JSON: what a digest said (status, point of no return)
            PRIMARY KEY (recipient, kind, owner_key, slot)
        );
        CREATE TABLE notification_opt_outs (
            email VARCHAR NOT NULL,
            kind VARCHAR NOT NULL CHECK (kind IN ('digest', 'alert')),
            changed_by VARCHAR NOT NULL,
            changed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (email, kind)
        );
        -- the scheduler's daily passes: which as-of dates were handled (the catch-up rule)
        CREATE TABLE notification_runs (
            run_date DATE PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            sent INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0
        );
        """,
    ),
]

# Security (docs/security.md): who uploaded a batch is recorded with their role and rep_id at the
# time of the upload, so that a manager's scope over a batch never rests on an email that an
# admin's or another account's reps row may share. Portable SQL (DuckDB and PostgreSQL).
MIGRATIONS += [
    (
        60,
        "upload batches record the uploader's role and rep_id",
        """
        ALTER TABLE upload_batches ADD COLUMN uploader_role VARCHAR;
        ALTER TABLE upload_batches ADD COLUMN uploader_rep_id VARCHAR;
        -- existing batches: the uploader's account as it is now; the command line's uploads are
        -- 'system'; an uploader without an account keeps NULL, which no manager's scope covers
        UPDATE upload_batches SET uploader_role = u.role, uploader_rep_id = u.rep_id
            FROM users u WHERE u.email = lower(upload_batches.uploaded_by);
        UPDATE upload_batches SET uploader_role = 'system' WHERE uploaded_by = 'system';
        """,
    ),
]

# Uploads (docs/files.md): a remembered column mapping keeps the date format and the decimal
# separator the user stated with it, so that the next file with the same header comes pre-set.
# Portable SQL (DuckDB and PostgreSQL).
MIGRATIONS += [
    (
        70,
        "column mappings remember the date format and decimal separator",
        """
        -- NULL: recognise it from the file (what the Upload page calls "Recognise it")
        ALTER TABLE column_maps ADD COLUMN date_format VARCHAR;
        ALTER TABLE column_maps ADD COLUMN decimal_separator VARCHAR;
        """,
    ),
]

MIGRATIONS += LEDGER_MIGRATIONS  # 80-89: salesplan/migrations_ledger.py

# Applied in version order: the numbers were given to work done side by side (5-19 security, 20-29
# notifications, 30-39 deals, 40-49 currencies and people, 50-59 plans, 60-69 batches' uploaders,
# 70-79 uploads' column mappings, 80-89 the actuals ledger),
# and none depends on a higher-numbered one.
MIGRATIONS.sort(key=lambda migration: migration[0])
