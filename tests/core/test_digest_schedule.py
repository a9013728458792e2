"""The serving process's sender: the digest hour in the organisation's time zone (with its daylight
saving change), one catch-up of a missed slot, and a background thread that is safe to start twice.
The clock is injected; the messages go to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from salesplan.notify import dispatch, scheduler
from salesplan.principal import SYSTEM
from tests.helpers.mail import DEMO_ACCOUNTS, demo_store, running_server

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def smtp():
    yield from running_server()


# the accounts the store fixture's digests go to: two who see the same (everyone), so that a pass
# computes their digests once (one run's computation per set of visible reps)
ACCOUNTS = ("admin@demo.test", "leader@demo.test")


@pytest.fixture
def store(tmp_path, smtp):
    # New York: 07:00 is 12:00 UTC until 8 March 2026, 11:00 UTC from then on (daylight saving)
    opened = demo_store(tmp_path, smtp_port=smtp.port, timezone="America/New_York", digest_day="Mon", digest_hour=7)
    # alerts off: these tests are about when passes run and digests go out (which alerts a pass
    # sends is build_due's, tests/core/test_digest_mail.py), and a pass then computes only the
    # digests still due, not every account's alerts; and digests to ACCOUNTS only (which accounts
    # get one is build_due's too)
    for account in DEMO_ACCOUNTS:
        opened.set_notification_opt_out(SYSTEM, account, "alert", True)
        if account not in ACCOUNTS:
            opened.set_notification_opt_out(SYSTEM, account, "digest", True)
    try:
        yield opened
    finally:
        opened.close()


def digests_per_account(smtp) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {account: [] for account in ACCOUNTS}
    for message in smtp.collector.of_kind("digest"):
        out[message.rcpt_tos[0]].append(str(message.message["Subject"]))
    return out


def test_the_digest_goes_out_at_the_hour_of_the_organisations_time_zone(store, smtp):
    # Monday 2 March 2026, 07:30 UTC = 02:30 in New York: the first start waits for today's slot
    assert scheduler.run_pending(store, at(2026, 3, 2, 7, 30)).result.sent == []
    assert scheduler.run_pending(store, at(2026, 3, 2, 11, 59)) is None  # 06:59 in New York
    assert smtp.collector.received == []
    first = scheduler.run_pending(store, at(2026, 3, 2, 12, 0))  # 07:00 in New York
    assert first.run_date == dt.date(2026, 3, 2)
    assert {key.recipient for key in first.result.sent if key.kind == "digest"} == set(ACCOUNTS)
    assert scheduler.run_pending(store, at(2026, 3, 2, 12, 1)) is None
    assert scheduler.run_pending(store, at(2026, 3, 2, 23, 0)) is None
    # Tuesday: the day's pass runs (alerts only), the week's digest is not sent again
    tuesday = scheduler.run_pending(store, at(2026, 3, 3, 12, 0))
    assert tuesday.run_date == dt.date(2026, 3, 3)
    assert [key for key in tuesday.result.sent if key.kind == "digest"] == []
    assert all(len(subjects) == 1 for subjects in digests_per_account(smtp).values())


def test_a_missed_slot_is_caught_up_once_and_not_repeated(store, smtp):
    scheduler.run_pending(store, at(2026, 3, 2, 12, 0))  # Monday's digest, week 10
    # the server is down from Tuesday until Thursday 12 March: Monday 9 March (week 11) is missed
    caught_up = scheduler.run_pending(store, at(2026, 3, 12, 15, 0))
    assert caught_up.run_date == dt.date(2026, 3, 12)
    assert {key.slot for key in caught_up.result.sent if key.kind == "digest"} == {"2026-W11"}
    assert scheduler.run_pending(store, at(2026, 3, 12, 15, 1)) is None
    # Friday 13 March, 10:59 UTC is 06:59 in New York (daylight saving since 8 March): nothing
    assert scheduler.run_pending(store, at(2026, 3, 13, 10, 59)) is None
    friday = scheduler.run_pending(store, at(2026, 3, 13, 11, 0))  # 07:00 EDT
    assert friday.run_date == dt.date(2026, 3, 13)
    assert [key for key in friday.result.sent if key.kind == "digest"] == []
    per_account = digests_per_account(smtp)
    assert all(len(subjects) == 2 for subjects in per_account.values()), per_account
    assert {key.slot for key in caught_up.result.sent if key.kind == "digest"} == {"2026-W11"}
    # the skipped days were not replayed: passes exist for the days the server was up
    assert store.notification_run(dt.date(2026, 3, 9)) is None


def test_a_failed_pass_is_retried_after_a_while_until_everything_is_out(store, smtp):
    smtp.collector.refuse_rcpt["leader@demo.test"] = "451 4.7.1 greylisted, try later"
    scheduler.run_pending(store, at(2026, 3, 2, 7, 0))  # first start: baseline
    first = scheduler.run_pending(store, at(2026, 3, 2, 12, 0))
    assert [key.recipient for key, _ in first.result.failed] == ["leader@demo.test"]
    assert scheduler.run_pending(store, at(2026, 3, 2, 12, 5)) is None  # not before RETRY
    smtp.collector.refuse_rcpt.clear()
    retry = scheduler.run_pending(store, at(2026, 3, 2, 12, 16))
    assert [key.recipient for key in retry.result.sent] == ["leader@demo.test"]
    assert scheduler.run_pending(store, at(2026, 3, 2, 12, 40)) is None
    assert store.failed_notifications(SYSTEM).empty


def test_without_mail_settings_the_scheduler_waits_and_loses_nothing(tmp_path):
    store = demo_store(tmp_path, timezone="UTC")
    try:
        assert scheduler.run_pending(store, at(2026, 3, 2, 8, 0)) is None
        assert store.notification_run(dt.date(2026, 3, 2)) is None
        assert store.notification_log(SYSTEM).empty
    finally:
        store.close()


def test_start_background_is_safe_to_start_twice_and_sends_once(store, smtp):
    clock = lambda: at(2026, 3, 2, 12, 30)  # noqa: E731

    def factory():
        return store

    try:
        first = scheduler.start_background(factory, clock=clock, interval=0.05)
        second = scheduler.start_background(factory, clock=clock, interval=0.05)
        assert first is not None and first is second and first.running
        assert [t.name for t in threading.enumerate()].count("salesplan-digest") == 1
        deadline = time.monotonic() + 120
        while len(smtp.collector.of_kind("digest")) < len(ACCOUNTS) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # a few more wake-ups: none of them sends again
    finally:
        scheduler.stop_background()
    assert not first.running and first.last_error is None
    assert sorted(m.rcpt_tos[0] for m in smtp.collector.of_kind("digest")) == sorted(ACCOUNTS)


def test_digest_slot_follows_the_weekday_and_the_hour():
    class S:
        digest_day, digest_hour = 2, 7  # Wednesday 07:00

    wednesday = dt.date(2026, 3, 4)
    assert dispatch.digest_slot(S, wednesday) == "2026-W10"
    assert dispatch.digest_slot(S, dt.date(2026, 3, 3)) == "2026-W09"  # Tuesday: last week's
    early = dt.datetime(2026, 3, 4, 6, 59)
    assert dispatch.digest_slot(S, wednesday, local=early) == "2026-W09"
    assert dispatch.digest_slot(S, wednesday, local=early.replace(hour=7, minute=0)) == "2026-W10"
