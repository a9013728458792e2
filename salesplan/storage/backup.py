"""Backup to Parquet files with a manifest, and restore into an empty database."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq

from salesplan import policy
from salesplan.errors import (
    BadInput,
)
from salesplan.migrations_ledger import CLEAR_KEYS, FILL_KEYS, KEYS_DISAGREE, flag_current_sql
from salesplan.principal import Principal
from salesplan.storage.audit import AuditStore
from salesplan.storage.backends import Cursor
from salesplan.storage.base import LEDGER_VIEWS, data_names
from salesplan.storage.records import Manifest


# the first schema whose versions carry the ledger's flags (migrations.py)
LEDGER_FLAGS_VERSION = 80
# the first schema whose versions carry the keys of their rep and territory
LEDGER_KEYS_VERSION = 82


class BackupStore(AuditStore):
    """Backup to Parquet files with a manifest, and restore into an empty database."""

    # ------------------------------------------------------------------ backup and restore
    def backup(self, principal: Principal, folder: str | os.PathLike[str]) -> Manifest:
        """Write a consistent snapshot: one Parquet file per table plus ``manifest.json`` with
        row counts, SHA-256 checksums, sequence positions and the schema version.

        A backup holds everything, password hashes and the session-signing secret included: the
        folder is created 0700 and every file is 0600 (docs/security.md); an existing folder must
        be empty and already 0700 (it is never chmod-ed: it may be shared). All tables are read inside
        one transaction, so concurrent writers never tear the snapshot; readers are not blocked.
        Raises NotAllowed unless admin, BadInput when the folder already holds a backup or other
        files, is open to other users, or cannot be written.
        """
        policy.require(principal, "backup")
        target = Path(folder)
        if (target / "manifest.json").exists():
            raise BadInput.single(str(target), "this folder already holds a backup; choose an empty folder")
        try:
            if target.exists():
                # an existing folder is never chmod-ed (it may be shared, like /tmp): it must be
                # empty and already closed to other users, or the backup goes to a new folder
                if not target.is_dir() or any(target.iterdir()):
                    raise BadInput.single(str(target), "this folder is not empty; choose a new folder (salesplan "
                                                       "creates it, closed to other users)")
                if target.stat().st_mode & 0o077:
                    raise BadInput.single(str(target), "this folder is open to other users, and a backup holds "
                                                       "password hashes; choose a new folder (salesplan creates it, "
                                                       "closed to other users) or make this one 0700")
            else:
                # the backup's own folder is created closed (mode 0700 is never widened by the
                # umask): its files are written before their own mode is set
                target.mkdir(mode=0o700, parents=True)
        except OSError as error:
            raise BadInput.single(str(target), f"cannot write the backup here: {error}") from error
        manifest: dict[str, Any] = {"format": 1, "created_at": datetime.now().isoformat(timespec="seconds"),
                                    "tables": {}, "sequences": {}}
        with self.atomic(snapshot=True) as cursor:
            manifest["schema_version"] = int(cursor.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0])
            # the current ledger is a view (migration 80); its file is written all the same, so a
            # backup reads as before and a restore checks the flags against it
            for name in data_names(cursor):
                path = target / f"{name}.parquet"
                self._backend.backup_table(cursor, name, path)
                path.chmod(0o600)
                rows = int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
                manifest["tables"][name] = {"file": path.name, "rows": rows, "sha256": _file_sha256(path)}
            manifest["sequences"] = self._backend.sequences(cursor)
        descriptor = os.open(target / "manifest.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(manifest, indent=2, sort_keys=True))
        return cast(Manifest, manifest)

    def restore(self, principal: Principal, folder: str | os.PathLike[str]) -> Manifest:
        """Rebuild this (empty) database from a backup folder, checking every file's checksum and
        row count first.

        A backup folder is input like an upload: tables are the ones this database's schema has
        (a manifest naming another is refused), each read from ``<table>.parquet`` directly inside
        the folder (the manifest's file names must be exactly that: no other path, no link),
        sequences only the ones this database has; no identifier or path is built from the
        manifest. Raises NotAllowed unless admin, BadInput on a damaged, tampered or foreign
        backup or a non-empty database.
        """
        policy.require(principal, "restore")
        source = Path(folder)
        where = str(source / "manifest.json")
        try:
            manifest = json.loads((source / "manifest.json").read_text())
        except (OSError, ValueError) as error:
            raise BadInput.single(str(source), f"not a salesplan backup: cannot read manifest.json ({error})") from error
        entries = manifest.get("tables") if isinstance(manifest, dict) else None
        if not isinstance(entries, dict) or not isinstance(manifest.get("sequences"), dict) or not all(
            isinstance(entry, dict) and {"file", "rows", "sha256"} <= entry.keys() for entry in entries.values()
        ):
            raise BadInput.single(where, "not a salesplan backup: manifest.json is incomplete")
        version = manifest.get("schema_version", 0)
        if not _is_count(version):
            raise BadInput.single(where, "not a salesplan backup: schema_version is not a number")
        if version > self.schema_version():
            raise BadInput.single(str(source), "the backup comes from a newer salesplan; upgrade first")
        with self.cursor() as cursor:
            known_tables = data_names(cursor)
            known_sequences = set(self._backend.sequences(cursor))
        foreign = sorted(set(entries) - set(known_tables), key=str)
        if foreign:
            raise BadInput.single(where, f"names tables this database does not have: {', '.join(map(repr, foreign))}")
        unknown_sequences = sorted(set(manifest["sequences"]) - known_sequences, key=str)
        if unknown_sequences:
            raise BadInput.single(where, f"names sequences this database does not have: {', '.join(map(repr, unknown_sequences))}")
        # from here on, names come from this database's schema, never from the manifest
        plan: list[tuple[str, Path, int]] = []
        problems = []
        for name in known_tables:
            entry = entries.get(name)
            if entry is None:
                continue
            expected = f"{name}.parquet"
            path = source / expected
            if entry["file"] != expected:
                problems.append(f"the file of table {name} must be {expected}, not {str(entry['file'])!r}")
            elif not _is_count(entry["rows"]) or not isinstance(entry["sha256"], str):
                problems.append(f"the row count or checksum of {expected} is not valid")
            elif path.is_symlink() or not path.is_file():
                problems.append(f"{expected} is missing" if not path.exists() and not path.is_symlink()
                                else f"{expected} is not a plain file in the backup folder")
            elif _file_sha256(path) != entry["sha256"]:
                problems.append(f"{expected} does not match its checksum")
            else:
                plan.append((name, path, int(entry["rows"])))
        sequences: list[tuple[str, int]] = []
        for name in sorted(known_sequences):
            value = manifest["sequences"].get(name)
            if value is None:
                continue
            if not _is_count(value):
                problems.append(f"the position of sequence {name} is not a number")
            else:
                sequences.append((name, int(value)))
        if problems:
            raise BadInput.single(where, "; ".join(problems))
        counts = self.table_counts()
        if any(counts.get(name, 0) for name in counts if name not in ("schema_migrations", "meta")):
            raise BadInput.single(self.path, "restore needs an empty database; this one holds data")

        ledger = [(path, rows) for name, path, rows in plan if name in LEDGER_VIEWS]

        def work(cursor: Cursor) -> None:
            # this database's schema stays: a backup from before a migration must not undo its record
            # (the next start would run it again on tables that already have its changes)
            own_migrations = cursor.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall()
            for name, path, rows in plan:
                if name in LEDGER_VIEWS:
                    continue  # restored with the versions it is a view of (below)
                cursor.execute(f'DELETE FROM "{name}"')
                try:
                    self._backend.restore_table(cursor, name, path)
                except Exception as error:  # a Parquet file of another shape, or not Parquet at all
                    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    raise BadInput.single(path.name, f"does not fit table {name}: {message}") from error
                restored = int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
                if restored != rows:
                    raise BadInput.single(path.name, f"holds {restored} rows, the manifest says {rows}")
            for path, rows in ledger:
                _restore_ledger(cursor, path, rows, version)
            if version >= LEDGER_KEYS_VERSION and cursor.execute(KEYS_DISAGREE).fetchall()[0][0]:
                # a backup whose keys do not name their versions' texts (its actual_keys left out
                # of the manifest, or not the one of its versions): were they kept, the next import
                # would give their keys to other texts and the report move sales between reps
                cursor.execute(CLEAR_KEYS)
            cursor.execute(FILL_KEYS)  # versions without keys (an older backup) get them, as migration 82 gave them
            restored_versions = {row[0] for row in cursor.execute("SELECT version FROM schema_migrations").fetchall()}
            for row in own_migrations:
                if row[0] not in restored_versions:
                    cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", list(row))
            for name, value in sequences:
                self._backend.set_sequence(cursor, name, value)

        # not through write(): the restored meta and audit_log must equal the backup's exactly
        with self._write_lock, self.atomic() as cursor:
            self._backend.lock_writes(cursor)
            work(cursor)
        return cast(Manifest, manifest)


def _restore_ledger(cursor: Cursor, path: Path, rows: int, version: int) -> None:
    """The current ledger of a backup (``actuals.parquet``), after its versions are restored.

    A backup taken before migration 80 holds the ledger as a table and versions without the flag
    ``is_current``: the flags are set from the file as the migration set them from the table. A
    newer backup's versions carry their flags; either way the ledger must then hold exactly the
    file's row count. Raises BadInput otherwise.
    """
    if version < LEDGER_FLAGS_VERSION:
        try:
            cursor.stage("restored_ledger", pq.read_table(path))
            cursor.execute(flag_current_sql("restored_ledger"))
        except Exception as error:  # a Parquet file of another shape, or not Parquet at all
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BadInput.single(path.name, f"does not fit the actuals ledger: {message}") from error
        cursor.unstage("restored_ledger")
    restored = int(cursor.execute("SELECT count(*) FROM actuals").fetchall()[0][0])
    if restored != rows:
        raise BadInput.single(path.name, f"holds {rows} rows, the restored ledger {restored}")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
