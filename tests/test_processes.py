"""Delivery across real processes: gunicorn killed with SIGKILL, stopped with SIGTERM, and
several processes sending from one outbox at once."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop.database import transaction
from shop.extensions import db
from shop.models import OutboxEmail, Product
from tests.conftest import wait_until
from tests.served import HttpShopper, ServedShop, outbox_rows
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow


@pytest.fixture
def shop_db(app, db_url) -> str:
    """This test's migrated database, with one product (id 1) in it; its URL."""
    with app.app_context():
        db.session.add(Product(sku="TEA", name="Assam Tea", price_cents=1250, stock=100))
        db.session.commit()
        db.engine.dispose()
    return db_url


@pytest.fixture
def served(shop_db: str, smtp: SmtpSink, tmp_path: Path) -> Iterator[list[ServedShop]]:
    """Shops started by the test; whatever is still running is killed at the end."""
    shops: list[ServedShop] = []
    yield shops
    for shop in shops:
        shop.kill()


def serve(served: list[ServedShop], shop_db: str, smtp: SmtpSink, tmp_path: Path, **settings) -> ServedShop:
    shop = ServedShop(shop_db, smtp.port, tmp_path / "gunicorn.log", **settings)
    served.append(shop)
    return shop


def registered(shop: ServedShop, shop_db: str, email: str) -> HttpShopper:
    """A shopper who registered, once the email confirming the address (outbox row 1) is sent."""
    shopper = HttpShopper(shop.url).register(email)
    wait_until(lambda: outbox_rows(shop_db) == [(1, "sent", 1)], 10, "the address confirmation to be sent")
    return shopper


def test_killed_while_smtp_is_down_then_restarted_the_email_arrives_once(served, shop_db, smtp, tmp_path):
    shop = serve(served, shop_db, smtp, tmp_path).start()
    shopper = registered(shop, shop_db, "crash@example.com")
    smtp.behave("refuse")
    order_id = shopper.buy(1)
    wait_until(lambda: outbox_rows(shop_db)[1:] == [(2, "pending", 1)], 10, "a first attempt to fail")
    shop.kill()

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path).start()
    [mail] = smtp.wait_for(1, to="crash@example.com", subject_contains="Your Swiftcart order", timeout=20)
    assert f"/orders/{order_id}" in mail.text
    wait_until(lambda: outbox_rows(shop_db)[1][1] == "sent", 10, "the row to be marked sent")
    assert len(smtp.received()) == 2


def test_killed_in_the_middle_of_a_send_the_email_is_sent_after_restart(served, shop_db, smtp, tmp_path):
    shop = serve(served, shop_db, smtp, tmp_path, MAIL_TIMEOUT=2).start()
    shopper = registered(shop, shop_db, "midsend@example.com")
    smtp.behave("hang")  # the send hangs: the row is 'sending' when the process dies
    shopper.buy(1)
    wait_until(lambda: outbox_rows(shop_db)[1:] and outbox_rows(shop_db)[1][1] == "sending", 10, "the send to start")
    shop.kill()

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path, MAIL_TIMEOUT=1).start()
    # The claim's lease (2 x MAIL_TIMEOUT + 5 s = 9 s) must run out before anyone may take it.
    smtp.wait_for(1, to="midsend@example.com", subject_contains="Your Swiftcart order", timeout=40)
    wait_until(lambda: outbox_rows(shop_db)[1][1:] == ("sent", 2), 10, "the row to be sent on attempt 2")
    assert len(smtp.received()) == 2


def test_sigterm_finishes_the_send_in_progress_and_leaves_the_rest_pending(served, shop_db, smtp, app, tmp_path):
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_WORKERS=1, SHOP_MAIL_RETRY_BASE_SECONDS=0).start(workers=1)
    buyer = registered(shop, shop_db, "term@example.com")
    smtp.behave("hang")
    for _ in range(3):
        buyer.buy(1)
    wait_until(lambda: any(status == "sending" for _, status, _ in outbox_rows(shop_db)), 10, "a send to start")
    assert shop.terminate() == 0
    rows = outbox_rows(shop_db)[1:]  # the orders' confirmations
    assert [status for _, status, _ in rows] == ["pending"] * 3  # nothing left claimed, nothing lost
    assert sum(attempts for _, _, attempts in rows) >= 1

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path).start()
    smtp.wait_for(3, to="term@example.com", subject_contains="Your Swiftcart order", timeout=20)
    wait_until(lambda: [s for _, s, _ in outbox_rows(shop_db)] == ["sent"] * 4, 10, "all four rows sent")
    assert len(smtp.received()) == 4


def test_two_gunicorn_workers_and_a_drain_process_send_each_email_once(served, shop_db, smtp, app, tmp_path):
    with app.app_context(), transaction():
        db.session.execute(
            sa.insert(OutboxEmail),
            [
                {
                    "key": f"bulk:{i}",
                    "kind": "test",
                    "recipient": f"r{i}@example.com",
                    "subject": f"Bulk {i}",
                    "text_body": f"Message {i}",
                    "html_body": "",
                    "message_id": f"<bulk-{i}@example.com>",
                }
                for i in range(200)
            ],
        )
    smtp.behave("accept", delay=0.01)
    shop = serve(served, shop_db, smtp, tmp_path)
    drain = shop.flask("outbox", "drain")
    shop.start(workers=2)
    try:
        mails = smtp.wait_for(200, timeout=60)
        assert drain.wait(timeout=60) == 0
    finally:
        if drain.poll() is None:
            drain.kill()
    wait_until(lambda: all(status == "sent" for _, status, _ in outbox_rows(shop_db)), 10, "every row sent")
    ids = Counter(m.message_id for m in smtp.received())
    assert len(ids) == 200
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(f"r{i}@example.com" for i in range(200))
    assert {attempts for _, _, attempts in outbox_rows(shop_db)} == {1}


def test_drain_loop_is_a_worker_that_sends_as_emails_arrive_and_stops_on_sigterm(served, shop_db, smtp, app, tmp_path):
    from tests.test_outbox import queue

    worker = serve(served, shop_db, smtp, tmp_path).flask("outbox", "drain", "--loop")
    try:
        queue(app, 1, prefix="first")
        smtp.wait_for(1, subject_contains="first", timeout=20)
        queue(app, 1, prefix="second")  # arrives while the worker is idle
        smtp.wait_for(1, subject_contains="second", timeout=20)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert [status for _, status, _ in outbox_rows(shop_db)] == ["sent", "sent"]
    assert "stopped: emails not yet claimed stay pending" in (tmp_path / "gunicorn.log").read_text()
