"""Two `salesplan digest --send` processes at once, on DuckDB and on PostgreSQL (the cron case):
every account gets its digest exactly once from a real SMTP server's point of view."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

from salesplan.cli import main
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.mail import SmtpServer
from tests.helpers.storage_fixtures import forked_processes, from_template

ACCOUNTS = {"boss@example.com": ("admin", None), "mia@example.com": ("manager", "R000"),
            "ava@example.com": ("rep", "R001"), "joerg@example.com": ("rep", "R002")}


def _digest_send(db_target: str, output: str) -> None:
    """One sender process: the command line's ``digest --send``, its output kept in a file."""
    # the second sender waits for the first one's hold on a DuckDB file; on a machine busy with
    # the rest of the suite that can pass the default 30 s, which is not what this test is about
    os.environ["SALESPLAN_LOCK_WAIT"] = "180"
    with open(output, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = main(["--db", db_target, "digest", "--as-of", "2026-03-02", "--send"])
    sys.exit(code)


def _accounts(store: Store, reps_file) -> None:
    """The small reps list (the reps_file fixture's) and an account of each role: the starting
    database of the test below."""
    reps_file(store)
    for email, (role, rep_id) in ACCOUNTS.items():
        store.add_user(SYSTEM, email, role, rep_id=rep_id, password="pw-1234")
        # without targets nothing can alert: only the digests are computed, and the
        # later sender, finding them all sent, computes nothing
        store.set_notification_opt_out(SYSTEM, email, "alert", True)


def test_two_processes_sending_at_once_send_each_digest_once(db_target, tmp_path, request, reps_file):
    server = SmtpServer().start()
    try:
        # a copy of the accounts' database, built once per run (per PostgreSQL server)
        accounts = from_template(request, db_target, "digest-accounts", functools.partial(_accounts, reps_file=reps_file))
        with Store.open(accounts) as store:
            store.save_settings(SYSTEM, smtp_host="127.0.0.1", smtp_port=server.port, smtp_starttls="off",
                                mail_from="plan@example.com")
        # two processes of their own, each with its own connection, forked from a server that has
        # loaded Python and salesplan once (a new interpreter each cost ~1.4 s of CPU to start)
        outputs = [tmp_path / f"sender{index}.txt" for index in range(2)]
        senders = [forked_processes().Process(target=_digest_send, args=(db_target, str(output))) for output in outputs]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=300)
        assert [sender.exitcode for sender in senders] == [0, 0], [Path(o).read_text(encoding="utf-8") for o in outputs]
        received = sorted(r for message in server.collector.of_kind("digest") for r in message.rcpt_tos)
        assert received == sorted(ACCOUNTS)
        with Store.open(db_target) as store:
            log = store.notification_log(SYSTEM)
        assert sorted(log["recipient"]) == sorted(ACCOUNTS) and set(log["state"]) == {"sent"}
    finally:
        server.stop()


def test_the_dashboards_sender_starts_only_on_an_embedded_database(pg_url, tmp_path, request):
    from salesplan.notify import scheduler

    # copies of the migrated template: what Store.open makes of a new database, not migrated again
    with Store.open(from_template(request, pg_url, templates.MIGRATED)) as server_store:
        assert scheduler.start_background(lambda: server_store) is None
    with Store.open(templates.duckdb_copy(tmp_path / "embedded.duckdb", templates.MIGRATED)) as embedded:
        started = scheduler.start_background(lambda: embedded, interval=3600)
        try:
            assert started is not None and started.running
        finally:
            scheduler.stop_background()
