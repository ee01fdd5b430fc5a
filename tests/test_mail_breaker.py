"""Trouble without a spin: the circuit breaker against a refusing, hanging and 421-answering
SMTP server, fresh emails first, and a database that cannot write. Real SMTP sink, real
database (a trigger makes SQLite refuse the writes, as a full disk would)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.mail.dispatcher import get_dispatcher
from shop.models import EmailStatus, OutboxEmail
from tests.conftest import count, signed_in_admin, wait_until
from tests.test_outbox import bulk_insert

TOKEN = "monitor-token-0123456789"


def attempts_made(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(OutboxEmail.attempts), 0))).scalar_one()


def sent(app) -> int:
    return count(app, OutboxEmail, OutboxEmail.status == EmailStatus.SENT)


@pytest.mark.parametrize("fault", ["refuse", "hang", "busy"])
def test_the_breaker_opens_probes_and_the_first_success_closes_it(make_app, smtp, caplog, fault):
    app = make_app(
        MAIL_TIMEOUT=1.0,
        SHOP_MAIL_PROBE_MAX_SECONDS=0.5,
        SHOP_MAIL_RETRY_BASE_SECONDS=3600,  # the probes' emails are due again when it closes, not in an hour
        SHOP_HEALTH_TOKEN=TOKEN,
    )
    smtp.behave(fault)  # refuse: connection refused; hang: never a word; busy: 421 at the greeting
    bulk_insert(app, 50)
    pool = get_dispatcher(app)
    with caplog.at_level(logging.INFO, logger="shop.mail"):
        pool.start()
        wait_until(lambda: attempts_made(app) >= 3, 20, "three probes")
        # Only the probes were charged an attempt: the other emails were never handed out.
        assert pool.breaker.is_open
        assert attempts_made(app) <= 6
        assert count(app, OutboxEmail, OutboxEmail.attempts == 0) >= 44
        assert count(app, OutboxEmail, OutboxEmail.status == EmailStatus.FAILED) == 0

        # The owner sees it, whichever way they look.
        status = app.test_cli_runner().invoke(args=["outbox", "status"]).output
        assert "mail server unreachable since" in status, status
        health = app.test_client().get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
        assert health["status"] == "ok"  # the shop itself works
        assert health["mail_server"].startswith("unreachable since"), health
        dashboard = signed_in_admin(app).get("/admin").get_data(as_text=True)
        assert "Mail server unreachable since" in dashboard

        smtp.behave("accept")
        queued = count(app, OutboxEmail)  # the 50, and the admin's address confirmation
        smtp.wait_for(queued, timeout=20)
        wait_until(lambda: sent(app) == queued, 10, "every email sent")
    assert not pool.breaker.is_open
    assert len(smtp.received()) == queued  # none twice
    lines = [r.getMessage() for r in caplog.records]
    assert sum("mail server unreachable" in line for line in lines) == 1  # one line per change of state
    assert sum("mail server reachable again" in line for line in lines) == 1
    assert "mail server unreachable" not in app.test_cli_runner().invoke(args=["outbox", "status"]).output


def test_a_message_refused_with_4xx_does_not_open_the_breaker(make_app, smtp):
    app = make_app(SHOP_MAIL_RETRY_BASE_SECONDS=0.2)
    smtp.behave("tempfail", times=3)  # the server answers: it is this message it turns away
    bulk_insert(app, 10)
    pool = get_dispatcher(app)
    pool.start()
    smtp.wait_for(10, timeout=20)
    wait_until(lambda: sent(app) == 10, 10, "every email sent")
    assert not pool.breaker.is_open
    assert attempts_made(app) == 13


def test_after_an_outage_a_new_order_is_confirmed_at_once_not_after_the_next_probe(make_app, smtp, products):
    from tests.conftest import signed_in_browser

    app = make_app(SHOP_MAIL_PROBE_MAX_SECONDS=30, SHOP_MAIL_RETRY_BASE_SECONDS=0.2)
    smtp.behave("refuse")
    bulk_insert(app, 20)
    pool = get_dispatcher(app)
    pool.start()
    wait_until(lambda: pool.breaker.failed_probes >= 3, 20, "three failed probes, 1, 2 and 4 s apart")
    smtp.behave("accept")  # back; the next scheduled probe is 8 s away
    buyer = signed_in_browser(app, "fresh@example.com")
    buyer.add(products["TEA"], 1)
    assert buyer.checkout().status_code == 303
    smtp.wait_for(1, to="fresh@example.com", timeout=4)  # the hand-off probed (with the backlog) at once


def test_a_fresh_confirmation_goes_out_while_a_backlog_drains(make_app, smtp, products):
    from tests.conftest import signed_in_browser

    app = make_app(SHOP_MAIL_WORKERS=2, SHOP_MAIL_BATCH=10)
    smtp.behave("accept", delay=0.02)  # 600 emails / 2 senders: about 6 s of backlog
    bulk_insert(app, 600)
    buyer = signed_in_browser(app, "fresh@example.com")
    buyer.add(products["TEA"], 1)
    get_dispatcher(app).start()
    smtp.wait_for(50, timeout=30)
    assert buyer.checkout().status_code == 303
    [mail] = smtp.wait_for(1, to="fresh@example.com", timeout=30)
    backlog_before = [m for m in smtp.received() if m.received <= mail.received and m.subject.startswith("backlog")]
    assert len(backlog_before) < 300, len(backlog_before)  # not behind the 600: sent within a batch or two
    smtp.wait_for(601, timeout=60)  # and the backlog still drains


# ---------------------------------------------------------------- the database cannot write
REFUSE_SENT = {
    "sqlite": [
        """CREATE TRIGGER refuse_sent BEFORE UPDATE OF status ON outbox_email WHEN NEW.status = 'sent'
        BEGIN SELECT RAISE(ABORT, 'database or disk is full (test trigger)'); END"""
    ],
    "postgresql": [
        """CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.status = 'sent' THEN RAISE EXCEPTION 'could not extend file (test trigger)'; END IF;
        RETURN NEW; END $$""",
        "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox_email FOR EACH ROW EXECUTE FUNCTION refuse_sent()",
    ],
}
ALLOW_SENT = {"sqlite": ["DROP TRIGGER refuse_sent"], "postgresql": ["DROP TRIGGER refuse_sent ON outbox_email"]}


def run_sql(app, statements: dict[str, list[str]]) -> None:
    with app.app_context():
        for statement in statements[db.engine.dialect.name]:
            db.session.execute(sa.text(statement))
        db.session.commit()


def test_an_outcome_that_cannot_be_written_is_retried_within_the_lease_without_a_spin(make_app, smtp, caplog):
    """A trigger refuses to mark emails sent, as a full disk refuses writes (tests/test_processes.py
    has the full disk itself); the claims still work, so only the recorder sees the trouble."""
    app = make_app(MAIL_TIMEOUT=2.0, SHOP_MAIL_WORKERS=1, SHOP_MAIL_BATCH=5)  # lease: 2 x 2 + 5 + 4 x 2 = 17 s
    run_sql(app, REFUSE_SENT)
    bulk_insert(app, 5)
    pool = get_dispatcher(app)
    with caplog.at_level(logging.INFO, logger="shop.mail"):
        pool.start()
        smtp.wait_for(5)
        wait_until(lambda: pool.database.failures >= 1, 10, "the recorder to fail")
        bulk_insert(app, 10, prefix="later")  # due now, while the outcomes cannot be written
        wait_until(lambda: pool.database.failures >= 3, 20, "the recorder to try three times")
        assert pool.database.failures <= 4  # backing off (0.5, 1, 2 s ...), not spinning
        assert count(app, OutboxEmail, OutboxEmail.attempts == 0) == 15  # nothing recorded...
        assert count(app, OutboxEmail, OutboxEmail.claim_token.is_(None)) == 10  # ...nor claimed meanwhile
        assert len(smtp.received()) == 5
        assert app.test_client().get("/healthz").status_code == 503  # writes fail: not healthy
        run_sql(app, ALLOW_SENT)
        wait_until(lambda: sent(app) == 15, 40, "the outcomes recorded, then the rest sent")
    assert len(smtp.received()) == 15  # nothing sent twice: recorded within the leases
    assert app.test_client().get("/healthz").status_code == 200
    assert attempts_made(app) == 15
    lines = [r.getMessage() for r in caplog.records]
    assert sum("database cannot take writes" in line for line in lines) == 1  # one line per change
    assert sum("database takes writes again" in line for line in lines) == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback per email
