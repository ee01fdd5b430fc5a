"""The shop as real processes: gunicorn and `flask outbox drain`, for tests that kill them."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedShop:
    """gunicorn serving wsgi:app (with the repo's gunicorn.conf.py) on a free port."""

    def __init__(self, db_url: str, smtp_port: int, log_path: Path, **settings: Any) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "MAIL_", "DATABASE_"))},
            "SECRET_KEY": "served-test-key-" + "x" * 32,
            "DATABASE_URL": db_url,
            "SHOP_INSTANCE_PATH": str(log_path.parent / "instance"),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "MAIL_DEFAULT_SENDER": "shop@example.com",
            "MAIL_TIMEOUT": "1",
            "SHOP_MAIL_SWEEP_SECONDS": "0.5",
            "SHOP_MAIL_RETRY_BASE_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.update({k: str(v) for k, v in settings.items()})
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workers: int = 2, timeout: float = 30) -> ServedShop:
        cmd = [
            str(BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "-w",
            str(workers),
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{self.port}",
            "wsgi:app",
        ]
        if "--no-control-socket" in subprocess.run([cmd[0], "--help"], capture_output=True, text=True).stdout:
            cmd.insert(1, "--no-control-socket")  # gunicorn >= 27 would share ~/.gunicorn/gunicorn.ctl
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while self.health() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not come up:\n{self.log()}")
            time.sleep(0.05)
        return self

    def health(self) -> dict | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            return json.loads(response.read()) if response.status == 200 else None
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL the master and every worker at once: a crash, nothing gets to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd does on a restart; gunicorn shuts down gracefully."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def flask(self, *args: str) -> subprocess.Popen:
        """Start `flask --app wsgi ARGS` with the same settings (e.g. `outbox drain`)."""
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""


def _sent_untouched(attributes: dict[str, str | None]) -> bool:
    return attributes.get("type") == "hidden" or (attributes.get("type") == "radio" and "checked" in attributes)


class HiddenFields(HTMLParser):
    """The forms of a page: each one's action, hidden inputs (CSRF token, checkout token) and
    checked radio buttons: what a browser sends when nothing is typed."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and a.get("name") and _sent_untouched(a):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""

    @classmethod
    def form(cls, html: str, action: str) -> dict[str, Any]:
        """The form posting to `action` (its query string aside): {"action": ..., "fields": {...}}."""
        parser = cls()
        parser.feed(html)
        for form in parser.forms:
            if form["action"].split("?")[0] == action:
                return form
        raise AssertionError(f"no form posting to {action}; forms: {[f['action'] for f in parser.forms]}")


class HttpShopper:
    """A visitor over real HTTP, filling in forms like a browser."""

    ADDRESS: ClassVar[dict[str, str]] = {
        "full_name": "Ada Lovelace",
        "address": "1 Street",
        "city": "London",
        "postal_code": "N1",
        "country": "GB",
    }

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Connection"] = "close"  # no pooled sockets left open after the test

    def submit(self, page: str, action: str, data: dict[str, Any]) -> requests.Response:
        form = HiddenFields.form(self.session.get(self.base + page, timeout=10).text, action)
        return self.session.post(
            self.base + form["action"], data={**form["fields"], **data}, allow_redirects=False, timeout=10
        )

    def register(self, email: str, password: str = "correct-horse-battery") -> HttpShopper:
        r = self.submit("/auth/register", "/auth/register", {"email": email, "password": password, "confirm": password})
        assert r.status_code == 303, r.text[:500]
        return self

    def buy(self, product_id: int, quantity: int = 1) -> int:
        """Add to the cart and check out; the new order's id."""
        r = self.submit(f"/products/{product_id}", f"/cart/add/{product_id}", {"quantity": quantity})
        assert r.status_code == 303, r.text[:500]
        r = self.submit("/checkout", "/checkout", self.ADDRESS)
        assert r.status_code == 303, r.text[:500]
        return int(r.headers["Location"].rsplit("/", 1)[1])


def outbox_rows(db_url: str) -> list[tuple[int, str, int]]:
    """(id, status, attempts) of every outbox row, read straight from the database."""
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, status, attempts FROM outbox_email ORDER BY id")).all()
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()
