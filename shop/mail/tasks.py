"""Celery, for shops that send mail from a separate worker (SHOP_MAIL_DISPATCH=celery).

After the commit the web process hands the email's id to the broker (Redis) instead of its
own thread pool; a Celery worker runs the very same `deliver()`. A worker started with
`--beat` also sweeps the outbox every SHOP_MAIL_SWEEP_SECONDS, so an id that never reached
the broker (Redis down at checkout) or a worker killed mid-send is still sent; without beat,
run `flask --app wsgi outbox drain` from cron.

Celery is an optional extra (requirements-celery.txt): only this module imports it, and only
when the setting asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import Celery, Task, shared_task
from flask import Flask, current_app

from shop.mail import outbox
from shop.mail.delivery import deliver

log = logging.getLogger(__name__)

DELIVER = "shop.mail.tasks.deliver_email"
SWEEP = "shop.mail.tasks.sweep_outbox"


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
        beat_schedule={"sweep-outbox": {"task": SWEEP, "schedule": app.config["SHOP_MAIL_SWEEP_SECONDS"]}},
    )
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(name=DELIVER)
def deliver_email(email_id: int) -> str:
    return deliver(email_id)


@shared_task(name=SWEEP)
def sweep_outbox() -> int:
    """Take back abandoned emails and queue every due one; how many were queued."""
    outbox.reclaim_expired(current_app.config["SHOP_MAIL_MAX_ATTEMPTS"])
    ids = outbox.due_ids(1000)
    for email_id in ids:
        deliver_email.delay(email_id)
    return len(ids)


def enqueue_delivery(email_id: int) -> None:
    """Hand an email to the Celery workers. If the broker is unreachable the order still
    stands and the email waits in the outbox for the next sweep: never an error here."""
    try:
        current_app.extensions["celery"].send_task(DELIVER, args=[email_id], retry=False)
    except Exception as error:  # kombu raises several kinds; none of them may fail a checkout
        log.warning("outbox id=%s: not handed to Celery (%s); the sweep will send it", email_id, error)


class CeleryDispatch:
    """SHOP_MAIL_DISPATCH=celery: after the commit the ids go to the broker; a Celery worker
    sends them."""

    mode = "celery"

    def __init__(self, app: Flask) -> None:
        self.app = app
        celery_init_app(app)

    def hand_off(self, email_ids: Iterable[int | None]) -> None:
        for email_id in email_ids:
            if email_id is not None:
                enqueue_delivery(email_id)

    def start(self) -> None:
        """Nothing runs in the background."""

    def stop(self) -> None:
        """Nothing runs in the background."""
