"""What an invoice or credit note says, fixed when it is issued: a plain dict (stored as
JSON in Invoice.data), so that a later change of the shop's settings, a product, a tax
rate or the customer's address changes no document that was issued."""

from __future__ import annotations

from typing import Any

from config import Settings
from shop.countries import country_name
from shop.models import Order
from shop.pricing import TaxLine


def _address(*parts: str) -> list[str]:
    return [part for part in parts if part]


def snapshot(order: Order, settings: Settings, payment_label: str) -> dict[str, Any]:
    """The parts every document of `order` shows: the shop, the customer, the order, the
    payment; amounts in cents, times as ISO 8601 UTC."""
    return {
        "currency": settings.currency,
        "tax_name": settings.tax_name,
        "prices_include_tax": order.prices_include_tax,
        "shop": {
            "name": settings.shop_name,
            "address": [line.strip() for line in settings.invoice_address.split("|") if line.strip()],
            "vat_id": settings.vat_id,
        },
        "customer": {
            "name": order.full_name,
            "email": order.email,
            "address": _address(
                order.address, f"{order.postal_code} {order.city}".strip(), country_name(order.country, settings.locale)
            ),
        },
        "order": {"number": order.number, "placed_at": order.created_at.isoformat(timespec="seconds")},
        "payment": {
            "method": str(payment_label),  # a lazy translation: the text as issued
            "paid_at": order.paid_at.isoformat(timespec="seconds") if order.paid_at else "",
        },
    }


def invoice_data(order: Order, settings: Settings, payment_label: str) -> dict[str, Any]:
    """An invoice of the whole order: its lines as bought, discount, shipping, tax per rate."""
    return snapshot(order, settings, payment_label) | {
        "lines": [
            {
                "name": line.title,  # "Name — option" for a variant
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "total_cents": line.subtotal_cents,
                "tax_rate_bp": line.tax_rate_bp,
            }
            for line in order.lines
        ],
        "subtotal_cents": order.subtotal_cents,
        "discount_cents": order.discount_cents,
        "shipping_cents": order.shipping_cents,
        "tax_lines": [_tax_line(t) for t in order.tax_lines],
        "tax_cents": order.tax_cents,
        "total_cents": order.total_cents,
    }


def credit_note_data(
    order: Order, settings: Settings, payment_label: str, invoice_number: str, reason: str, lines: tuple[TaxLine, ...]
) -> dict[str, Any]:
    """A credit note against `invoice_number`: the amount given back, per rate (`lines`,
    gross amounts with their tax), and why. Prices on it include tax."""
    total = sum(line.gross_cents for line in lines)
    return snapshot(order, settings, payment_label) | {
        "prices_include_tax": True,
        "credits": invoice_number,
        "reason": reason,
        "lines": [],
        "subtotal_cents": total,
        "discount_cents": 0,
        "shipping_cents": 0,
        "tax_lines": [_tax_line(t) for t in lines if t.gross_cents],
        "tax_cents": sum(line.tax_cents for line in lines),
        "total_cents": total,
    }


def _tax_line(line: Any) -> dict[str, int]:
    return {
        "rate_bp": line.rate_bp,
        "net_cents": line.net_cents,
        "tax_cents": line.tax_cents,
        "gross_cents": line.gross_cents,
    }
