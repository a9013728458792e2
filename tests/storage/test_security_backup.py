"""Tampered backups (issue: restoring a backup runs SQL and reads files outside its folder) and
what a backup exposes (it holds password hashes and the session secret: 0600 files, 0700 folder)."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from salesplan.cli import main
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.storage import Store
from tests.helpers import templates
from tests.helpers.backups import manifest as _manifest
from tests.helpers.backups import save_manifest as _save
from tests.helpers.backups import sha256_of as _sha


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    """A backup folder of a small database with an account and a secret."""
    root = tmp_path_factory.mktemp("backup-security")
    with Store.open(root / "source.duckdb") as store:
        store.add_user(SYSTEM, "root@x.test", "admin", password="root-pw")
        store.server_secret()
        store.save_settings(SYSTEM, window=30)
        store.backup(SYSTEM, root / "snap")
    return root / "snap"


@pytest.fixture
def copy(backup, tmp_path):
    """A copy of the backup to tamper with, and an empty database to restore into (a copy of the
    migrated template: what Store.open makes of a new file, without migrating it again)."""
    folder = tmp_path / "snap"
    shutil.copytree(backup, folder)
    return folder, templates.duckdb_copy(tmp_path / "target.duckdb", templates.MIGRATED)


def _refused(folder, target) -> str:
    with Store.open(target) as store:
        before = store.snapshot()
        with pytest.raises(BadInput) as refused:
            store.restore(SYSTEM, folder)
        assert store.snapshot() == before, "a refused restore changed the database"
    return str(refused.value)


def test_a_table_name_in_the_manifest_is_never_pasted_into_sql(copy, tmp_path):
    folder, target = copy
    manifest = _manifest(folder)
    written = tmp_path / "x.csv"
    evil = f"settings\"; COPY (SELECT 42) TO '{written}'; DELETE FROM \"settings"
    manifest["tables"][evil] = manifest["tables"].pop("settings")
    _save(folder, manifest)
    message = _refused(folder, target)
    assert "names tables this database does not have" in message
    assert not written.exists()


@pytest.mark.parametrize("file", ["../x.parquet", "/etc/passwd", "sub/settings.parquet", "users.parquet"])
def test_a_file_outside_the_table_s_own_name_is_never_read(copy, tmp_path, file):
    folder, target = copy
    outside = tmp_path / "x.parquet"
    shutil.copyfile(folder / "settings.parquet", outside)
    manifest = _manifest(folder)
    manifest["tables"]["settings"]["file"] = file
    _save(folder, manifest)
    message = _refused(folder, target)
    assert f"the file of table settings must be settings.parquet, not {file!r}" in message


def test_a_link_out_of_the_folder_is_refused(copy, tmp_path):
    folder, target = copy
    outside = tmp_path / "elsewhere.parquet"
    shutil.copyfile(folder / "settings.parquet", outside)
    (folder / "settings.parquet").unlink()
    os.symlink(outside, folder / "settings.parquet")
    assert _sha(folder / "settings.parquet") == _manifest(folder)["tables"]["settings"]["sha256"]
    assert "settings.parquet is not a plain file in the backup folder" in _refused(folder, target)


def test_a_sequence_name_is_never_pasted_into_sql(copy):
    folder, target = copy
    manifest = _manifest(folder)
    manifest["sequences"]["batch_seq START 1; DROP TABLE users; --"] = 5
    _save(folder, manifest)
    assert "names sequences this database does not have" in _refused(folder, target)


@pytest.mark.parametrize("change", [
    lambda m: m["tables"]["settings"].update(rows="3; DROP TABLE users"),
    lambda m: m["tables"]["settings"].update(rows=True),
    lambda m: m.update(schema_version="5"),
    lambda m: m["sequences"].update(batch_seq="1; DROP TABLE users"),
    lambda m: m["tables"]["settings"].update(sha256=["not", "text"]),
])
def test_malformed_values_are_refused_with_a_message(copy, change):
    folder, target = copy
    manifest = _manifest(folder)
    change(manifest)
    _save(folder, manifest)
    _refused(folder, target)


def test_a_parquet_file_of_another_table_is_refused_not_a_traceback(copy):
    folder, target = copy
    manifest = _manifest(folder)
    shutil.copyfile(folder / "users.parquet", folder / "settings.parquet")
    manifest["tables"]["settings"]["sha256"] = _sha(folder / "settings.parquet")
    _save(folder, manifest)
    assert "does not fit table settings" in _refused(folder, target)


def test_the_command_line_answers_a_tampered_backup_with_a_message(copy, capsys):
    folder, target = copy
    manifest = _manifest(folder)
    manifest["tables"]["settings"]["file"] = "../x.parquet"
    _save(folder, manifest)
    assert main(["--db", str(target), "restore", str(folder)]) == 1
    error = capsys.readouterr().err
    assert "must be settings.parquet" in error and "Traceback" not in error


def test_a_backup_is_readable_by_its_owner_only(backup):
    # it holds the password hashes and the session-signing secret
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    files = list(backup.iterdir())
    assert {path.name for path in files} >= {"manifest.json", "users.parquet", "settings.parquet"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_an_untampered_backup_still_restores(copy):
    folder, target = copy
    with Store.open(target) as store:
        store.restore(SYSTEM, folder)
        assert store.settings().window == 30
        assert store.authenticate("root@x.test", "root-pw").role == "admin"
