"""The Celery worker's entry point, as wsgi.py is gunicorn's:

    celery -A shop.tasks worker --beat      # --beat: also sweep the outbox on a schedule

It builds the app with the same settings as the web processes (DATABASE_URL, MAIL_*,
CELERY_BROKER_URL...). The tasks themselves are in shop/mail/tasks.py.
"""

from shop import create_app
from shop.mail.tasks import celery_init_app

flask_app = create_app()
celery = flask_app.extensions.get("celery") or celery_init_app(flask_app)
