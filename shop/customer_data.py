"""Everything the shop holds about a person, as one JSON document (GDPR art. 15, the right
of access, and art. 20, data portability): their account, saved addresses, orders with
their lines, status history and refunds, and the emails the shop sent or will send them.
The admin downloads it at /admin/customers (owner only).

Which rows are the person's is decided with the erasure (shop/privacy.py records_of), so
an export shows what an erasure would erase. Left out: the password hash and session token
(secrets, not data about the person), and the emails' built bytes (the bodies are there).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import Address, Order, OutboxEmail, Refund, utcnow
from shop.privacy import records_of

FORMAT_VERSION = 1  # counts up when a field is renamed or removed


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None  # naive UTC in the database


def export_customer(email: str, shop_name: str) -> dict[str, Any]:
    """The export for this email address (any case): a dict of JSON types, shaped

        {"format": 1, "shop": str, "email": str, "exported_at": "2026-11-30T11:00:00Z",
         "account": {...} | None, "addresses": [...], "orders": [{..., "lines": [...],
         "status_history": [...], "refunds": [...]}], "emails": [...]}

    Amounts are integers in the currency's minor units (`*_cents`), times ISO 8601 UTC.
    An address the shop knows nothing of gives None and empty lists. Reads only.
    """
    held = records_of(email)
    user = held.user
    account = None
    addresses: list[dict[str, Any]] = []
    if user is not None:
        account = {
            "email": user.email,
            "role": user.role,
            "created_at": _when(user.created_at),
            "email_confirmed_at": _when(user.email_confirmed_at),
        }
        saved = db.session.execute(sa.select(Address).where(Address.user_id == user.id).order_by(Address.id)).scalars()
        addresses = [
            {
                "full_name": a.full_name,
                "address": a.address,
                "city": a.city,
                "postal_code": a.postal_code,
                "country": a.country,
                "is_default": a.is_default,
                "created_at": _when(a.created_at),
            }
            for a in saved
        ]
    orders = list(
        db.session.execute(
            sa.select(Order)
            .where(held.orders)
            .options(selectinload(Order.lines), selectinload(Order.status_changes))
            .order_by(Order.id)
        ).scalars()
    )
    refunds: dict[int, list[Refund]] = defaultdict(list)  # one query for all the orders' refunds
    for refund in db.session.execute(
        sa.select(Refund).where(Refund.order_id.in_([o.id for o in orders])).order_by(Refund.id)
    ).scalars():
        refunds[refund.order_id].append(refund)
    emails = db.session.execute(sa.select(OutboxEmail).where(held.emails).order_by(OutboxEmail.id)).scalars()
    return {
        "format": FORMAT_VERSION,
        "shop": shop_name,
        "email": email.strip(),
        "exported_at": _when(utcnow()),
        "account": account,
        "addresses": addresses,
        "orders": [_order(o, refunds[o.id]) for o in orders],
        "emails": [
            {
                "kind": e.kind,
                "recipient": e.recipient,
                "subject": e.subject,
                "status": e.status,
                "created_at": _when(e.created_at),
                "sent_at": _when(e.sent_at),
                "text_body": e.text_body,
            }
            for e in emails
        ],
    }


def _order(order: Order, refunds: list[Refund]) -> dict[str, Any]:
    return {
        "number": order.number,
        "created_at": _when(order.created_at),
        "status": order.status,
        "email": order.email,
        "full_name": order.full_name,
        "address": order.address,
        "city": order.city,
        "postal_code": order.postal_code,
        "country": order.country,
        "payment_method": order.payment_method,
        "shipping_method": order.shipping_method,
        "voucher_code": order.voucher_code,
        "subtotal_cents": order.subtotal_cents,
        "discount_cents": order.discount_cents,
        "shipping_cents": order.shipping_cents,
        "tax_cents": order.tax_cents,
        "tax_rate_bp": order.tax_rate_bp,
        "prices_include_tax": order.prices_include_tax,
        "total_cents": order.total_cents,
        "paid_at": _when(order.paid_at),
        "lines": [
            {"sku": line.sku, "name": line.name, "unit_price_cents": line.unit_price_cents, "quantity": line.quantity}
            for line in order.lines
        ],
        "status_history": [
            {"from": c.from_status, "to": c.to_status, "at": _when(c.created_at), "note": c.note}
            for c in order.status_changes
        ],
        "refunds": [
            {"amount_cents": r.amount_cents, "status": r.status, "reason": r.reason, "created_at": _when(r.created_at)}
            for r in refunds
        ],
    }
