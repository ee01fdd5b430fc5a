"""SHOP_MAIL_DISPATCH=celery: the web process hands ids to Redis, a real Celery worker (a
subprocess) sends them, with the same claim-send-record code as the thread pool.

Needs Redis on 127.0.0.1:6379 (database 15 is used and emptied); skipped without it,
except under CI=true, where that fails the run. A broker that hangs is a plain TCP listener
that never answers (SilentBroker).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import EmailStatus, OutboxEmail
from tests.conftest import add_product, order_id_from, signed_in_browser, wait_until
from tests.served import BIN, ROOT, SilentBroker, free_port

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


@pytest.fixture
def silent_broker() -> Iterator[SilentBroker]:
    broker = SilentBroker()
    yield broker
    broker.close()


def timed_checkouts(app, count: int) -> list[float]:
    buyer = signed_in_browser(app, "timed@example.com")
    product = add_product(app, "Timed Tea", 450)
    seconds = []
    for _ in range(count):
        buyer.add(product, 1)
        started = time.monotonic()
        order_id_from(buyer.checkout())  # the order stands whatever the broker does
        seconds.append(time.monotonic() - started)
    return seconds


@pytest.mark.parametrize("broker", ["refused", "silent"])
def test_a_refused_or_silent_broker_never_holds_checkout_and_the_beat_sweep_sends_later(
    make_app, smtp, worker, caplog, silent_broker, broker
):
    url = f"redis://127.0.0.1:{free_port() if broker == 'refused' else silent_broker.port}/15"
    app = make_app(SHOP_MAIL_DISPATCH="celery", CELERY_BROKER_URL=url)
    seconds = timed_checkouts(app, 3)
    # The request never touches the broker: a silent one held checkout for over 150 s, a
    # refused one for 6 s, when kombu connected inside the request.
    assert max(seconds) < 1.0, seconds
    wait_until(lambda: "not handed to Celery" in caplog.text, 10, "the hand-off thread to give up")
    assert caplog.text.count("not handed to Celery") == 1  # the broker counts as down: no retry per order
    if broker == "silent":
        assert len(silent_broker.accepted) == 1
    worker.start()  # on the real broker; its beat sweeps the outbox every second
    smtp.wait_for(3, to="timed@example.com", subject_contains=ORDER_MAIL, timeout=30)
    wait_until(lambda: email_statuses(app) == [EmailStatus.SENT] * 3, 10, "the rows to be sent")
    assert len(smtp.received(subject_contains=ORDER_MAIL)) == 3
