"""Invoices and credit notes (shop/invoices, shop/orders/invoicing.py): an order marked
paid gets the next number of a gap-free sequence (20 payments at once: no gap, no
duplicate), a stored snapshot that never changes, a printable page and a PDF the customer
(or the guest, by the signed link) downloads, attached to the "payment received" email;
a cancellation or a refund after it gets a credit note with its own number."""

from __future__ import annotations

import secrets
import threading

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Invoice, Order, OrderTaxLine
from shop.orders.refunds import refund_payment
from shop.orders.service import change_order_status
from tests.conftest import Browser, order_id_from


def test_a_paid_order_gets_an_invoice_emailed_as_pdf_and_shown_on_its_page(app, products, shopper, smtp):
    order_id = order_id_from((shopper.add(products["MUG"], 2), shopper.checkout())[1])
    assert "Invoice" not in shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    with app.app_context():
        change_order_status(order_id, "paid", None)
        invoice = db.session.execute(sa.select(Invoice)).scalar_one()
        assert (invoice.number, invoice.total_cents, invoice.kind) == ("INV-000001", 2140, "invoice")
        assert invoice.data["customer"]["name"] == "Ada Lovelace"
        assert invoice.data["tax_lines"] == [
            {"rate_bp": 2000, "net_cents": 1783, "tax_cents": 357, "gross_cents": 2140}
        ]
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Payment received")
    assert "INV-000001" in mail.subject
    [pdf] = [part for part in mail.message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "INV-000001.pdf"
    assert pdf.get_content().startswith(b"%PDF")
    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Invoice INV-000001" in page
    html = shopper.get(f"/orders/{order_id}/documents/{invoice.id}").get_data(as_text=True)
    assert "<style" not in html  # the policy (style-src 'self') allows the stylesheet alone
    assert " style=" not in html
    assert "Invoice INV-000001" in html
    assert "Enamel Mug" in html
    assert "€3.57" in html
    download = shopper.get(f"/orders/{order_id}/documents/{invoice.id}/pdf")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data == pdf.get_content()  # the same document, the same bytes


def test_a_guest_downloads_the_invoice_by_the_signed_link_and_others_get_404(app, products, smtp):
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    link = guest.checkout(email="guest@example.com").headers["Location"]
    with app.app_context():
        order_id = db.session.execute(sa.select(Order.id)).scalar_one()
        change_order_status(order_id, "paid", None)
        invoice_id = db.session.execute(sa.select(Invoice.id)).scalar_one()
    page = guest.get(link).get_data(as_text=True)
    assert f"{link}/documents/{invoice_id}/pdf" in page
    assert guest.get(f"{link}/documents/{invoice_id}/pdf").data.startswith(b"%PDF")
    assert guest.get(f"{link}/documents/{invoice_id + 1}/pdf").status_code == 404
    stranger = Browser(app.test_client())
    assert stranger.get(f"/orders/guest/forged/documents/{invoice_id}/pdf").status_code == 404


def test_an_issued_invoice_never_changes(app, products, shopper, smtp):
    order_id = order_id_from((shopper.add(products["TEA"], 1), shopper.checkout())[1])
    with app.app_context():
        change_order_status(order_id, "paid", None)
        invoice = db.session.execute(sa.select(Invoice)).scalar_one()
        invoice.total_cents = 1
        with pytest.raises(ValueError, match="INV-000001 was issued and cannot change"):
            db.session.commit()
        db.session.rollback()


def test_cancelling_or_refunding_an_invoiced_order_issues_credit_notes_of_their_own_sequence(
    app, products, shopper, smtp
):
    first = order_id_from((shopper.add(products["MUG"], 2), shopper.checkout())[1])
    second = order_id_from((shopper.add(products["TEA"], 1), shopper.checkout())[1])
    with app.app_context():
        change_order_status(first, "paid", None)
        change_order_status(second, "paid", None)
        refund_payment(first, 500, "One mug broke")
        change_order_status(second, "cancelled", None, note="Out of tea")
        refund_payment(second, 1740, "Cancelled")  # credited in full already: no second note
        notes = db.session.execute(
            sa.select(Invoice).where(Invoice.kind == "credit_note").order_by(Invoice.id)
        ).scalars()
        got = [(n.number, n.order_id, n.total_cents, n.data["credits"], n.data["reason"]) for n in notes]
    assert got == [
        ("CN-000001", first, 500, "INV-000001", "One mug broke"),
        ("CN-000002", second, 1740, "INV-000002", "Out of tea"),
    ]
    page = shopper.get(f"/orders/{first}").get_data(as_text=True)
    assert "Credit note CN-000001" in page


def _unpaid_orders(app, n: int) -> list[int]:
    with app.app_context():
        orders = [
            Order(
                number=f"T-{i}",
                email=f"c{i}@example.com",
                status="awaiting_payment",
                payment_method="bank_transfer",
                shipping_method="standard",
                full_name=f"C {i}",
                address="1 St",
                city="X",
                postal_code="1",
                country="Y",
                subtotal_cents=1000,
                total_cents=1000,
                tax_cents=167,
                tax_rate_bp=2000,
                checkout_token=secrets.token_hex(16),
                tax_lines=[OrderTaxLine(rate_bp=2000, net_cents=833, tax_cents=167, gross_cents=1000)],
            )
            for i in range(n)
        ]
        db.session.add_all(orders)
        db.session.commit()
        return [o.id for o in orders]


def test_twenty_payments_at_once_number_their_invoices_without_gap_or_duplicate(app, smtp):
    order_ids = _unpaid_orders(app, 20)
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def pay(order_id: int) -> None:
        with app.app_context():
            try:
                start.wait()
                change_order_status(order_id, "paid", None)
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pay, args=(order_id,)) for order_id in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with app.app_context():
        rows = db.session.execute(sa.select(Invoice.sequence, Invoice.number, Invoice.order_id)).all()
    assert sorted(r.sequence for r in rows) == list(range(1, 21))
    assert sorted(r.number for r in rows) == [f"INV-{i:06d}" for i in range(1, 21)]
    assert sorted(r.order_id for r in rows) == sorted(order_ids)
