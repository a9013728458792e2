"""Second round: database URL secrets, backup folder modes, terminal output of the command line."""

from __future__ import annotations

import stat

import pandas as pd
import pytest

from salesplan import cli, imports
from salesplan.errors import BadInput, SalesplanError
from salesplan.principal import SYSTEM, Principal
from salesplan.storage.backends import is_server_url, redact, scrub
from salesplan.store import Store
from tests.helpers.storage_fixtures import CONTRACT_REPS as REPS


# F7, F8
@pytest.mark.parametrize("url", [
    "postgresql://app@127.0.0.1:1/sales?password=s3cret",
    "postgresql://app:s3cr%ZZet@127.0.0.1:1/sales",
])
def test_a_database_password_is_never_shown_in_messages(url):
    assert "s3cr" not in redact(url)
    with pytest.raises(SalesplanError) as failed:
        Store.open(url)
    assert "s3cr" not in str(failed.value)


def test_a_database_url_is_recognised_whatever_its_case_and_an_unparsable_one_is_hidden():
    assert is_server_url("PostgreSQL://app:s3cret@127.0.0.1:1/sales")
    assert "s3cr" not in redact("postgresql://app:s3cret@[127.0.0.1/sales")
    assert scrub("connection to app:p@ss and p%40ss failed", "postgresql://app:p%40ss@127.0.0.1/db") == (
        "connection to app:*** and *** failed")


# F12
def test_backup_never_changes_the_mode_of_an_existing_shared_folder(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "someone-elses.txt").write_text("x")
    with Store.open(tmp_path / "db.duckdb") as store:
        with pytest.raises(BadInput, match="not empty"):
            store.backup(SYSTEM, shared)
        (shared / "someone-elses.txt").unlink()
        with pytest.raises(BadInput, match="open to other users"):
            store.backup(SYSTEM, shared)  # empty but shared: still never chmod-ed
        store.backup(SYSTEM, shared / "mine")  # a new folder: salesplan creates it closed
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "mine").stat().st_mode) == 0o700


# F14
def test_the_upload_list_never_prints_terminal_control_sequences_from_a_file_name(tmp_path, capsys):
    db = tmp_path / "db.duckdb"
    with Store.open(db) as store:
        imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")
        name = "sales\x1b]52;c;Y3VybCBldmlsLnRlc3R8c2g=\x07\x1b[2J.csv"  # OSC 52 clipboard write, clear screen
        imports.import_file(store, "actuals", b"date,rep,amount\n2025-03-03,R1,5\n", file_name=name,
                            principal=Principal("ann@x.test", "rep", "R1"))
    assert cli.main(["--db", str(db), "uploads"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "sales]52;c;Y3VybCBldmlsLnRlc3R8c2g=[2J.csv" in out, "the name is kept, without its control characters"


def test_every_table_the_command_line_prints_shows_control_characters_as_escapes(capsys):
    cli._print_frame(pd.DataFrame({"name": ["Ann\x1b[2J\u202eevil"], "note": ["fine"]}))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "Ann\\x1b[2J\\u202eevil" in out
