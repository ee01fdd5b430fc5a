"""Delivery across real processes: gunicorn killed with SIGKILL, stopped with SIGTERM, and
several processes sending from one outbox at once."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from shop.extensions import db
from shop.models import Product
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
    # No connection kept from the address confirmation: the orders' sends open a new one, which hangs.
    shop = serve(
        served,
        shop_db,
        smtp,
        tmp_path,
        SHOP_MAIL_WORKERS=1,
        SHOP_MAIL_RETRY_BASE_SECONDS=0,
        SHOP_MAIL_SMTP_IDLE_SECONDS=0,
    ).start(workers=1)
    buyer = registered(shop, shop_db, "term@example.com")
    smtp.behave("hang")
    for _ in range(3):
        buyer.buy(1)
    wait_until(
        lambda: smtp._held and any(status == "sending" for _, status, _ in outbox_rows(shop_db)), 10, "a send to start"
    )
    assert shop.terminate() == 0
    rows = outbox_rows(shop_db)[1:]  # the orders' confirmations
    assert [status for _, status, _ in rows] == ["pending"] * 3  # nothing left claimed, nothing lost
    assert sum(attempts for _, _, attempts in rows) >= 1

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path).start()
    smtp.wait_for(3, to="term@example.com", subject_contains="Your Swiftcart order", timeout=20)
    wait_until(lambda: [s for _, s, _ in outbox_rows(shop_db)] == ["sent"] * 4, 10, "all four rows sent")
    assert len(smtp.received()) == 4


def test_batch_claims_racing_across_processes_send_each_email_once(served, shop_db, smtp, app, tmp_path):
    """Two gunicorn workers and three `flask outbox drain` processes claim batches of 10 from
    one outbox at once (SQLite, or PostgreSQL with SKIP LOCKED): none sent twice, none left."""
    from tests.test_outbox import bulk_insert

    bulk_insert(app, 400, prefix="bulk")
    smtp.behave("accept", delay=0.005)
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_BATCH=10)
    drains = [shop.flask("outbox", "drain") for _ in range(3)]
    shop.start(workers=2)
    try:
        mails = smtp.wait_for(400, timeout=90)
        assert [drain.wait(timeout=60) for drain in drains] == [0, 0, 0]
    finally:
        for drain in drains:
            if drain.poll() is None:
                drain.kill()
    wait_until(lambda: all(status == "sent" for _, status, _ in outbox_rows(shop_db)), 10, "every row sent")
    ids = Counter(m.message_id for m in smtp.received())
    assert len(ids) == 400
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(f"r{i}@example.com" for i in range(400))
    assert {attempts for _, _, attempts in outbox_rows(shop_db)} == {1}  # no email even claimed twice
    senders = Counter(line.split(" drain: ")[0] for line in shop.log().splitlines() if "this drain: sent" in line)
    assert senders  # the drains took part


def test_killed_with_a_batch_claimed_every_email_is_sent_after_the_lease(served, shop_db, smtp, app, tmp_path):
    from tests.test_outbox import bulk_insert

    smtp.behave("hang")  # the first email of the batch hangs; the other nine wait their turn
    bulk_insert(app, 10, prefix="batch")
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_WORKERS=1, SHOP_MAIL_BATCH=10, MAIL_TIMEOUT=1)
    shop.start(workers=1)
    wait_until(lambda: [s for _, s, _ in outbox_rows(shop_db)] == ["sending"] * 10, 10, "the batch to be claimed")
    shop.kill()

    smtp.behave("accept")
    serve(served, shop_db, smtp, tmp_path, MAIL_TIMEOUT=1).start()
    # The batch's lease (2 x 1 + 5 + 9 x 1 = 16 s) must run out before anyone may take it.
    smtp.wait_for(10, timeout=60)
    wait_until(lambda: [s for _, s, _ in outbox_rows(shop_db)] == ["sent"] * 10, 10, "every row sent")
    assert len(smtp.received()) == 10  # none twice
    # The reclaim counts the attempt each might have made; the send is the next.
    assert {attempts for _, _, attempts in outbox_rows(shop_db)} == {2}


def test_sigterm_stops_claiming_at_once_and_releases_the_batch_untried(served, shop_db, smtp, app, tmp_path):
    from tests.test_outbox import bulk_insert

    smtp.behave("accept", delay=0.5)
    bulk_insert(app, 20, prefix="term")
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_WORKERS=1, SHOP_MAIL_BATCH=10)
    shop.start(workers=1)
    smtp.wait_for(1, timeout=20)
    assert shop.terminate() == 0
    rows = outbox_rows(shop_db)
    sent = [r for r in rows if r[1] == "sent"]
    assert 1 <= len(sent) <= 3  # the one in flight at the signal (and at most the next ones)
    assert all(status in ("sent", "pending") for _, status, _ in rows)  # nothing left claimed
    assert all(attempts == 0 for _, status, attempts in rows if status == "pending")  # released, not charged
    assert len(smtp.received()) == len(sent)


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
import os, sys, time
from shop import create_app
from shop.mail.dispatcher import get_dispatcher

app = create_app()
get_dispatcher(app).hand_off([1, 2, 3])
while not os.path.exists(sys.argv[1]):  # the test says when: a send is in progress
    time.sleep(0.02)
print("the interpreter exits now", flush=True)
"""


def test_at_interpreter_exit_the_pool_stops_claiming_and_finishes_the_send_in_progress(
    served, shop_db, smtp, app, tmp_path
):
    from tests.test_outbox import queue

    smtp.behave("hang")
    queue(app, 3)
    shop = serve(served, shop_db, smtp, tmp_path, SHOP_MAIL_WORKERS=1, MAIL_TIMEOUT=1)
    go = tmp_path / "exit-now"
    script = subprocess.Popen(
        [sys.executable, "-c", EXIT_SCRIPT, str(go)], cwd=ROOT, env=shop.env, stdout=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: smtp._held, 20, "the first email's send to start")
        go.touch()
        assert script.wait(timeout=30) == 0
    finally:
        if script.poll() is None:
            script.kill()
        script.stdout.close()
    # The send in progress ended (at MAIL_TIMEOUT) and was recorded; the two claimed with it
    # were released untried: nothing is left 'sending' for a lease to free, nobody charged.
    assert outbox_rows(shop_db) == [(1, "pending", 1), (2, "pending", 0), (3, "pending", 0)]


# ---------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path: Path, databases) -> Iterator[Path]:
    """A 4 MiB tmpfs to hold the SQLite database, unmounted at the end. Mounting needs root:
    without it the test is skipped here and fails under CI=true."""
    if databases.kind != "sqlite":
        pytest.skip("the database's own disk: SQLite's file (PostgreSQL's disk is the server's)")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs ({done.stderr.strip() or done.returncode}): the full-disk test needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros into a file on `disk` until it is full; the file."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    return filler


def test_a_full_disk_with_emails_in_flight_is_503_no_spin_and_nothing_sent_twice(
    served, shop_db, smtp, app, tmp_path, small_disk
):
    from tests.test_outbox import bulk_insert

    bulk_insert(app, 6, prefix="full")
    with app.app_context():
        db.engine.dispose()
    database = small_disk / "shop.db"
    shutil.copy(shop_db.removeprefix("sqlite:///"), database)
    url = f"sqlite:///{database}"
    smtp.behave("accept", delay=1.0)  # each email is in flight for a second
    # 2 senders x 3 emails; a batch's lease is 2 x 3 + 5 + 2 x 3 = 17 s.
    shop = serve(served, url, smtp, tmp_path, SHOP_MAIL_WORKERS=2, SHOP_MAIL_BATCH=3, MAIL_TIMEOUT=3)
    shop.start(workers=1)
    wait_until(lambda: sum(s == "sending" for _, s, _ in outbox_rows(url)) == 6, 10, "six emails in flight")
    filler = fill(small_disk)
    try:
        wait_until(lambda: shop.health() is None, 10, "/healthz to answer 503")
        log_size = len(shop.log_path.read_bytes())
        threading.Event().wait(3)  # three seconds of a full disk, with emails accepted meanwhile
        grown = shop.log_path.read_bytes()[log_size:].decode(errors="replace")
        assert len(grown) < 5000, grown[-2000:]  # a few lines, not a spin of tracebacks
        assert "Traceback" not in grown
    finally:
        filler.unlink()
    wait_until(lambda: shop.health() is not None, 10, "/healthz to answer 200 again")
    smtp.wait_for(6, timeout=30)
    wait_until(lambda: [s for _, s, _ in outbox_rows(url)] == ["sent"] * 6, 30, "every row marked sent")
    assert len(smtp.received()) == 6  # nothing sent twice: `sent` was written within the leases
    log = shop.log_path.read_text()
    assert log.count("the database cannot take writes") == 1  # one line per change of state
    assert log.count("the database takes writes again") == 1
