"""One SMTP connection, many emails: reuse with RSET, a deadline per email, a line dropped
between two emails, and each email's bytes built once. Against the real SMTP sink."""

from __future__ import annotations

import sqlalchemy as sa

from shop.extensions import db
from shop.mail.dispatcher import get_dispatcher
from shop.models import EmailStatus, OutboxEmail
from tests.conftest import wait_until
from tests.test_outbox import bulk_insert, make_due, row


def statuses(app) -> list[tuple[str, int]]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(sa.select(OutboxEmail.status, OutboxEmail.attempts)).all()]


def all_sent(app, n: int) -> bool:
    return statuses(app) == [(EmailStatus.SENT, 1)] * n


def test_one_connection_carries_many_emails_with_rset_between_them(make_app, smtp):
    app = make_app(SHOP_MAIL_WORKERS=1, SHOP_MAIL_BATCH=5)
    bulk_insert(app, 12)
    get_dispatcher(app).start()
    smtp.wait_for(12)
    wait_until(lambda: all_sent(app, 12), 10, "every row sent, one attempt each")
    assert smtp.connections == 1  # instead of 12
    assert smtp.rsets >= 11  # a clean transaction before every email after the first


def test_a_connection_is_closed_after_its_message_limit_and_after_idling(make_app, smtp):
    app = make_app(SHOP_MAIL_WORKERS=1, SHOP_MAIL_SMTP_MAX_MESSAGES=4, SHOP_MAIL_SMTP_IDLE_SECONDS=0.3)
    bulk_insert(app, 10)
    get_dispatcher(app).start()
    smtp.wait_for(10)
    assert smtp.connections == 3  # 4 + 4 + 2
    wait_until(lambda: open_connections(smtp) == 0, 5, "the idle connection to be closed (QUIT)")


def open_connections(smtp) -> int:
    return sum(1 for c in smtp._clients if c.transport is not None and not c.transport.is_closing())


def test_a_line_dropped_between_two_emails_costs_nothing(make_app, smtp):
    app = make_app(SHOP_MAIL_WORKERS=1, SHOP_MAIL_BATCH=5)
    smtp.behave("drop_between")  # the server hangs up after each accepted message
    bulk_insert(app, 5)
    get_dispatcher(app).start()
    mails = smtp.wait_for(5)
    wait_until(lambda: all_sent(app, 5), 10, "every row sent on its first attempt")
    assert len({m.message_id for m in mails}) == 5
    assert len(smtp.received()) == 5  # none twice
    assert smtp.connections == 5  # each found the last line dead at RSET and opened a new one


def test_the_deadline_applies_to_each_email_of_a_connection(make_app, smtp):
    app = make_app(SHOP_MAIL_WORKERS=1, SHOP_MAIL_BATCH=5, MAIL_TIMEOUT=1.0, SHOP_MAIL_RETRY_BASE_SECONDS=60)
    smtp.behave("hang_second")  # the first email of a connection goes, the second's DATA hangs
    bulk_insert(app, 2)
    get_dispatcher(app).start()
    [first] = smtp.wait_for(1)
    second = wait_until(lambda: row(app, 2) if row(app, 2).attempts == 1 else None, 10, "the second email's attempt")
    assert first.message_id == row(app, 1).message_id
    assert row(app, 1).status == EmailStatus.SENT
    assert second.status == EmailStatus.PENDING
    # The second email, on the first one's connection, was given up at its own deadline.
    assert second.last_error.startswith("no answer within MAIL_TIMEOUT (1 s)"), second.last_error
    assert smtp.connections == 1
    smtp.behave("accept")
    make_due(app, 2)
    smtp.wait_for(2)
    wait_until(lambda: row(app, 2).status == EmailStatus.SENT, 15, "the second email to be sent on a retry")


def test_an_email_is_built_once_and_every_attempt_sends_the_same_bytes(make_app, smtp):
    from tests.test_outbox import queue_one

    app = make_app(SHOP_MAIL_RETRY_BASE_SECONDS=0.2)
    smtp.behave("tempfail", times=1)
    email_id = queue_one(app, text_body="Grüße aus Wien")
    [mail] = smtp.wait_for(1, timeout=15)
    sent = wait_until(lambda: row(app, email_id) if row(app, email_id).status == EmailStatus.SENT else None, 10)
    assert sent.attempts == 2
    assert sent.raw_message is not None
    assert mail.raw == sent.raw_message  # the MIME boundary is random: built twice, they would differ
