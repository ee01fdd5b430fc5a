"""The shop as real processes: gunicorn and `flask outbox drain`, for tests that kill them."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_environment(db_url: str, smtp_port: int, instance: Path) -> dict[str, str]:
    """This shell's environment less its shop settings, plus a shop that retries and sweeps
    within a test's patience (the benchmarks make their own: bench/harness.py)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "MAIL_", "DATABASE_"))},
        "SECRET_KEY": "served-test-key-" + "x" * 32,
        "DATABASE_URL": db_url,
        "SHOP_INSTANCE_PATH": str(instance),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_DEFAULT_SENDER": "shop@example.com",
        "MAIL_TIMEOUT": "1",
        "SHOP_MAIL_SWEEP_SECONDS": "0.5",
        "SHOP_MAIL_RETRY_BASE_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
    }


class ServedShop:
    """gunicorn serving wsgi:app (with the repo's gunicorn.conf.py) on a free port.

    The tests' shop: `ServedShop(db_url, smtp_port, log_path, **settings)`; the benchmarks'
    ShopServer (bench/harness.py) serves with the environment they made, from any tree of
    the shop. Started by start() or `with`; `with` stops it at the end (SIGTERM, then
    SIGKILL after `grace` seconds)."""

    grace = 15.0  # seconds a stop waits for a graceful exit before SIGKILL

    def __init__(self, db_url: str, smtp_port: int, log_path: Path, **settings: Any) -> None:
        env = served_environment(db_url, smtp_port, log_path.parent / "instance")
        self._prepare({**env, **{k: str(v) for k, v in settings.items()}}, log_path, ROOT)

    def _prepare(self, env: dict[str, str], log_path: Path, root: Path) -> None:
        """Serve with exactly `env`, from the shop's tree at `root`, logging to `log_path`."""
        self.port, self.log_path, self.root, self.env = free_port(), log_path, root, env
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, workers: int = 2, timeout: float = 30, threads: int = 4) -> ServedShop:
        cmd = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-w", str(workers), "--threads", str(threads)]
        cmd += ["-b", f"127.0.0.1:{self.port}", "wsgi:app"]
        if "--no-control-socket" in subprocess.run([cmd[0], "--help"], capture_output=True, text=True).stdout:
            cmd.insert(1, "--no-control-socket")  # gunicorn >= 27 would share ~/.gunicorn/gunicorn.ctl
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not self.ready(workers):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"gunicorn did not come up:\n{self.log()}")
            time.sleep(0.05)
        return self

    def ready(self, workers: int) -> bool:
        """Whether the shop serves: /healthz answers 200."""
        return self.health() is not None

    def health(self, token: str | None = None) -> dict | None:
        """/healthz's JSON (with the details when `token` is SHOP_HEALTH_TOKEN); None unless 200."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/healthz", headers={"Authorization": f"Bearer {token}"} if token else {})
            response = conn.getresponse()
            return json.loads(response.read()) if response.status == 200 else None
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def __enter__(self) -> ServedShop:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM the master and its workers, SIGKILL them if they outlive `grace` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the master and every worker at once: a crash, nothing gets to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def terminate(self, timeout: float = 45) -> int:
        """SIGTERM, as systemd does on a restart; gunicorn shuts down gracefully. The deadline
        outlasts gunicorn's own graceful_timeout (30 s): a worker that hangs is then killed by
        gunicorn and shows as its exit code and log, not as this wait timing out."""
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
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""


class SilentBroker:
    """A listener that accepts connections and never answers: a broker that hangs (a stand-in
    for Redis stuck behind a firewall or in a failover; it speaks no protocol at all)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.server.accept()[0])

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


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
