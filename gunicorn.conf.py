"""gunicorn settings: `gunicorn wsgi:app` reads this file from the working directory.

Two worker processes with four threads each suit a 1-2 core VPS; the mail pool runs in
every worker, started after the fork (threads do not survive a fork).
"""

import os
import signal

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
# On SIGTERM a worker finishes its requests and its mail sends in progress (each ends
# within MAIL_TIMEOUT); emails not yet claimed stay pending for the next start.
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# gunicorn 27's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl),
# so two shops (or a test run beside a live shop) would fight over it; systemd and
# signals do the job here.
control_socket_disable = True


def _dispatcher(worker):
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", {})
    return extensions.get("swiftcart.mail")


def post_worker_init(worker):
    """Start the mail pool and its start-up sweep now, not at the first request, so a
    restarted worker sends what an earlier one left behind even if nobody visits; and stop
    its claiming the moment the worker is told to stop (SIGTERM), not only once the worker's
    requests have finished (worker_exit): the sends in progress still finish there."""
    dispatcher = _dispatcher(worker)
    if dispatcher is None:
        return
    dispatcher.start()
    request_stop = getattr(dispatcher, "request_stop", None)
    if request_stop is None:
        return
    gunicorns = signal.getsignal(signal.SIGTERM)  # gunicorn's own, set before this hook runs

    def on_sigterm(signum, frame):
        request_stop()  # sets an event: safe here
        if callable(gunicorns):
            gunicorns(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def worker_int(worker):
    """SIGINT or SIGQUIT: gunicorn stops the worker at once; stop claiming first."""
    dispatcher = _dispatcher(worker)
    if dispatcher is not None and hasattr(dispatcher, "request_stop"):
        dispatcher.request_stop()


def worker_exit(server, worker):
    dispatcher = _dispatcher(worker)
    if dispatcher is not None:
        dispatcher.stop()
