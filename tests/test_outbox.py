"""The outbox's rules, one email at a time, against the real SMTP sink under faults."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from shop.database import transaction
from shop.extensions import db
from shop.mail import outbox
from shop.mail.delivery import deliver
from shop.mail.dispatcher import get_dispatcher
from shop.models import EmailStatus, Order, OutboxEmail, utcnow
from tests.conftest import count, order_id_from, wait_until


def queue(app: Flask, n: int = 1, recipient: str = "someone@example.com", prefix: str = "test") -> list[int]:
    """Put n emails in the outbox directly (no order); their ids."""
    with app.app_context(), transaction():
        return [
            outbox.enqueue_email(
                key=f"{prefix}:{i}",
                kind="test",
                recipient=recipient,
                subject=f"Test message {prefix} {i}",
                text_body=f"Body {prefix} {i}",
                html_body=f"<p>Body {prefix} {i}</p>",
            )
            for i in range(n)
        ]


def queue_one(
    app: Flask,
    recipient: str = "someone@example.com",
    prefix: str = "one",
    text_body: str | None = None,
    html_body: str | None = None,
    dispatch: bool = True,
) -> int:
    """One email in the outbox, handed to the dispatcher after the commit (as checkout
    does) unless `dispatch` is False; its id."""
    with app.app_context(), transaction():
        email_id = outbox.enqueue_email(
            key=prefix,
            kind="test",
            recipient=recipient,
            subject=f"Test message {prefix}",
            text_body=f"Body {prefix}" if text_body is None else text_body,
            html_body=f"<p>Body {prefix}</p>" if html_body is None else html_body,
        )
    if dispatch:
        with app.app_context():
            get_dispatcher(app).hand_off([email_id])
    return email_id


def claim_one(email_id: int, lease_seconds: float) -> outbox.ClaimedEmail | None:
    """Claim this one email (in an app context); None if it is not pending and due."""
    claimed = outbox.claim_batch(1, lease_seconds, [email_id])
    return claimed[0] if claimed else None


def row(app: Flask, email_id: int) -> OutboxEmail:
    with app.app_context():
        email = db.session.get(OutboxEmail, email_id)
        db.session.expunge(email)
        return email


def wait_for_row(app: Flask, email_id: int, what: str, timeout: float = 15.0, **expected) -> OutboxEmail:
    def matches() -> OutboxEmail | None:
        email = row(app, email_id)
        return email if all(getattr(email, k) == v for k, v in expected.items()) else None

    return wait_until(matches, timeout, what)


def make_due(app: Flask, email_id: int) -> None:
    """Skip the backoff wait: the next attempt is due now."""
    with app.app_context(), transaction():
        db.session.get(OutboxEmail, email_id).next_attempt_at = utcnow()


# ---------------------------------------------------------------- enqueue
def test_a_second_enqueue_with_the_same_key_is_a_no_op(app):
    [first] = queue(app, 1, prefix="same")
    assert queue(app, 1, prefix="same") == [None]
    assert count(app, OutboxEmail) == 1
    assert row(app, first).message_id.endswith("@example.com>")  # the sender's domain


def test_crlf_in_a_subject_or_recipient_cannot_add_a_header(app, smtp):
    with app.app_context(), transaction():
        email_id = outbox.enqueue_email(
            key="inject",
            kind="test",
            recipient="victim@example.com\r\nBcc: everyone@example.com",
            subject="Hello\r\nBcc: everyone@example.com\r\n\r\nforged body",
            text_body="real body",
            html_body="",
        )
    assert "\n" not in row(app, email_id).subject
    assert "\r" not in row(app, email_id).recipient
    with app.app_context():
        deliver(email_id)
    for mail in smtp.received():
        assert mail.message.get("Bcc") is None
        assert "everyone@example.com" not in mail.rcpt_tos
        assert "forged body" not in mail.text


def test_an_email_queued_in_a_transaction_that_rolls_back_is_never_sent(app, smtp):
    class Abort(Exception):
        pass

    def queue_then_abort() -> None:
        with transaction():
            outbox.enqueue_email(
                key="rolled-back", kind="test", recipient="x@example.com", subject="s", text_body="b", html_body=""
            )
            raise Abort

    with app.app_context():
        with pytest.raises(Abort):
            queue_then_abort()
        assert get_dispatcher(app).sweep() is False
    assert count(app, OutboxEmail) == 0
    assert smtp.received() == []


def test_an_order_rolled_back_after_its_email_was_queued_sends_nothing(app, products, shopper, smtp, monkeypatch):
    """The order's transaction fails after the confirmation is in the outbox: neither stays."""
    import shop.checkout.service as service

    real = service.enqueue_order_emails

    def queue_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(service, "enqueue_order_emails", queue_then_fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # Registering emailed a link to confirm the address: sent before the order is tried.
    smtp.wait_for(1, subject_contains="Confirm your address")
    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status != EmailStatus.SENT) == 0, what="it to be sent")
    shopper.add(products["TEA"], 1)
    assert shopper.checkout().status_code == 500
    assert count(app, Order) == 0
    assert count(app, OutboxEmail, OutboxEmail.kind != "confirm_email") == 0
    with app.app_context():
        assert get_dispatcher(app).sweep() is False
    assert smtp.received(subject_contains="Your Swiftcart order") == []


# ---------------------------------------------------------------- claims and leases
def test_a_claim_is_exclusive_and_the_attempt_counts_when_its_outcome_is_recorded(app):
    [email_id] = queue(app)
    with app.app_context():
        first = claim_one(email_id, 60)
        assert first is not None
        assert first.attempts == 1  # the number of this attempt
        assert claim_one(email_id, 60) is None  # taken: nobody else gets it
        email = row(app, email_id)
        assert (email.status, email.attempts, email.claim_token) == (EmailStatus.SENDING, 0, first.claim_token)
        assert outbox.record([outbox.Attempt(first, sent=True)], 8, 1) == [("sent", None)]
    assert (row(app, email_id).status, row(app, email_id).attempts) == (EmailStatus.SENT, 1)


def test_a_batch_claim_gives_each_email_its_own_token_and_releasing_one_charges_nothing(app):
    ids = queue(app, 3)
    with app.app_context():
        claimed = outbox.claim_batch(10, lease_seconds=60)
        assert [e.id for e in claimed] == ids
        assert len({e.claim_token for e in claimed}) == 3
        assert outbox.claim_batch(10, lease_seconds=60) == []
        results = outbox.record(
            [outbox.Attempt(claimed[0], error="451 later", smtp_code=451), outbox.Attempt(claimed[1], tried=False)],
            max_attempts=8,
            base_seconds=60,
        )
    assert [outcome for outcome, _ in results] == ["retry", "released"]
    retried, released, untouched = (row(app, i) for i in ids)
    assert (retried.status, retried.attempts, retried.last_smtp_code) == (EmailStatus.PENDING, 1, 451)
    assert retried.next_attempt_at > utcnow() + timedelta(seconds=40)
    assert (released.status, released.attempts, released.claim_token) == (EmailStatus.PENDING, 0, None)
    assert untouched.status == EmailStatus.SENDING


def test_a_sender_whose_lease_expired_cannot_overwrite_the_new_claim(app, caplog):
    [email_id] = queue(app)
    with app.app_context():
        stale = claim_one(email_id, -1)  # its lease is over at once
        assert outbox.reclaim_expired(max_attempts=8) == 1  # counted: it may have been tried
        fresh = claim_one(email_id, 60)
        assert fresh is not None
        with caplog.at_level(logging.WARNING, logger="shop.mail.outbox"):
            outbox.record([outbox.Attempt(stale, sent=True)], 8, 1)
        assert "expired and was taken over" in caplog.text
        email = row(app, email_id)
        assert (email.status, email.claim_token, email.attempts) == (EmailStatus.SENDING, fresh.claim_token, 1)
        outbox.record([outbox.Attempt(fresh, sent=True)], 8, 1)
    assert (row(app, email_id).status, row(app, email_id).attempts) == (EmailStatus.SENT, 2)


def test_a_sender_that_dies_on_its_last_attempt_leaves_the_email_failed(app):
    [email_id] = queue(app)
    with app.app_context():
        claim_one(email_id, -1)
        outbox.reclaim_expired(max_attempts=1)
    email = row(app, email_id)
    assert email.status == EmailStatus.FAILED
    assert "stopped during its last attempt" in email.last_error


def test_an_email_not_due_yet_is_not_claimed(app):
    [email_id] = queue(app)
    with app.app_context(), transaction():
        db.session.get(OutboxEmail, email_id).next_attempt_at = utcnow() + timedelta(minutes=5)
    with app.app_context():
        assert claim_one(email_id, 60) is None
        assert outbox.due_ids(10) == []


# ---------------------------------------------------------------- retries
def test_backoff_grows_4x_per_attempt_with_jitter_and_spans_about_a_day():
    delays = [outbox.retry_delay(attempt, 30) for attempt in range(1, 8)]
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(30 * 4 ** (attempt - 1), outbox.MAX_RETRY_DELAY_SECONDS)
        assert 0.8 * nominal <= delay <= 1.2 * nominal
    nominal_total = sum(min(30 * 4**i, 12 * 3600) for i in range(7))
    assert 20 * 3600 < nominal_total < 28 * 3600


def test_refused_then_the_server_starts_delivered_on_a_retry(app, smtp):
    smtp.behave("refuse")
    [email_id] = queue(app)
    with app.app_context():
        assert deliver(email_id) == "retry"
    email = row(app, email_id)
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert "ConnectionRefused" in email.last_error
    assert email.next_attempt_at > utcnow() - timedelta(seconds=1)
    smtp.behave("accept")
    get_dispatcher(app).start()  # the sweeper finds it when it falls due
    smtp.wait_for(1)
    sent = wait_for_row(app, email_id, "the row to be sent", status=EmailStatus.SENT)
    assert sent.attempts == 2


def test_4xx_twice_then_delivered_on_the_third_attempt_with_one_message_id(app, smtp):
    smtp.behave("tempfail", times=2)
    [email_id] = queue(app)
    get_dispatcher(app).start()
    [mail] = smtp.wait_for(1)
    email = wait_for_row(app, email_id, "the row to be sent", status=EmailStatus.SENT)
    assert email.attempts == 3
    assert smtp.attempts == 3
    assert mail.message_id == email.message_id  # the same id on every attempt
    assert email.last_error is None


def test_4xx_is_kept_with_its_code_until_the_attempts_run_out(make_app, smtp):
    app = make_app(SHOP_MAIL_MAX_ATTEMPTS=2)
    smtp.behave("tempfail", times=10)
    [email_id] = queue(app)
    with app.app_context():
        assert deliver(email_id) == "retry"
        first = row(app, email_id)
        assert (first.last_smtp_code, first.attempts) == (451, 1)
        assert "Temporary failure" in first.last_error
        make_due(app, email_id)
        assert deliver(email_id) == "failed"
    assert row(app, email_id).status == EmailStatus.FAILED
    assert smtp.received() == []


def test_5xx_fails_at_once_and_retry_sends_it_again(app, smtp):
    smtp.behave("permfail")
    [email_id] = queue(app)
    with app.app_context():
        assert deliver(email_id) == "failed"
    email = row(app, email_id)
    assert (email.status, email.attempts, email.last_smtp_code) == (EmailStatus.FAILED, 1, 550)
    assert "No such user" in email.last_error
    smtp.behave("accept")
    result = app.test_cli_runner().invoke(args=["outbox", "retry", str(email_id)])
    assert f"1 email(s) queued again: {email_id}" in result.output
    result = app.test_cli_runner().invoke(args=["outbox", "drain"])
    assert "this drain: sent 1, to retry 0, failed 0; outbox now: pending 0" in result.output, result.output
    [mail] = smtp.received()
    assert mail.message_id == email.message_id


def test_a_server_that_drops_the_line_after_accepting_data_counts_as_sent(app, smtp):
    """Flask-Mail's quit() raising after the 250 (pallets-eco/flask-mail#139) is a success."""
    smtp.behave("drop_quit")
    [email_id] = queue(app)
    with app.app_context():
        assert deliver(email_id) == "sent"
        assert get_dispatcher(app).sweep() is False  # nothing left to send again
        assert deliver(email_id) == "skipped"
    assert row(app, email_id).status == EmailStatus.SENT
    assert len(smtp.received()) == 1


def test_a_hung_server_frees_the_sender_within_mail_timeout(make_app, smtp):
    app = make_app(MAIL_TIMEOUT=1.0)
    smtp.behave("hang")
    [email_id] = queue(app)
    dispatcher = get_dispatcher(app)
    dispatcher.start()
    email = wait_for_row(app, email_id, "the attempt to give up", attempts=1, status=EmailStatus.PENDING)
    assert email.last_error.startswith("no answer within MAIL_TIMEOUT (1 s)"), email.last_error
    wait_until(lambda: dispatcher.in_flight() == 0, 5, "the sender thread to be free")
    assert smtp._held  # the server still holds the connection open: the shop walked away
    smtp.behave("accept")
    make_due(app, email_id)
    smtp.wait_for(1)
    assert wait_for_row(app, email_id, "the row to be sent", status=EmailStatus.SENT).attempts == 2


@pytest.mark.parametrize("mode", ["refuse", "hang", "tempfail", "permfail", "accept"])
def test_checkout_answers_and_keeps_the_order_whatever_the_smtp_server_does(make_app, smtp, mode):
    from tests.conftest import add_product, signed_in_browser

    app = make_app(MAIL_TIMEOUT=1.0)
    smtp.behave(mode, delay=0.5 if mode == "accept" else None, times=5)
    browser = signed_in_browser(app, "fault@example.com")
    browser.add(add_product(app, "Fault Tea", 700), 1)
    order_id = order_id_from(browser.checkout())
    assert browser.get(f"/orders/{order_id}").status_code == 200
    with app.app_context():
        statement = sa.select(OutboxEmail).where(OutboxEmail.kind == "order_confirmation")
        email = db.session.execute(statement).scalar_one()
    if mode in ("hang", "accept"):  # the answer came while the SMTP conversation was still going on
        assert email.status in (EmailStatus.PENDING, EmailStatus.SENDING)
        assert email.sent_at is None


# ---------------------------------------------------------------- logs
def test_one_log_line_per_attempt_and_never_the_password(make_app, smtp, caplog):
    app = make_app(MAIL_USERNAME="shop", MAIL_PASSWORD="s3cret-pa55word")
    smtp.behave("tempfail", times=1)
    [email_id] = queue(app, recipient="reader@example.com")
    with caplog.at_level(logging.INFO, logger="shop.mail"), app.app_context():
        deliver(email_id)
        make_due(app, email_id)
        deliver(email_id)
    lines = [r.getMessage() for r in caplog.records if r.name == "shop.mail.delivery"]
    assert len(lines) == 2
    assert f"outbox id={email_id} to=reader@example.com attempt=1 outcome=retry" in lines[0]
    assert "next=20" in lines[0]
    assert "duration=" in lines[0]
    assert f"outbox id={email_id} to=reader@example.com attempt=2 outcome=" in lines[1]
    assert "s3cret-pa55word" not in caplog.text


# ---------------------------------------------------------------- the CLI
def test_outbox_status_list_and_retry_all_failed(app, smtp):
    smtp.behave("permfail")
    ids = queue(app, 3)
    with app.app_context():
        for email_id in ids[:2]:
            deliver(email_id)
    runner = app.test_cli_runner()
    status = runner.invoke(args=["outbox", "status"]).output
    assert "pending  1" in status
    assert "failed   2" in status
    assert "oldest pending:" in status
    listed = runner.invoke(args=["outbox", "list", "--status", "failed"]).output
    assert listed.count("failed") == 2
    assert "550" in listed
    usage = runner.invoke(args=["outbox", "retry"])
    assert usage.exit_code == 2
    assert "give email ids or --all-failed" in usage.output
    assert "2 email(s) queued again" in runner.invoke(args=["outbox", "retry", "--all-failed"]).output
    assert "not failed, left alone" in runner.invoke(args=["outbox", "retry", str(ids[2])]).output
    smtp.behave("accept")
    assert (
        "this drain: sent 3, to retry 0, failed 0; outbox now: pending 0"
        in runner.invoke(args=["outbox", "drain"]).output
    )
    assert len(smtp.received()) == 3


# ---------------------------------------------------------------- provider limits and shutdown
def test_rate_per_minute_spaces_the_sends(make_app, smtp):
    app = make_app(SHOP_MAIL_RATE_PER_MINUTE=120)  # one every 0.5 s
    queue(app, 3)
    started = time.time()
    get_dispatcher(app).start()
    mails = smtp.wait_for(3)
    # The third send cannot begin before two intervals have passed (without the limit the
    # four threads would send all three at once).
    assert mails[-1].received - started >= 1.0, [m.received - started for m in mails]


def test_stop_lets_the_send_in_progress_end_and_leaves_the_rest_pending(make_app, smtp):
    app = make_app(MAIL_TIMEOUT=1.0, SHOP_MAIL_WORKERS=1)
    smtp.behave("hang")
    ids = queue(app, 3)
    dispatcher = get_dispatcher(app)
    dispatcher.start()
    wait_for_row(app, ids[0], "the first email to be claimed", status=EmailStatus.SENDING)
    stopper = threading.Thread(target=dispatcher.stop)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive()
    first = row(app, ids[0])
    assert (first.status, first.attempts) == (EmailStatus.PENDING, 1)  # its attempt ended, not abandoned
    for email_id in ids[1:]:
        assert (row(app, email_id).status, row(app, email_id).attempts) == (EmailStatus.PENDING, 0)
    assert not dispatcher.running


def test_a_backlog_with_smtp_down_keeps_threads_and_memory_bounded(make_app, smtp):
    """10,000 pending emails and SMTP refusing: the process holds at most `capacity` emails,
    runs its senders, recorder and sweeper, however many rows wait, and charges attempts
    only to its probes."""
    app = make_app(SHOP_MAIL_WORKERS=4, SHOP_MAIL_RETRY_BASE_SECONDS=3600, SHOP_MAIL_PROBE_MAX_SECONDS=0.5)
    smtp.behave("refuse")
    bulk_insert(app, 10_000)
    before = threading.active_count()
    dispatcher = get_dispatcher(app)
    dispatcher.start()
    peak_threads = peak_in_flight = 0

    def attempted() -> int:
        nonlocal peak_threads, peak_in_flight
        peak_threads = max(peak_threads, threading.active_count())
        peak_in_flight = max(peak_in_flight, dispatcher.in_flight())
        with app.app_context():
            return db.session.execute(sa.select(sa.func.sum(OutboxEmail.attempts))).scalar_one() or 0

    wait_until(lambda: attempted() >= 4, 30, "4 probes")
    assert peak_threads <= before + dispatcher.workers + 2  # the senders, the recorder and the sweeper
    assert peak_in_flight <= dispatcher.capacity
    assert attempted() <= 6  # one probe at a time, 0.5 s apart at most: not one attempt per email
    # Due emails the breaker holds back do not make the sweeper run faster than every 0.5 s.
    sweeps, started = dispatcher.sweeps, time.monotonic()
    wait_until(lambda: time.monotonic() - started >= 2, 5, "two seconds")
    assert dispatcher.sweeps - sweeps <= 5
    assert count(app, OutboxEmail, OutboxEmail.status == EmailStatus.FAILED) == 0  # nothing dropped
    assert count(app, OutboxEmail) == 10_000


def bulk_insert(app: Flask, n: int, prefix: str = "backlog") -> None:
    """n pending emails, due now, inserted in one statement (no order, no hand-off)."""
    with app.app_context(), transaction():
        db.session.execute(
            sa.insert(OutboxEmail),
            [
                {
                    "key": f"{prefix}:{i}",
                    "kind": "test",
                    "recipient": f"r{i}@example.com",
                    "subject": f"{prefix} {i}",
                    "text_body": "b",
                    "html_body": "",
                    "message_id": f"<{prefix}-{i}@example.com>",
                }
                for i in range(n)
            ],
        )
