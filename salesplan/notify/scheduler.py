"""Sending from the serving process (the embedded default, where no cron job may open the
database file): a daemon thread wakes every minute and runs the day's pass once its hour has come.

Passes. Every day has one slot: the digest hour in the organisation's time zone. A pass handles the
latest slot that has come (as-of date = that slot's local date): the alerts of that day and, on or
after the digest weekday, the week's digest. A pass is recorded in ``notification_runs``; a slot
missed while the server was down is handled once when it is back (only the latest: a server down
for three days sends one digest and that day's alerts, not three days' worth). The very first start
does not catch up: before today's hour it waits for today's slot. A pass with failed
messages is tried again every ``RETRY`` until the next slot. Nothing is ever sent twice, even by
two schedulers at once: the sent-message log decides.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from salesplan.notify import dispatch

log = logging.getLogger(__name__)
RETRY = dt.timedelta(minutes=15)
PASS_MEMORY = dt.timedelta(days=7)  # alerts compare with the previous pass if it is this recent


@dataclass(frozen=True)
class PassResult:
    run_date: dt.date
    result: dispatch.RunResult


def pass_date(settings: Any, now: dt.datetime) -> dt.date:
    """The as-of date of the latest daily slot that has come at ``now``."""
    local = dispatch.local_now(settings, now)
    return local.date() if local.hour >= settings.digest_hour else local.date() - dt.timedelta(days=1)


def _utc_naive(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def run_pending(store: Any, now: dt.datetime, transport_factory: Callable[[Any], dispatch.Transport] | None = None
                ) -> PassResult | None:
    """Run the pass that is due at ``now`` (aware, or naive UTC), if any: None when it ran
    already (or failed less than RETRY ago) or e-mail is not set up. Raises nothing for a failed
    send (recorded in the log); a NotConfigured setting returns None and leaves everything due."""
    from salesplan.notify.smtp import NotConfigured, SmtpTransport, smtp_config

    settings = store.settings()
    run_date = pass_date(settings, now)
    done = store.notification_run(run_date)
    moment = _utc_naive(now)
    if done is not None and (done["finished_at"] is not None or done["started_at"] > moment - RETRY):
        return None
    try:
        transport = transport_factory(settings) if transport_factory else SmtpTransport(smtp_config(settings))
    except NotConfigured as error:
        log.info("e-mail digest not sent: %s", error)
        return None
    previous = store.previous_notification_run(run_date)
    if previous is None and done is None and run_date != dispatch.local_now(settings, now).date():
        # the very first start, before today's hour: begin with the next slot instead of sending
        # last week's digest now and this week's a few hours later
        store.record_notification_run(run_date, sent=0, failed=0, finished=True, now=moment)
        transport.close()
        return PassResult(run_date, dispatch.RunResult())
    if previous is None or run_date - previous > PASS_MEMORY:
        previous = run_date - dt.timedelta(days=1)
    # the slot's day counts whole (local=None): its hour has come, or it is a caught-up day
    outgoing = dispatch.build_due(store, run_date, previous_day=previous)
    result = dispatch.send(store, outgoing, transport, now=lambda: _utc_naive(now))
    store.record_notification_run(run_date, sent=len(result.sent), failed=len(result.failed),
                                  finished=not result.failed, now=moment)
    return PassResult(run_date, result)


class DigestScheduler:
    """The background sender. ``store_factory()`` returns the Store to use (it is not closed);
    ``clock()`` returns the current aware time (tests inject one)."""

    def __init__(self, store_factory: Callable[[], Any], *, clock: Callable[[], dt.datetime] | None = None,
                 interval: float = 60.0, transport_factory: Callable[[Any], dispatch.Transport] | None = None):
        self.store_factory = store_factory
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.interval = interval
        self.transport_factory = transport_factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self.last_error: str | None = None

    def tick(self) -> PassResult | None:
        """One wake-up: run the due pass, if any. Errors are logged and kept in ``last_error``,
        never raised (the serving process must not die for a mail problem)."""
        with self._tick_lock:
            try:
                outcome = run_pending(self.store_factory(), self.clock(), self.transport_factory)
                self.last_error = None
                return outcome
            except Exception as error:  # a background thread reports, it does not crash
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("e-mail scheduler pass failed")
                return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def start(self) -> DigestScheduler:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="salesplan-digest", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


_lock = threading.Lock()
_running: DigestScheduler | None = None


def start_background(store_factory: Callable[[], Any], *, clock: Callable[[], dt.datetime] | None = None,
                     interval: float = 60.0, transport_factory: Callable[[Any], dispatch.Transport] | None = None,
                     embedded_only: bool = True) -> DigestScheduler | None:
    """Start the process's one background sender (a daemon thread) and return it. Calling it again
    (every Streamlit rerun may) returns the running one instead of starting a second.

    With ``embedded_only`` (the default) nothing starts and None is returned when the store is not
    an embedded DuckDB file: on PostgreSQL a timer runs ``salesplan digest --send`` instead
    (docs/notifications.md), so that many dashboard processes do not all compute the digest."""
    global _running
    if embedded_only and getattr(store_factory(), "dialect", "duckdb") != "duckdb":
        return None
    with _lock:
        if _running is None or not _running.running:
            _running = DigestScheduler(store_factory, clock=clock, interval=interval,
                                       transport_factory=transport_factory).start()
        return _running


def stop_background() -> None:
    """Stop the background sender, if one runs (tests, shutdown)."""
    global _running
    with _lock:
        if _running is not None:
            _running.stop()
            _running = None
