"""A stand-in for the part of Stripe's API the shop uses, because Stripe itself cannot run
here (no network, no account). It speaks Stripe's real protocol as the official `stripe`
package uses it: form-encoded POST bodies with bracketed keys, Bearer authentication, the
Idempotency-Key header (a repeated key answers with the first response, as Stripe does),
JSON objects and Stripe's error bodies. Endpoints:

    POST /v1/checkout/sessions             make a Checkout Session (url: a page of this server)
    GET  /v1/checkout/sessions/<id>        one session
    POST /v1/checkout/sessions/<id>/expire expire an open session
    POST /v1/refunds                       refund (part of) a PaymentIntent
    GET  /pay/<id>, POST /pay/<id>         the hosted payment page: paying completes the
                                           session, sends the signed webhook, and redirects
                                           to its success_url, as Stripe Checkout does

Every request is recorded (`requests`). `behave(mode)` makes the API hang until released
("slow"), drop the connection ("drop"), act on the next request but lose its answer
("lose_answer_once": the client retries), or answer errors ("fail": 500, "refuse": 402).
Webhook events are signed exactly as Stripe signs them: `t=<unix time>,v1=<HMAC-SHA256
of "<t>.<body>" with the endpoint's secret>` (`signed_event`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]  # the form body's bracketed keys as sent: line_items[0][quantity]
    idempotency_key: str | None
    authorization: str | None


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends with `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class StripeStandIn:
    webhook_secret: str = "whsec_test_standin"
    webhook_url: str = ""  # where the payment page sends its events (a served shop)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    mode: str = "normal"
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._replies: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> StripeStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def behave(self, mode: str) -> None:
        """normal, slow (hang until stop), drop (close without answering), lose_answer_once,
        fail (500), refuse (402)."""
        self.mode = mode

    def calls(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # ------------------------------------------------------------ what the shopper does
    def pay(self, session_id: str, payment_status: str = "paid") -> dict[str, Any]:
        """The shopper pays on the page: the session completes (a bank debit: 'unpaid')."""
        session = self.sessions[session_id]
        session.update(status="complete", payment_status=payment_status, payment_intent=f"pi_test_{next(self._ids)}")
        return session

    def expire(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        session.update(status="expired")
        return session

    def event(self, kind: str, session_id: str, event_id: str | None = None) -> bytes:
        """The body of a webhook event about the session as it is now."""
        body = {
            "id": event_id or f"evt_test_{next(self._ids)}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "type": kind,
            "data": {"object": dict(self.sessions[session_id])},
        }
        return json.dumps(body).encode()

    def signed_event(self, kind: str, session_id: str, event_id: str | None = None) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of the event, signed as Stripe signs it."""
        payload = self.event(kind, session_id, event_id)
        return payload, {"Stripe-Signature": sign(payload, self.webhook_secret), "Content-Type": "application/json"}

    # ------------------------------------------------------------ the API
    def answer(self, method: str, path: str, params: dict[str, str], key: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if key is not None and key in self._replies:
                return self._replies[key]
            reply = self._answer(method, path, params)
            if key is not None and reply[0] < 500:
                self._replies[key] = reply
            return reply

    def _answer(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._new_session(params)
        found = re.fullmatch(r"/v1/checkout/sessions/([^/]+)(/expire)?", path)
        if found and found.group(1) in self.sessions:
            session = self.sessions[found.group(1)]
            if found.group(2) and method == "POST":
                if session["status"] != "open":
                    return _error(
                        400, "invalid_request_error", f"Only open sessions can be expired: {session['status']}"
                    )
                session["status"] = "expired"
            return 200, session
        if found:
            return _error(404, "invalid_request_error", f"No such checkout.session: '{found.group(1)}'")
        if method == "POST" and path == "/v1/refunds":
            return self._new_refund(params)
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _new_session(self, params: dict[str, str]) -> dict[str, Any]:
        n = next(self._ids)
        total = 0
        for i in itertools.count():
            if f"line_items[{i}][quantity]" not in params:
                break
            total += int(params[f"line_items[{i}][price_data][unit_amount]"]) * int(
                params[f"line_items[{i}][quantity]"]
            )
        session_id = f"cs_test_{n:04d}standin"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "status": "open",
            "payment_status": "unpaid",
            "mode": params.get("mode"),
            "amount_total": total,
            "currency": params.get("line_items[0][price_data][currency]", "eur"),
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "expires_at": int(params.get("expires_at", "0")),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "metadata": {"order_number": params.get("metadata[order_number]")},
            "payment_intent": None,
            "url": f"{self.url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return session

    def _new_refund(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.mode == "refuse":
            return _error(402, "invalid_request_error", "Charge has already been refunded.")
        paid = {s["payment_intent"]: s for s in self.sessions.values() if s["payment_intent"]}
        intent = params.get("payment_intent", "")
        if intent not in paid:
            return _error(404, "invalid_request_error", f"No such payment_intent: '{intent}'")
        done = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        amount = int(params.get("amount", paid[intent]["amount_total"] - done))
        if done + amount > paid[intent]["amount_total"]:
            return _error(400, "invalid_request_error", "Refund amount is greater than unrefunded amount on charge")
        refund = {
            "id": f"re_test_{next(self._ids)}",
            "object": "refund",
            "amount": amount,
            "payment_intent": intent,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return 200, refund


def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message}}


def _handler(standin: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _api(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = urlsplit(self.path).path
            if path.startswith("/pay/"):
                return self._page(method, path.removeprefix("/pay/"), dict(parse_qsl(body)))
            params = dict(parse_qsl(body, keep_blank_values=True))
            key = self.headers.get("Idempotency-Key")
            standin.requests.append(Recorded(method, path, params, key, self.headers.get("Authorization")))
            if standin.mode == "slow":
                standin.release.wait(30)
                return
            if standin.mode == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if standin.mode == "lose_answer_once":  # done, but the answer never reaches the client
                standin.mode = "normal"
                standin.answer(method, path, params, key)
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if standin.mode == "fail":
                status, reply = _error(500, "api_error", "Something went wrong on Stripe's end.")
            else:
                status, reply = standin.answer(method, path, params, key)
            extra = {"Idempotency-Key": key} if key else {}
            self._send(status, json.dumps(reply).encode(), "application/json", extra)

        def _page(self, method: str, session_id: str, form: dict[str, str]) -> None:
            session = standin.sessions.get(session_id)
            if session is None:
                return self._send(404, b"no such session", "text/plain")
            if method == "GET":
                amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
                page = (
                    f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pay (stand-in)</title></head>'
                    f"<body><main><h1>Stripe stand-in: pay {amount}</h1>"
                    f'<form method="post"><label>Card number <input name="card" value="4242424242424242">'
                    f'</label><button type="submit">Pay {amount}</button></form></main></body></html>'
                )
                return self._send(200, page.encode(), "text/html; charset=utf-8")
            standin.pay(session_id)
            payload, headers = standin.signed_event("checkout.session.completed", session_id)
            answer = requests.post(standin.webhook_url, data=payload, headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            self._send(303, b"", "text/plain", {"Location": session["success_url"]})

        def do_GET(self) -> None:
            self._api("GET")

        def do_POST(self) -> None:
            self._api("POST")

    return Handler
