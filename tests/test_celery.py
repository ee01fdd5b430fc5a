"""SHOP_MAIL_DISPATCH=celery: the web process hands ids to Redis, a real Celery worker (a
subprocess) sends them, with the same claim-send-record code as the thread pool.

Needs Redis on 127.0.0.1:6379 (database 15 is used and emptied); skipped without it,
except under CI=true, where that fails the run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import EmailStatus, OutboxEmail
from tests.conftest import add_product, order_id_from, signed_in_browser, wait_until
from tests.served import BIN, ROOT, free_port

pytestmark = pytest.mark.slow
BROKER = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_broker() -> str:
    try:
        import redis

        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.ping()
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis on 127.0.0.1:6379 is needed for the Celery tests: {error}")
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable: {error}")
    client.flushdb()
    client.close()
    return BROKER


class Worker:
    """`celery -A shop.tasks worker --beat` in a subprocess, with the test's settings."""

    def __init__(self, db_url: str, smtp_port: int, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.log = tmp_path / "celery.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "MAIL_", "DATABASE_", "CELERY_"))},
            "SECRET_KEY": "celery-test-key-" + "x" * 32,
            "DATABASE_URL": db_url,
            "SHOP_INSTANCE_PATH": str(tmp_path / "worker-instance"),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "MAIL_DEFAULT_SENDER": "shop@example.com",
            "MAIL_TIMEOUT": "2",
            "SHOP_MAIL_DISPATCH": "celery",
            "SHOP_MAIL_SWEEP_SECONDS": "1",
            "SHOP_MAIL_RETRY_BASE_SECONDS": "0.2",
            "CELERY_BROKER_URL": BROKER,
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        cmd = [
            str(BIN / "celery"),
            "-A",
            "shop.tasks",
            "worker",
            "--beat",
            "--pool",
            "threads",
            "-c",
            "2",
            "--loglevel",
            "INFO",
            "-s",
            str(self.tmp_path / "beat-schedule"),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def worker(db_url, smtp, tmp_path, redis_broker) -> Iterator[Worker]:
    w = Worker(db_url, smtp.port, tmp_path)
    yield w
    w.stop()


def email_statuses(app) -> list[str]:
    """The order confirmations' states (registering also emails a link to confirm the address)."""
    with app.app_context():
        statement = sa.select(OutboxEmail.status).where(OutboxEmail.kind == "order_confirmation")
        return list(db.session.execute(statement.order_by(OutboxEmail.id)).scalars())


ORDER_MAIL = "Your Swiftcart order"


def test_a_celery_worker_delivers_the_confirmation(make_app, smtp, worker):
    worker.start()
    app = make_app(SHOP_MAIL_DISPATCH="celery", CELERY_BROKER_URL=BROKER)
    buyer = signed_in_browser(app, "celery@example.com")
    buyer.add(add_product(app, "Celery Tea", 450), 1)
    order_id = order_id_from(buyer.checkout())
    [mail] = smtp.wait_for(1, to="celery@example.com", subject_contains=ORDER_MAIL, timeout=30)
    assert f"/orders/{order_id}" in mail.text
    wait_until(lambda: email_statuses(app) == [EmailStatus.SENT], 10, "the row to be sent")
    line = "outbox id=2 to=celery@example.com attempt=1 outcome=sent"  # id 1: the address confirmation
    wait_until(lambda: line in worker.log.read_text(), 10, "the worker to log the send")


def test_worker_down_during_checkout_then_started_delivers(make_app, smtp, worker):
    app = make_app(SHOP_MAIL_DISPATCH="celery", CELERY_BROKER_URL=BROKER)
    buyer = signed_in_browser(app, "later@example.com")
    buyer.add(add_product(app, "Patient Tea", 450), 1)
    order_id_from(buyer.checkout())  # the id waits in Redis: nobody is listening yet
    assert email_statuses(app) == [EmailStatus.PENDING]
    worker.start()
    smtp.wait_for(1, to="later@example.com", subject_contains=ORDER_MAIL, timeout=30)
    wait_until(lambda: email_statuses(app) == [EmailStatus.SENT], 10, "the row to be sent")
    assert len(smtp.received(subject_contains=ORDER_MAIL)) == 1


def test_broker_unreachable_at_checkout_the_beat_sweep_sends_it(make_app, smtp, worker, caplog):
    dead_broker = f"redis://127.0.0.1:{free_port()}/15"  # nothing listens there
    app = make_app(SHOP_MAIL_DISPATCH="celery", CELERY_BROKER_URL=dead_broker)
    buyer = signed_in_browser(app, "swept@example.com")
    buyer.add(add_product(app, "Swept Tea", 450), 1)
    order_id_from(buyer.checkout())  # the order stands although the hand-off failed
    assert "not handed to Celery" in caplog.text
    worker.start()  # its beat sweeps the outbox every second
    smtp.wait_for(1, to="swept@example.com", subject_contains=ORDER_MAIL, timeout=30)
    wait_until(lambda: email_statuses(app) == [EmailStatus.SENT], 10, "the row to be sent")
    assert len(smtp.received(subject_contains=ORDER_MAIL)) == 1
