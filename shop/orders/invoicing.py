"""Where the order's life issues documents (shop/invoices): the invoice when an order is
paid, with the "payment received" email carrying its PDF; a credit note when an invoiced
order is cancelled or refunded. Each runs in the transaction of the change it documents,
so a change that rolls back issues nothing and takes no number."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.extensions import db, get_settings
from shop.invoices.pdf import render_pdf
from shop.invoices.service import issue_credit_note, issue_invoice
from shop.mail.messages import enqueue_email
from shop.mail.mime import Attachment
from shop.models import Invoice, Order, OrderStatus
from shop.orders.links import order_link
from shop.payment import payment_method
from shop.pricing import TaxLine


def documents_for_move(order: Order, to_status: str, paid_now: bool, note: str) -> int | None:
    """Inside the transaction of a status move of `order` (after its UPDATE): the invoice
    when the move recorded the payment (`paid_now`: it set paid_at), a credit note when it
    cancelled an invoiced order. The "payment received" email's outbox id, or None (a
    move that records a payment sends no other email, so it fits the move's one email)."""
    if paid_now:
        db.session.refresh(order)  # paid_at as the UPDATE wrote it, for the invoice
        return invoice_paid_order(order)
    if to_status == OrderStatus.CANCELLED:
        credit_cancelled_order(order, note.strip())
    return None


def _payment_label(order: Order) -> str:
    method = payment_method(order.payment_method)
    return method.label if method else ""


def pdf_attachment(document: Invoice) -> Attachment:
    """The document's PDF as an email attachment named after its number."""
    return Attachment(f"{document.number}.pdf", "application/pdf", render_pdf(document))


def invoice_paid_order(order: Order) -> int | None:
    """Issue the invoice of `order`, just marked paid (its row read again in this
    transaction), and enqueue the customer's "payment received" email with the PDF
    attached. The email's id (None if it was enqueued before)."""
    invoice = issue_invoice(order, _payment_label(order))
    return enqueue_email(
        "payment_received",
        key=f"payment_received:{order.id}",
        recipient=order.email,
        subject=_(
            "Payment received for %(shop)s order %(number)s: invoice %(invoice)s",
            shop=get_settings().shop_name,
            number=order.number,
            invoice=invoice.number,
        ),
        files=(pdf_attachment(invoice),),
        order=order,
        invoice=invoice,
        order_url=order_link(order),
    )


def credit_cancelled_order(order: Order, note: str) -> Invoice | None:
    """A credit note of all its invoice has not credited yet, for an invoiced order just
    cancelled; None for an order without an invoice."""
    return issue_credit_note(order, None, note or _("Order cancelled."), _payment_label(order))


def credit_refund(
    order: Order, amount_cents: int, reason: str, refund_id: int, by_rate: tuple[TaxLine, ...] | None = None
) -> Invoice | None:
    """A credit note of a refund of an invoiced order (at most what is left to credit);
    `by_rate`: the amount per rate, when known (a return)."""
    return issue_credit_note(order, amount_cents, reason or _("Refund."), _payment_label(order), refund_id, by_rate)
