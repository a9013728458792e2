"""The sent-message log, on DuckDB and on PostgreSQL: a key is claimed once, a failure is claimed again, a crashed sender's
claim expires, many threads at once get one claim; opt-outs; the e-mail settings' validation."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.storage.notifications import CLAIM_TIMEOUT, MessageKey
from salesplan.store import Store

KEY = MessageKey("rep@example.com", "digest", "", "2026-W10")
D = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 12, 0)


def test_a_key_is_claimed_once_and_a_sent_message_never_again(any_store):
    store = any_store
    token = store.claim_notification(KEY, as_of=D, subject="s", now=NOW)
    assert token and store.notification_state(KEY) == "claimed"
    assert store.claim_notification(KEY, as_of=D, subject="s", now=NOW) is None
    store.mark_notification_sent(KEY, token, snapshot={"fy": {"status": "at_risk"}}, now=NOW)
    assert store.notification_state(KEY) == "sent"
    assert store.claim_notification(KEY, as_of=D, subject="s", now=NOW + dt.timedelta(days=30)) is None
    assert store.last_digest_snapshot("REP@example.com", before_slot="2026-W11") == {"fy": {"status": "at_risk"}}
    assert store.last_digest_snapshot("rep@example.com", before_slot="2026-W10") is None


def test_a_failed_message_is_claimed_again_with_its_error_kept_until_then(any_store):
    store = any_store
    token = store.claim_notification(KEY, as_of=D, subject="s", now=NOW)
    store.mark_notification_failed(KEY, token, "451 try later", now=NOW)
    failed = store.failed_notifications(SYSTEM)
    assert failed[["recipient", "last_error", "attempts"]].to_dict("records") == [
        {"recipient": "rep@example.com", "last_error": "451 try later", "attempts": 1}]
    again = store.claim_notification(KEY, as_of=D, subject="s", now=NOW)
    assert again and again != token
    # the first sender's late answer cannot overwrite the new claim
    store.mark_notification_sent(KEY, token, now=NOW)
    assert store.notification_state(KEY) == "claimed"
    store.mark_notification_sent(KEY, again, now=NOW)
    assert store.notification_state(KEY) == "sent" and store.failed_notifications(SYSTEM).empty


def test_a_crashed_senders_claim_expires(any_store):
    store = any_store
    assert store.claim_notification(KEY, as_of=D, subject="s", now=NOW)
    assert store.claim_notification(KEY, as_of=D, subject="s", now=NOW + CLAIM_TIMEOUT / 2) is None
    assert store.claim_notification(KEY, as_of=D, subject="s", now=NOW + CLAIM_TIMEOUT * 2)


def test_many_threads_and_two_connections_get_exactly_one_claim(any_store):
    store = any_store
    other = Store.open(store.path)
    try:
        tokens: list[str | None] = []
        start = threading.Barrier(8)

        def claim(target: Store) -> None:
            start.wait()
            tokens.append(target.claim_notification(KEY, as_of=D, subject="s", now=NOW))

        threads = [threading.Thread(target=claim, args=(store if i % 2 else other,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    assert len(tokens) == 8 and len([t for t in tokens if t]) == 1


def test_opt_outs_are_per_user_and_only_the_user_or_an_admin_changes_them(any_store):
    store = any_store
    me = Principal("rep@example.com", "rep", "R001")
    store.set_notification_opt_out(me, "Rep@Example.com", "digest", True)
    assert store.notification_opt_outs("rep@example.com") == {"digest"}
    with pytest.raises(NotAllowed):
        store.set_notification_opt_out(me, "other@example.com", "alert", True)
    with pytest.raises(BadInput, match="digest or alert"):
        store.set_notification_opt_out(me, "rep@example.com", "weekly", True)
    store.set_notification_opt_out(Principal("a@example.com", "admin"), "rep@example.com", "digest", False)
    assert store.notification_opt_outs("rep@example.com") == set()
    with pytest.raises(NotAllowed):
        store.notification_log(me)


def test_email_settings_are_checked_before_anything_is_stored(any_store):
    store = any_store
    before = store.settings()
    with pytest.raises(BadInput) as error:
        store.save_settings(SYSTEM, timezone="Mars/Olympus", digest_day="Funday", digest_hour=24, smtp_port=0,
                            smtp_starttls="maybe", mail_from="not an address", dashboard_url="ftp://x",
                            smtp_host="smtp example.com")
    text = str(error.value)
    for flag in ("--timezone", "--digest-day", "--digest-hour", "--smtp-port", "--smtp-starttls", "--mail-from",
                 "--dashboard-url", "--smtp-host"):
        assert flag in text
    assert store.settings() == before
    saved = store.save_settings(SYSTEM, timezone="Europe/Berlin", digest_day="friday", digest_hour=18,
                                smtp_port=2525, smtp_starttls="off", mail_from="Plan <plan@example.com>",
                                smtp_host="smtp.example.com", smtp_user="mailer",
                                dashboard_url="https://plan.example.com/")
    assert (saved.timezone, saved.digest_day, saved.digest_hour, saved.smtp_port, saved.smtp_starttls) == (
        "Europe/Berlin", 4, 18, 2525, False)
    assert (saved.mail_from, saved.smtp_host, saved.smtp_user, saved.dashboard_url) == (
        "Plan <plan@example.com>", "smtp.example.com", "mailer", "https://plan.example.com")
    assert store.save_settings(SYSTEM, smtp_user="").smtp_user == ""
