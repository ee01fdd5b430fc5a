"""The WSGI entry point: `gunicorn wsgi:app`, and `flask --app wsgi ...` for commands."""

from shop import create_app

app = create_app()
