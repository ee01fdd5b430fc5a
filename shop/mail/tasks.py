"""Celery, for shops that send mail from a separate worker (SHOP_MAIL_DISPATCH=celery).

After the commit the web process hands the email's id to the broker (Redis), from a thread
of its own, never the request's (CeleryDispatch); a Celery worker runs the very same
`deliver()`. A worker started with
`--beat` also sweeps the outbox every SHOP_MAIL_SWEEP_SECONDS, so an id that never reached
the broker (Redis down at checkout) or a worker killed mid-send is still sent; without beat,
run `flask --app wsgi outbox drain` from cron.

Celery is an optional extra (requirements-celery.txt): only this module imports it, and only
when the setting asks for it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable

from celery import Celery, Task, shared_task
from flask import Flask

from shop.extensions import get_settings
from shop.mail import outbox
from shop.mail.delivery import deliver

log = logging.getLogger(__name__)

DELIVER = "shop.mail.tasks.deliver_email"
SWEEP = "shop.mail.tasks.sweep_outbox"
HANDOFF_TIMEOUT = 0.5  # seconds to connect to the broker, and for each of its answers
BROKER_DOWN_SECONDS = 10.0  # after a failed hand-off, ids are left to the beat sweep this long


def celery_init_app(app: Flask) -> Celery:
    """A Celery app configured from the Flask app, whose tasks run in an app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=app.config["CELERY_BROKER_URL"],
        task_ignore_result=True,
        # A task is acknowledged after it ran: a worker killed mid-send gets it redelivered
        # (the claim in the outbox keeps that from sending twice).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={"sweep-outbox": {"task": SWEEP, "schedule": get_settings(app).mail_sweep_seconds}},
    )
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(name=DELIVER)
def deliver_email(email_id: int) -> str:
    return deliver(email_id)


@shared_task(name=SWEEP)
def sweep_outbox() -> int:
    """Take back abandoned emails and queue every due one; how many were queued."""
    outbox.reclaim_expired(get_settings().mail_max_attempts)
    ids = outbox.due_ids(1000)
    for email_id in ids:
        deliver_email.delay(email_id)
    return len(ids)


class CeleryDispatch:
    """SHOP_MAIL_DISPATCH=celery: after the commit the ids go to the broker; a Celery worker
    sends them.

    The request only appends the ids to a bounded queue in memory: a thread of the web
    process publishes them (kombu retries a refused connection for seconds and waits on a
    silent broker for as long as the socket allows, celery/celery#4296, celery/kombu#735,
    so never on a request thread), with connect and socket timeouts of HANDOFF_TIMEOUT.
    After a failure it remembers the broker as down for BROKER_DOWN_SECONDS and drops the
    ids meanwhile: they are in the outbox, and the beat sweep queues them.
    """

    mode = "celery"

    def __init__(self, app: Flask) -> None:
        self.app = app
        celery_init_app(app)
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # the thread stays in the parent

    def _reset(self) -> None:
        self._ids: deque[int] = deque(maxlen=1000)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.down_until = 0.0  # time.monotonic() until which the broker counts as down

    def hand_off(self, email_ids: Iterable[int | None]) -> None:
        """Queue the ids for the publishing thread; never waits for the broker."""
        self._ids.extend(i for i in email_ids if i is not None)
        self.start()
        self._wake.set()

    def start(self) -> None:
        if self._thread is None and not self._stopping.is_set():
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._publish_loop, name="celery-handoff", daemon=True)
                    self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * HANDOFF_TIMEOUT + 1)

    def _publish_loop(self) -> None:
        celery_app: Celery = self.app.extensions["celery"]
        connection = None
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            while self._ids and not self._stopping.is_set():
                if time.monotonic() < self.down_until:
                    self._ids.clear()  # the beat sweep queues them once the broker is back
                    break
                email_id = self._ids.popleft()
                try:
                    if connection is None:
                        connection = celery_app.connection_for_write(
                            connect_timeout=HANDOFF_TIMEOUT,
                            transport_options={
                                "socket_timeout": HANDOFF_TIMEOUT,
                                "socket_connect_timeout": HANDOFF_TIMEOUT,
                            },
                        )
                    celery_app.send_task(DELIVER, args=[email_id], connection=connection, retry=False)
                except Exception as error:  # kombu raises several kinds; none may stop this thread
                    self.down_until = time.monotonic() + BROKER_DOWN_SECONDS
                    log.warning(
                        "outbox id=%s: not handed to Celery (%s: %s); the broker counts as down for %g s, "
                        "the beat sweep sends what waits meanwhile",
                        email_id,
                        type(error).__name__,
                        error,
                        BROKER_DOWN_SECONDS,
                    )
                    if connection is not None:
                        connection.release()
                        connection = None
        if connection is not None:
            connection.release()
