"""Delivery across real processes: gunicorn killed with SIGKILL, stopped with SIGTERM, and
several processes sending from one outbox at once."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop.database import transaction
from shop.extensions import db
from shop.models import OutboxEmail, Product
from tests.conftest import wait_until
from tests.served import ROOT, HttpShopper, ServedShop, outbox_rows
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


def test_killed_while_smtp_is_down_then_restarted_the_email_arrives_once(served, shop_db, smtp, tmp_path):
    smtp.behave("refuse")
    shop = serve(served, shop_db, smtp, tmp_path).start()
    order_id = HttpShopper(shop.url).register("crash@example.com").buy(1)
    wait_until(lambda: outbox_rows(shop_db) == [(1, "pending", 1)], 10, "a first attempt to fail")
    shop.kill()

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path).start()
    [mail] = smtp.wait_for(1, to="crash@example.com", timeout=20)
    assert f"/orders/{order_id}" in mail.text
    wait_until(lambda: outbox_rows(shop_db)[0][1] == "sent", 10, "the row to be marked sent")
    assert len(smtp.received()) == 1


def test_killed_in_the_middle_of_a_send_the_email_is_sent_after_restart(served, shop_db, smtp, tmp_path):
    smtp.behave("hang")  # the send hangs: the row is 'sending' when the process dies
    shop = serve(served, shop_db, smtp, tmp_path, MAIL_TIMEOUT=2).start()
    HttpShopper(shop.url).register("midsend@example.com").buy(1)
    wait_until(lambda: outbox_rows(shop_db) and outbox_rows(shop_db)[0][1] == "sending", 10, "the send to start")
    shop.kill()

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path, MAIL_TIMEOUT=1).start()
    # The claim's lease (2 x MAIL_TIMEOUT + 5 s = 9 s) must run out before anyone may take it.
    smtp.wait_for(1, to="midsend@example.com", timeout=40)
    wait_until(lambda: outbox_rows(shop_db)[0][1:] == ("sent", 2), 10, "the row to be sent on attempt 2")
    assert len(smtp.received()) == 1


def test_sigterm_finishes_the_send_in_progress_and_leaves_the_rest_pending(served, shop_db, smtp, app, tmp_path):
    smtp.behave("hang")
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_WORKERS=1, SHOP_MAIL_RETRY_BASE_SECONDS=0).start(workers=1)
    buyer = HttpShopper(shop.url).register("term@example.com")
    for _ in range(3):
        buyer.buy(1)
    wait_until(lambda: any(status == "sending" for _, status, _ in outbox_rows(shop_db)), 10, "a send to start")
    assert shop.terminate() == 0
    rows = outbox_rows(shop_db)
    assert [status for _, status, _ in rows] == ["pending"] * 3  # nothing left claimed, nothing lost
    assert sum(attempts for _, _, attempts in rows) >= 1

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path).start()
    smtp.wait_for(3, to="term@example.com", timeout=20)
    wait_until(lambda: [s for _, s, _ in outbox_rows(shop_db)] == ["sent"] * 3, 10, "all three rows sent")
    assert len(smtp.received()) == 3


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


EXIT_SCRIPT = """
import sys, time
import sqlalchemy as sa
from shop import create_app
from shop.extensions import db
from shop.mail.dispatcher import get_dispatcher

app = create_app()
get_dispatcher(app).hand_off([1, 2, 3])
with app.app_context():
    while db.session.execute(sa.text("SELECT status FROM outbox_email WHERE id = 1")).scalar_one() != "sending":
        db.session.rollback()
        time.sleep(0.02)
print("first email claimed; the interpreter exits now", flush=True)
"""


def test_at_interpreter_exit_the_pool_stops_claiming_and_finishes_the_send_in_progress(
    served, shop_db, smtp, app, tmp_path
):
    from tests.test_outbox import queue

    smtp.behave("hang")
    queue(app, 3)
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_WORKERS=1, MAIL_TIMEOUT=1)
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], cwd=ROOT, env=shop.env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the interpreter exits now" in done.stdout
    # The send in progress ended (at MAIL_TIMEOUT) and was recorded; the two waiting in
    # memory were never claimed: nothing is left 'sending' for a lease to free.
    assert outbox_rows(shop_db) == [(1, "pending", 1), (2, "pending", 0), (3, "pending", 0)]
