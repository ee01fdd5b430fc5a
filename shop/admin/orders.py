"""/admin/orders: the list (filtered by status, customer, dates) and its CSV export, an
order's page, and moving it to another status (shop/orders/service.py)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import PAGE_SIZE, bp, csv_download
from shop.admin.forms import OrderFilterForm, OrderStatusForm, status_choices
from shop.admin.service import OrderFilter, emails_about, orders_csv
from shop.inputs import paginate
from shop.invoices.pdf import render_pdf
from shop.invoices.service import DocumentNotFound, document_of, documents_of
from shop.models import OrderStatus
from shop.orders.service import (
    OrderNotFound,
    StatusChangeRefused,
    change_order_status,
    get_order,
    how_paid_and_shipped,
    next_statuses,
)
from shop.payment import PAYMENT_METHODS


def _order_filter() -> tuple[OrderFilterForm, OrderFilter]:
    form = OrderFilterForm(request.args)
    form.validate()
    return form, OrderFilter(
        status=form.status.data if form.status.data in list(OrderStatus) else "",
        customer=(form.customer.data or "").strip() if not form.customer.errors else "",
        date_from=form.date_from.data if not form.date_from.errors else None,
        date_to=form.date_to.data if not form.date_to.errors else None,
    )


@bp.get("/orders")
def orders() -> str:
    form, chosen = _order_filter()
    page = paginate(chosen.statement(newest_first=True), PAGE_SIZE)
    payment_labels = {code: m.label for code, m in PAYMENT_METHODS.items()}
    return render_template(
        "admin/orders.html", page=page, form=form, args=request.args.to_dict(), payment_labels=payment_labels
    )


@bp.get("/orders/export.csv")
def orders_export() -> Response:
    _, chosen = _order_filter()
    return csv_download(orders_csv(chosen), "orders.csv")


@bp.get("/orders/<id:order_id>")
def order_detail(order_id: int) -> str:
    try:
        order = get_order(order_id)
    except OrderNotFound:
        abort(404)
    form = OrderStatusForm()
    form.to_status.choices = status_choices(next_statuses(order))
    form.from_status.data = order.status
    return render_template(
        "admin/order_detail.html",
        order=order,
        form=form,
        emails=emails_about(order),
        how=how_paid_and_shipped(order),
        documents=documents_of(order.id),
    )


@bp.get("/orders/<id:order_id>/documents/<id:document_id>/pdf")
def order_document(order_id: int, document_id: int) -> Response:
    """An invoice or credit note of the order, as the customer downloads it."""
    try:
        document = document_of(order_id, document_id)
    except DocumentNotFound:
        abort(404)
    disposition = f'attachment; filename="{document.number}.pdf"'
    return Response(render_pdf(document), mimetype="application/pdf", headers={"Content-Disposition": disposition})


@bp.post("/orders/<id:order_id>/status")
def order_status(order_id: int) -> BaseResponse:
    form = OrderStatusForm()
    form.validate_on_submit()
    to_status = request.form.get("to_status", "")
    if to_status not in list(OrderStatus):
        abort(422, "Choose a status.")
    if form.note.errors:
        abort(422, f"The note: {form.note.errors[0]}")
    seen_status = form.from_status.data or ""
    if seen_status not in list(OrderStatus):
        abort(422, "The form did not say which status you saw: reload the order and choose again.")
    try:
        order = change_order_status(order_id, to_status, current_user, form.note.data or "", seen_status)
    except OrderNotFound:
        abort(404)
    except StatusChangeRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for("admin.order_detail", order_id=order_id), 303)
    flash(f"Order {order.number} is now {order.status_label.lower()}.", "success")
    return redirect(url_for("admin.order_detail", order_id=order_id), 303)
