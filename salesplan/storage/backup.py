"""Backup to Parquet files with a manifest, and restore into an empty database."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from salesplan.errors import (
    BadInput,
)
from salesplan.principal import Principal
from salesplan.storage.audit import AuditStore
from salesplan.storage.backends import Cursor


class BackupStore(AuditStore):
    """Backup to Parquet files with a manifest, and restore into an empty database."""

    # ------------------------------------------------------------------ backup and restore
    def backup(self, principal: Principal, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Write a consistent snapshot: one Parquet file per table plus ``manifest.json`` with
        row counts, SHA-256 checksums, sequence positions and the schema version.

        All tables are read inside one transaction, so concurrent writers never tear the
        snapshot; readers are not blocked. Raises NotAllowed unless admin, BadInput when the
        folder already holds a backup.
        """
        self._require_admin(principal, "Backing up")
        target = Path(folder)
        if (target / "manifest.json").exists():
            raise BadInput.single(str(target), "this folder already holds a backup; choose an empty folder")
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BadInput.single(str(target), f"cannot write the backup here: {error}") from error
        manifest: dict[str, Any] = {"format": 1, "created_at": datetime.now().isoformat(timespec="seconds"),
                                    "tables": {}, "sequences": {}}
        with self.atomic(snapshot=True) as cursor:
            manifest["schema_version"] = int(cursor.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0])
            for name in cursor.table_names():
                path = target / f"{name}.parquet"
                self._backend.backup_table(cursor, name, path)
                rows = int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
                manifest["tables"][name] = {"file": path.name, "rows": rows, "sha256": _file_sha256(path)}
            manifest["sequences"] = self._backend.sequences(cursor)
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return manifest

    def restore(self, principal: Principal, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Rebuild this (empty) database from a backup folder, checking every file's checksum and
        row count first. Raises BadInput on a damaged or foreign backup or a non-empty database."""
        self._require_admin(principal, "Restoring")
        source = Path(folder)
        try:
            manifest = json.loads((source / "manifest.json").read_text())
        except (OSError, ValueError) as error:
            raise BadInput.single(str(source), f"not a salesplan backup: cannot read manifest.json ({error})") from error
        entries = manifest.get("tables") if isinstance(manifest, dict) else None
        if not isinstance(entries, dict) or not isinstance(manifest.get("sequences"), dict) or not all(
            isinstance(entry, dict) and {"file", "rows", "sha256"} <= entry.keys() for entry in entries.values()
        ):
            raise BadInput.single(str(source / "manifest.json"), "not a salesplan backup: manifest.json is incomplete")
        if manifest.get("schema_version", 0) > self.schema_version():
            raise BadInput.single(str(source), "the backup comes from a newer salesplan; upgrade first")
        problems = []
        for entry in manifest["tables"].values():
            path = source / entry["file"]
            if not path.exists():
                problems.append(f"{entry['file']} is missing")
            elif _file_sha256(path) != entry["sha256"]:
                problems.append(f"{entry['file']} does not match its checksum")
        if problems:
            raise BadInput.single(str(source / "manifest.json"), "; ".join(problems))
        counts = self.table_counts()
        foreign = sorted(set(manifest["tables"]) - set(counts))
        if foreign:
            raise BadInput.single(str(source / "manifest.json"), f"names tables this database does not have: {', '.join(foreign)}")
        if any(counts.get(name, 0) for name in counts if name not in ("schema_migrations", "meta")):
            raise BadInput.single(self.path, "restore needs an empty database; this one holds data")

        def work(cursor: Cursor) -> None:
            for name, entry in manifest["tables"].items():
                path = source / entry["file"]
                cursor.execute(f'DELETE FROM "{name}"')
                self._backend.restore_table(cursor, name, path)
                restored = int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
                if restored != entry["rows"]:
                    raise BadInput.single(entry["file"], f"holds {restored} rows, the manifest says {entry['rows']}")
            for name, value in manifest["sequences"].items():
                if value is not None and name.isidentifier():
                    self._backend.set_sequence(cursor, name, int(value))

        # not through write(): the restored meta and audit_log must equal the backup's exactly
        with self._write_lock, self.atomic() as cursor:
            self._backend.lock_writes(cursor)
            work(cursor)
        return manifest



def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
