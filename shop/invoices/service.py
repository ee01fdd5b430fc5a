"""Issuing invoices and credit notes, in the caller's transaction.

Numbers: one counter row per kind (invoice_counter), taken by

    INSERT INTO invoice_counter (kind, next_number) VALUES (?, 2)
    ON CONFLICT (kind) DO UPDATE SET next_number = invoice_counter.next_number + 1
    RETURNING next_number

(the first document of a kind makes its row: a new database holds no rows, so a backup
imports into it) in the same transaction as the change that issues the document (an order marked paid, a
refund recorded). The statement locks the row until that transaction ends (PostgreSQL's row
lock; SQLite lets one writer at a time), so concurrent payments take numbers one after
the other; a transaction that rolls back gives its number back with everything else. So
the numbers have no gap, and none is used twice (the unique (kind, sequence) stands
guard). A database sequence would not do: PostgreSQL's nextval is never rolled back.

An invoice is issued once per order, when it is paid (or handed over, when paid on
handover). A credit note is issued for a refund or a cancellation of an invoiced order,
for at most what its invoice has not credited yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shop.extensions import db, get_settings
from shop.invoices.snapshot import credit_note_data, invoice_data
from shop.models import DocumentKind, Invoice, InvoiceCounter, Order
from shop.pricing import TaxLine, split_gross


class DocumentNotFound(Exception):
    """No such invoice or credit note (or not of this order)."""


def take_number(kind: DocumentKind) -> tuple[int, str]:
    """The next number of `kind`, in the caller's transaction: (sequence, "INV-000042")."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(InvoiceCounter).values(kind=kind.value, next_number=2)
    statement = statement.on_conflict_do_update(
        index_elements=[InvoiceCounter.kind], set_={"next_number": InvoiceCounter.next_number + 1}
    ).returning(InvoiceCounter.next_number)
    sequence = db.session.execute(statement).scalar_one() - 1
    return sequence, f"{kind.prefix}{sequence:06d}"


def invoice_of(order_id: int) -> Invoice | None:
    """The order's invoice; None before it was paid (or for an order paid before invoices)."""
    return db.session.execute(
        sa.select(Invoice).where(Invoice.order_id == order_id, Invoice.kind == DocumentKind.INVOICE)
    ).scalar_one_or_none()


def documents_of(order_id: int) -> list[Invoice]:
    """The order's invoice and credit notes, in the order they were issued."""
    return list(
        db.session.execute(sa.select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.id)).scalars()
    )


def document_of(order_id: int, document_id: int) -> Invoice:
    """Document `document_id` of order `order_id`. Raises DocumentNotFound."""
    document = db.session.get(Invoice, document_id)
    if document is None or document.order_id != order_id:
        raise DocumentNotFound(document_id)
    return document


def issue_invoice(order: Order, payment_label: str) -> Invoice:
    """The invoice of `order` (just marked paid), numbered and stored, in the caller's
    transaction; the one it has if it was issued before."""
    existing = invoice_of(order.id)
    if existing is not None:
        return existing
    sequence, number = take_number(DocumentKind.INVOICE)
    invoice = Invoice(
        kind=DocumentKind.INVOICE,
        sequence=sequence,
        number=number,
        order_id=order.id,
        total_cents=order.total_cents,
        data=invoice_data(order, get_settings(), payment_label) | {"number": number},
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def uncredited_cents(invoice: Invoice) -> int:
    """What of `invoice` no credit note has given back yet, in cents."""
    credited = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.total_cents), 0)).where(
            Invoice.order_id == invoice.order_id, Invoice.kind == DocumentKind.CREDIT_NOTE
        )
    ).scalar_one()
    return invoice.total_cents - credited


def issue_credit_note(
    order: Order,
    amount_cents: int | None,
    reason: str,
    payment_label: str,
    refund_id: int | None = None,
    by_rate: tuple[TaxLine, ...] | None = None,
) -> Invoice | None:
    """A credit note of `amount_cents` (None: all that is left) against the order's
    invoice, per rate as `by_rate` says when it adds up to the amount credited, else
    shared among the rates as the invoice's gross was (shop/pricing.py split_gross), in
    the caller's transaction. None when the order has no invoice or nothing is left to
    credit (a cancellation credited it all before its refund came)."""
    invoice = invoice_of(order.id)
    if invoice is None:
        return None
    left = uncredited_cents(invoice)
    amount = left if amount_cents is None else min(amount_cents, left)
    if amount <= 0:
        return None
    gross = {line["rate_bp"]: line["gross_cents"] for line in invoice.data["tax_lines"]}
    lines = split_gross(amount, gross)
    if by_rate is not None and sum(line.gross_cents for line in by_rate) == amount:
        lines = by_rate
    sequence, number = take_number(DocumentKind.CREDIT_NOTE)
    data = credit_note_data(order, get_settings(), payment_label, invoice.number, reason, lines)
    note = Invoice(
        kind=DocumentKind.CREDIT_NOTE,
        sequence=sequence,
        number=number,
        order_id=order.id,
        refund_id=refund_id,
        total_cents=amount,
        data=data | {"number": number},
    )
    db.session.add(note)
    db.session.flush()
    return note
