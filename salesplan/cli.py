"""The ``salesplan`` command line (docs/cli.md): a thin shell over the core.

Exit codes: 0 success, 1 bad input (the message names file, line, column and reason) or a
refused operation, 2 usage error.

Every command starts a fresh interpreter, so its imports are part of its time: modules only some
commands need (the import rules, the demo, e-mail, passwords) are imported inside them, and
``salesplan report`` loads no more than the store, the engine and the report's formats
(tests/core/test_cli_imports.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from salesplan.errors import BadInput, DatabaseLocked, NotAllowed, NotFound, SalesplanError
from salesplan.principal import SYSTEM, Principal
from salesplan.settings import WEEKDAY_NAMES
from salesplan.storage.settings import NOTIFICATION_SETTINGS
from salesplan.store import Store, resolve_db_path, validate_settings
from salesplan.text import escape_controls

if TYPE_CHECKING:
    import pandas as pd

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2
MAX_PROBLEMS_PRINTED = 200


class UsageError(SalesplanError):
    """The command was given wrong or conflicting arguments."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salesplan",
        description="Sales target achievement plans: targets, actuals, pacing, required run-rate and early warnings.",
    )
    parser.add_argument("--db", help="database: a DuckDB file or a postgresql:// URL "
                                     "(default: $SALESPLAN_DB, else data/salesplan.duckdb)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("init", help="create or migrate the database", description="Create the database file or bring its schema up to date.")

    serve = commands.add_parser("serve", help="run the dashboard on this database (no demo data)",
                                description="Run the dashboard (Streamlit) on the database of --db / $SALESPLAN_DB, "
                                            "after creating or migrating it. Loads no demo data.")
    serve.add_argument("--port", type=int, default=8501, metavar="N", help="port to listen on (default 8501)")

    demo = commands.add_parser("demo", help="load a realistic demo organisation",
                               description="Load a deterministic demo organisation (regions, territories, reps, targets, actuals, holidays, plans).")
    demo.add_argument("--reps", type=int, default=40, help="number of reps (default 40)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--today", type=_date, default=None, help="pretend today is this date (default: today)")
    demo.add_argument("--if-empty", action="store_true", help="load only when the database holds no reps yet")

    settings = commands.add_parser("settings", help="show or change the settings",
                                   description="Show the settings, or change the ones given.")
    settings.add_argument("--fy-start-month", type=int, metavar="M", help="first month of the fiscal year, 1-12")
    settings.add_argument("--working-days", metavar="Mon,Tue,...", help="working weekdays, e.g. Mon,Tue,Wed,Thu,Fri")
    settings.add_argument("--holidays", metavar="FILE", help="import a holidays file (date, name, territory)")
    settings.add_argument("--window", type=int, metavar="L", help="run-rate window in working days (default 65)")
    settings.add_argument("--at-risk", type=float, metavar="0.9", help="pace below which an owner is off track (default 0.90)")
    settings.add_argument("--grace", type=float, metavar="0.1", help="share of the period before warnings start (default 0.10)")
    settings.add_argument("--upload-limit-mb", type=int, metavar="MB", help="largest file accepted (default 200)")
    settings.add_argument("--stage-probability", nargs="+", action="extend", metavar="STAGE=P",
                          help="probability of open deals in a stage, 0-1 or a percentage (Proposal=0.4 'Closing=80%%'); "
                               "STAGE= removes a stage")
    # e-mail digest and alerts (docs/notifications.md); the SMTP password is never a setting
    settings.add_argument("--timezone", metavar="ZONE", help="the organisation's time zone, e.g. Europe/Berlin (default UTC)")
    settings.add_argument("--digest-day", metavar="Mon", help="weekday of the weekly digest (default Mon)")
    settings.add_argument("--digest-hour", type=int, metavar="7", help="hour of the digest and the daily alerts, 0-23 (default 7)")
    settings.add_argument("--mail-from", metavar="ADDRESS", help="sender address of the e-mails")
    settings.add_argument("--smtp-host", metavar="HOST", help="SMTP server")
    settings.add_argument("--smtp-port", type=int, metavar="N", help="SMTP port (default 587)")
    settings.add_argument("--smtp-starttls", choices=["on", "off"], help="use STARTTLS (default on)")
    settings.add_argument("--smtp-user", metavar="USER", help="SMTP user (the password: $SALESPLAN_SMTP_PASSWORD or .streamlit/secrets.toml)")
    settings.add_argument("--dashboard-url", metavar="URL", help="public address of the dashboard, for links in e-mails")

    settings.add_argument("--base-currency", metavar="CODE",
                          help="ISO 4217 code reports are in, e.g. EUR; '' for a single-currency organisation")

    imp = commands.add_parser("import", help="import a reps, targets, actuals, holidays, deals or rates file",
                              description="Import a CSV or .xlsx file. All or nothing unless --valid-only.")
    imp.add_argument("kind", choices=["reps", "targets", "actuals", "holidays", "deals", "rates"])
    imp.add_argument("file", help="CSV or .xlsx file")
    imp.add_argument("--user", metavar="EMAIL", help="who is uploading (recorded with the batch)")
    imp.add_argument("--valid-only", action="store_true", help="import the valid rows and store the rejected ones with the batch")
    imp.add_argument("--date-format", metavar="FMT", help="ISO, DMY, MDY or a pattern like %%d.%%m.%%Y")
    imp.add_argument("--decimal", choices=["point", "comma"],
                     help="the amounts' decimal separator (default: recognised from the amounts)")
    imp.add_argument("--reason", help="why (recorded with target changes)")
    imp.add_argument("--as-of", type=_date, metavar="DATE",
                     help="deals: the date of the snapshot of open deals (default: today)")
    imp.add_argument("--progress", action="store_true",
                     help="print each stage with rows per second on stderr (and an estimate first for a large file)")

    uploads = commands.add_parser("uploads", help="list upload batches, undo one, or show its rejected rows",
                                  description="List upload batches (newest first); --undo reverts one.")
    uploads.add_argument("--undo", type=int, metavar="BATCH_ID", help="revert this batch")
    uploads.add_argument("--rejected", type=int, metavar="BATCH_ID", help="print the rejected rows of this batch as CSV")
    uploads.add_argument("--user", metavar="EMAIL", help="who is undoing (recorded)")

    user = commands.add_parser("user", help="manage sign-in accounts (add, list, disable, set-role, set-password, unlock)",
                               description="Manage the built-in accounts of the dashboard.")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    user_add = user_commands.add_parser("add", help="create an account", description="Create an account.")
    user_add.add_argument("email")
    user_add.add_argument("--role", required=True, choices=["admin", "leader", "manager", "rep"])
    user_add.add_argument("--rep-id", help="the rep this account belongs to (needed for manager and rep)")
    user_add.add_argument("--password", help="the password (else $SALESPLAN_PASSWORD, a prompt, or a generated one)")
    user_commands.add_parser("list", help="list the accounts", description="List the accounts.")
    user_disable = user_commands.add_parser("disable", help="disable an account", description="Disable an account.")
    user_disable.add_argument("email")
    user_role = user_commands.add_parser("set-role", help="change an account's role", description="Change an account's role.")
    user_role.add_argument("email")
    user_role.add_argument("role", choices=["admin", "leader", "manager", "rep"])
    user_role.add_argument("--rep-id", help="the rep this account belongs to")
    user_password = user_commands.add_parser("set-password", help="set a password (clears a lock-out)",
                                             description="Set an account's password; this also clears a lock-out.")
    user_password.add_argument("email")
    user_password.add_argument("--password", help="the new password (else $SALESPLAN_PASSWORD, a prompt, or a generated one)")
    user_unlock = user_commands.add_parser("unlock", help="clear a lock-out after failed sign-ins",
                                           description="Clear an account's lock-out and its count of failed sign-ins.")
    user_unlock.add_argument("email")

    backup = commands.add_parser("backup", help="write a consistent snapshot (Parquet + manifest) to a folder",
                                 description="Write every table as Parquet plus manifest.json (row counts, checksums) into DIR.")
    backup.add_argument("dir", metavar="DIR")
    restore = commands.add_parser("restore", help="rebuild an empty database from a backup folder",
                                  description="Check a backup's checksums and row counts, then rebuild this (empty) database from it.")
    restore.add_argument("dir", metavar="DIR")

    report = commands.add_parser("report", help="where every owner stands (docs/numbers.md numbers)",
                                 description="One row per owner and period with the columns of docs/cli.md.")
    report.add_argument("--as-of", type=_date, required=True, metavar="DATE")
    report.add_argument("--fy", type=int, metavar="N", help="fiscal year (default: the one containing the as-of date)")
    report.add_argument("--level", choices=["rep", "territory", "region", "org"], default="rep")
    report.add_argument("--metric", choices=["revenue", "profit"], default="revenue")
    report.add_argument("--period", choices=["year", "quarter", "month", "week"], default="year")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")

    watch = commands.add_parser("watchlist", help="owners falling behind, most urgent first",
                                description="The early warnings of docs/numbers.md for the fiscal year containing the as-of date.")
    watch.add_argument("--as-of", type=_date, required=True, metavar="DATE")
    watch.add_argument("--metric", choices=["revenue", "profit"], default="revenue")
    watch.add_argument("--level", choices=["all", "rep", "territory", "region", "org"], default="all")
    watch.add_argument("--format", choices=["table", "csv", "json"], default="table")

    back = commands.add_parser("backtest", help="how far to trust the warnings: replay past fiscal years week by week",
                               description="Replay the complete past fiscal years (every Sunday) and grade the warnings "
                                           "against how each year ended: misses per status, too_late precision, misses "
                                           "flagged 8 weeks ahead, calibration of chance_to_reach.")
    back.add_argument("--fy", type=int, metavar="N", help="only this fiscal year (default: every complete past one)")
    back.add_argument("--metric", choices=["revenue", "profit"], default="revenue")
    back.add_argument("--level", choices=["rep", "territory", "region", "org"], default="rep")
    back.add_argument("--format", choices=["table", "csv", "json"], default="table")
    digest = commands.add_parser("digest", help="the weekly digest and alerts by e-mail: list, write as .eml, or send",
                                 description="Without --send or --dry-run, list the messages that are due and not sent yet. "
                                             "--dry-run DIR writes them as .eml files; --send sends them by SMTP and "
                                             "records each, so a rerun sends only what is missing.")
    digest.add_argument("--as-of", type=_date, metavar="DATE",
                        help="the date of the numbers (default: today in the organisation's time zone once the digest hour has come, else yesterday)")
    digest.add_argument("--dry-run", metavar="DIR", help="write the messages as .eml files into DIR (nothing is recorded)")
    digest.add_argument("--send", action="store_true", help="send the due messages by SMTP")
    return parser


def _principal(email: str | None) -> Principal:
    # Until sign-in lands the command line acts with full rights; --user is recorded as the actor.
    return Principal(email=email, role="system") if email else SYSTEM


def _print_frame(frame: pd.DataFrame) -> None:
    """Print a table; every text cell has its control characters escaped (stored text is users'
    text, and a terminal obeys escape sequences)."""
    if frame.empty:
        print("(none)")
    else:
        print(escape_controls(frame.to_string(index=False)))


def serve(args: argparse.Namespace) -> int:
    """Migrate the database, then become the dashboard on it (the process is replaced by Streamlit,
    whose exit code is the command's). Returns only on a usage error; raises SalesplanError when
    app.py is missing, OSError when Streamlit cannot be started.

    The dashboard finds the database through $SALESPLAN_DB, so the target is passed that way.
    """
    from pathlib import Path

    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be 1-65535, not {args.port}")
    target = str(resolve_db_path(args.db))
    with Store.open(target) as store:  # create or migrate before any browser session opens it
        shown = store.path  # a URL without its password
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        raise SalesplanError(f"the dashboard's app.py is not next to the salesplan package ({app})")
    # local only unless Streamlit's own STREAMLIT_SERVER_ADDRESS says otherwise: a proxy in front
    # terminates TLS (docs/deploying.md)
    address = os.environ.get("STREAMLIT_SERVER_ADDRESS") or "127.0.0.1"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
               "--server.address", address, "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    print(f"salesplan: serving {shown} on http://{address}:{args.port}", flush=True)
    # this process becomes the dashboard (exec), so that a signal to it (a process manager's
    # SIGTERM, Ctrl-C) stops the dashboard: a child would outlive a stopped parent
    os.chdir(app.parent)
    os.execve(sys.executable, command, {**os.environ, "SALESPLAN_DB": target})


def run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return serve(args)
    store = Store.open(resolve_db_path(args.db))
    try:
        return _dispatch(store, args)
    finally:
        store.close()


def _dispatch(store: Store, args: argparse.Namespace) -> int:
    if args.command == "init":
        print(f"database {store.path} is at schema version {store.schema_version()}")
        return EXIT_OK

    if args.command == "demo":
        if args.if_empty and store.table_counts().get("reps", 0) > 0:
            print(f"database {store.path} already holds data; demo not loaded")
            return EXIT_OK
        from salesplan.demo import MAX_REPS, MIN_REPS, load_demo

        if not MIN_REPS <= args.reps <= MAX_REPS:
            raise UsageError(f"--reps must be between {MIN_REPS} and {MAX_REPS}, not {args.reps}")

        summary = load_demo(store, reps=args.reps, seed=args.seed, today=args.today)
        print("demo organisation loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
        return EXIT_OK

    if args.command == "settings":
        changes = {
            "fy_start_month": args.fy_start_month,
            "working_weekdays": args.working_days,
            "window": args.window,
            "at_risk": args.at_risk,
            "grace": args.grace,
            "upload_limit_mb": args.upload_limit_mb,
            "stage_probabilities": _stage_probabilities(store, args.stage_probability),
            **{key: getattr(args, key) for key in NOTIFICATION_SETTINGS},
            "base_currency": args.base_currency,
        }
        # check every setting before importing holidays, so a refused value changes nothing
        validate_settings(**changes)
        if args.holidays:
            from salesplan import imports

            result = imports.import_file(store, "holidays", args.holidays, principal=SYSTEM)
            print(result.summary())
        settings = store.save_settings(SYSTEM, **changes)
        print(f"fy_start_month  {settings.fy_start_month}")
        print(f"working_days    {settings.working_weekday_names}")
        print(f"window          {settings.window}")
        print(f"at_risk         {settings.at_risk}")
        print(f"grace           {settings.grace}")
        print(f"upload_limit_mb {settings.upload_limit_mb}")
        print(f"base_currency   {settings.base_currency or '(none: one currency)'}")
        stages = ", ".join(f"{stage}={probability:g}" for stage, probability in settings.stage_probabilities)
        print(f"stage_probabilities {stages or '(none)'}")
        for key in NOTIFICATION_SETTINGS:
            value = getattr(settings, key)
            if key == "digest_day":
                value = WEEKDAY_NAMES[value]
            elif key == "smtp_starttls":
                value = "on" if value else "off"
            print(f"{key:<15} {value}")
        return EXIT_OK

    if args.command == "import":
        if args.as_of is not None and args.kind != "deals":
            raise UsageError(f"--as-of dates a deals snapshot; {args.kind} files carry their own dates")
        from salesplan import imports

        result = imports.import_file(
            store, args.kind, args.file, principal=_principal(args.user), valid_only=args.valid_only,
            date_format=args.date_format, reason=args.reason, as_of=args.as_of, decimal=args.decimal,
            progress=_print_progress if args.progress else None,
        )
        print(result.summary())
        if result.problems:
            print(f"{len(result.problems)} problem(s); rejected rows are kept with batch {result.batch_id} "
                  f"(salesplan uploads --rejected {result.batch_id}):", file=sys.stderr)
            for problem in result.problems[:MAX_PROBLEMS_PRINTED]:
                print(f"  {problem}", file=sys.stderr)
        return EXIT_OK

    if args.command == "uploads":
        if args.undo is not None and args.rejected is not None:
            raise UsageError("give either --undo or --rejected, not both")
        if args.undo is not None:
            info = store.undo(_principal(args.user), args.undo)
            print(escape_controls(f"batch {info['batch_id']} ({info['kind']}, {info['file_name']}) undone"))
            return EXIT_OK
        if args.rejected is not None:
            frame = store.rejected_rows(SYSTEM, args.rejected)
            sys.stdout.write(frame.to_csv(index=False))
            return EXIT_OK
        frame = store.batches(SYSTEM)
        frame["reverted"] = frame["reverted_at"].notna()
        _print_frame(frame[["batch_id", "kind", "file_name", "uploaded_by", "uploaded_at", "rows_inserted",
                            "rows_updated", "rows_unchanged", "rows_rejected", "reverted"]])
        return EXIT_OK

    if args.command == "user":
        return _user_command(store, args)

    if args.command == "backup":
        manifest = store.backup(SYSTEM, args.dir)
        rows = sum(entry["rows"] for entry in manifest["tables"].values())
        print(f"backup of {store.path} written to {args.dir}: {len(manifest['tables'])} tables, {rows} rows")
        return EXIT_OK

    if args.command == "restore":
        manifest = store.restore(SYSTEM, args.dir)
        rows = sum(entry["rows"] for entry in manifest["tables"].values())
        print(f"{store.path} restored from {args.dir}: {len(manifest['tables'])} tables, {rows} rows")
        return EXIT_OK

    if args.command in ("report", "watchlist"):
        from salesplan import engine, report

        inputs = store.engine_inputs(SYSTEM)
        if args.command == "report":
            frame = engine.report(inputs, args.as_of, fy=args.fy, level=args.level, metric=args.metric, period=args.period)
        else:
            levels = ("rep", "territory", "region", "org") if args.level == "all" else (args.level,)
            frame = engine.watchlist(inputs, args.as_of, metric=args.metric, levels=levels)
            if frame.empty and args.format == "table":
                print(engine.empty_watchlist_message(inputs, args.as_of, metric=args.metric))
                return EXIT_OK
        output = report.render(frame, args.format, currency=inputs.settings.base_currency)
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        return EXIT_OK

    if args.command == "backtest":
        from salesplan import backtest, report

        graded = backtest.backtest(store.engine_inputs(SYSTEM), fy=args.fy, metric=args.metric, level=args.level)
        sys.stdout.write(report.render_backtest(graded, args.format))
        return EXIT_OK

    if args.command == "digest":
        return _digest_command(store, args)

    raise UsageError(f"unknown command {args.command}")


def _stage_probabilities(store: Store, given: list[str] | None) -> dict[str, str] | None:
    """The whole new map of stage probabilities: the stored one with the given STAGE=P changes
    (``STAGE=`` removes a stage), or None when none are given. Values are checked when saved."""
    if not given:
        return None
    stages: dict[str, str] = {stage: repr(p) for stage, p in store.settings().stage_probabilities}
    for text in given:
        stage, sep, probability = text.rpartition("=")
        if not sep:
            raise UsageError(f"--stage-probability takes STAGE=P, e.g. Proposal=0.4, not {text!r}")
        # the same stage written differently replaces the stored one
        for known in [known for known in stages if " ".join(known.split()).lower() == " ".join(stage.split()).lower()]:
            del stages[known]
        if probability.strip():
            stages[" ".join(stage.split())] = probability
    return stages


def _digest_command(store: Store, args: argparse.Namespace) -> int:
    from salesplan import notify

    if args.send and args.dry_run:
        raise UsageError("give either --send or --dry-run DIR, not both")
    from salesplan.notify.scheduler import pass_date

    settings = store.settings()
    # without a date, the same day as the dashboard's scheduler: today once the digest hour has
    # come in the organisation's time zone, else yesterday (so an hourly cron job sends the
    # digest at the configured weekday and hour, and each day's alerts once)
    as_of = args.as_of or pass_date(settings, notify.local_now(settings))
    # --send without the mail settings fails before the messages are built, not after (building
    # them computes every account's figures: seconds on a real organisation)
    config = notify.smtp_config(settings) if args.send else None
    outgoing = notify.build_due(store, as_of)
    if args.dry_run:
        paths = notify.write_eml(outgoing, args.dry_run)
        print(f"{len(paths)} message(s) written to {args.dry_run} (nothing sent or recorded)")
        return EXIT_OK
    if not args.send:
        if not outgoing:
            print(f"nothing is due as of {as_of}")
        for item in outgoing:
            print(f"{item.key.kind:<6} {item.key.recipient:<30} {item.subject}")
        return EXIT_OK
    assert config is not None  # --send
    transport = notify.SmtpTransport(config)
    result = notify.send(store, outgoing, transport)
    print(result.summary())
    _print_flag_hints(*(reason for _, reason in result.failed[:1]))  # the summary names the first error
    return EXIT_BAD_INPUT if result.failed else EXIT_OK


def _print_progress(fraction: float, text: str) -> None:
    print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True)


def _password(given: str | None) -> tuple[str, bool]:
    """The password to set and whether it was generated (then it is printed once)."""
    import getpass
    import secrets

    if given:
        return given, False
    if os.environ.get("SALESPLAN_PASSWORD"):
        return os.environ["SALESPLAN_PASSWORD"], False
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat it: "):
            raise UsageError("the two passwords differ")
        return first, False
    return secrets.token_urlsafe(12), True


def _user_command(store: Store, args: argparse.Namespace) -> int:
    if args.user_command == "list":
        _print_frame(store.users(SYSTEM))
        return EXIT_OK
    if args.user_command == "add":
        password, generated = _password(args.password)
        store.add_user(SYSTEM, args.email, args.role, rep_id=args.rep_id, password=password)
        print(f"account {args.email.lower()} created as {args.role}")
    elif args.user_command == "disable":
        store.disable_user(SYSTEM, args.email)
        print(f"account {args.email.lower()} disabled")
        return EXIT_OK
    elif args.user_command == "set-role":
        store.set_user_role(SYSTEM, args.email, args.role, rep_id=args.rep_id)
        print(f"account {args.email.lower()} is now {args.role}")
        return EXIT_OK
    elif args.user_command == "unlock":
        store.clear_lockout(SYSTEM, args.email)
        print(f"account {args.email.strip().lower()} unlocked")
        return EXIT_OK
    else:
        password, generated = _password(args.password)
        store.set_password(SYSTEM, args.email, password)
        print(f"password of {args.email.lower()} set")
    if generated:
        print(f"generated password (shown once): {password}")
    return EXIT_OK


def _flag_hints() -> dict[str, str]:
    from salesplan.imports import STATE_DATE_FORMAT
    from salesplan.imports_deals import STAGE_PROBABILITY_SETTING
    from salesplan.notify.smtp import SET_MAIL_SERVER, SET_SENDER, STARTTLS_OFF
    from salesplan.storage.rates import BASE_CURRENCY_FIRST
    from salesplan.storage.settings import RATES_UNDO_FIRST

    return {STATE_DATE_FORMAT: "--date-format DMY or MDY",
            STAGE_PROBABILITY_SETTING: "salesplan settings --stage-probability STAGE=P",
            RATES_UNDO_FIRST: "salesplan uploads --undo ID",
            BASE_CURRENCY_FIRST: "salesplan settings --base-currency CODE",
            SET_MAIL_SERVER: "salesplan settings --smtp-host HOST",
            SET_SENDER: "salesplan settings --mail-from ADDRESS",
            STARTTLS_OFF: "salesplan settings --smtp-starttls off"}


def _print_flag_hints(*texts: str) -> None:
    """The messages name no flag (the pages show them too): the command line adds its own, once
    each, for the messages it printed."""
    for words, flag in _flag_hints().items():
        if any(words in text for text in texts):
            print(f"  (on the command line: {flag})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    try:
        return run(args)
    except UsageError as error:
        print(f"salesplan: usage error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BadInput as error:
        problems = error.problems
        print(f"salesplan: nothing was changed; {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems[:MAX_PROBLEMS_PRINTED]:
            print(f"  {problem}", file=sys.stderr)
        _print_flag_hints(*(problem.reason for problem in problems))
        if len(problems) > MAX_PROBLEMS_PRINTED:
            print(f"  ... and {len(problems) - MAX_PROBLEMS_PRINTED} more", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DatabaseLocked, NotAllowed, NotFound, SalesplanError) as error:
        print(f"salesplan: {error}", file=sys.stderr)
        _print_flag_hints(str(error))
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
