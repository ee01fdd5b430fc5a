"""/admin/orders: the list (filtered by status, customer, dates) and its CSV export, an
order's page, and moving it to another status (shop/orders/service.py)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import PAGE_SIZE, bp, csv_download
from shop.admin.access import staff_allowed
from shop.admin.forms import ActionForm, OrderFilterForm, OrderStatusForm, status_choices
from shop.admin.service import OrderFilter, emails_about, orders_csv
from shop.audit import trail_of
from shop.extensions import get_settings
from shop.inputs import paginate
from shop.invoices.pdf import render_pdf
from shop.invoices.service import DocumentNotFound, document_of, documents_of
from shop.language import in_sentence
from shop.models import OrderStatus
from shop.money import format_money
from shop.orders.refunds import RefundRefused, order_refunds, refundable_cents
from shop.orders.returns import ReturnRefused, record_return, returned_quantities, returns_of
from shop.orders.service import (
    OrderNotFound,
    StatusChangeRefused,
    change_order_status,
    get_order,
    how_paid_and_shipped,
    next_statuses,
)
from shop.payment import PAYMENT_METHODS
from shop.payment.method import RefundFailed


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
@staff_allowed
def orders() -> str:
    form, chosen = _order_filter()
    page = paginate(chosen.statement(newest_first=True), PAGE_SIZE)
    payment_labels = {code: m.label for code, m in PAYMENT_METHODS.items()}
    return render_template(
        "admin/orders.html", page=page, form=form, args=request.args.to_dict(), payment_labels=payment_labels
    )


@bp.get("/orders/export.csv")
@staff_allowed
def orders_export() -> Response:
    _, chosen = _order_filter()
    return csv_download(orders_csv(chosen), "orders.csv")


@bp.get("/orders/<id:order_id>")
@staff_allowed
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
        trail=trail_of("order", order.id),
        documents=documents_of(order.id),
        returns=returns_of(order.id),
        returned=returned_quantities(order.id),
        refundable=refundable_cents(order.id),
        refunds=order_refunds(order.id),
        action_form=ActionForm(),
    )


@bp.get("/orders/<id:order_id>/documents/<id:document_id>/pdf")
@staff_allowed
def order_document(order_id: int, document_id: int) -> Response:
    """An invoice or credit note of the order, as the customer downloads it."""
    try:
        document = document_of(order_id, document_id)
    except DocumentNotFound:
        abort(404)
    disposition = f'attachment; filename="{document.number}.pdf"'
    return Response(render_pdf(document), mimetype="application/pdf", headers={"Content-Disposition": disposition})


@bp.post("/orders/<id:order_id>/status")
@staff_allowed
def order_status(order_id: int) -> BaseResponse:
    form = OrderStatusForm()
    form.validate_on_submit()
    to_status = request.form.get("to_status", "")
    if to_status not in list(OrderStatus):
        abort(422, _("Choose a status."))
    if form.note.errors:
        abort(422, _("The note: %(problem)s", problem=form.note.errors[0]))
    seen_status = form.from_status.data or ""
    if seen_status not in list(OrderStatus):
        abort(422, _("The form did not say which status you saw: reload the order and choose again."))
    try:
        order = change_order_status(order_id, to_status, current_user, form.note.data or "", seen_status)
    except OrderNotFound:
        abort(404)
    except (StatusChangeRefused, RefundRefused, RefundFailed) as refused:  # the order stays as it was
        flash(str(refused), "error")
        return redirect(url_for("admin.order_detail", order_id=order_id), 303)
    flash(
        _("Order %(number)s is now %(status)s.", number=order.number, status=in_sentence(order.status_label)), "success"
    )
    return redirect(url_for("admin.order_detail", order_id=order_id), 303)


MAX_RETURN_QUANTITY = 100_000


def _return_quantities(order_id: int) -> dict[int, int]:
    """{order line id: quantity} from the form's `qty-<line id>` fields (empty: 0).
    422 for what is not a whole number from 0."""
    quantities = {}
    for name, value in request.form.items():
        if not name.startswith("qty-"):
            continue
        line_id, text = name[4:], value.strip() or "0"
        if not (line_id.isascii() and line_id.isdigit() and len(line_id) < 10):
            abort(422, _("The form names an item that is not part of this order."))
        if not (text.isascii() and text.isdigit() and int(text[:7]) <= MAX_RETURN_QUANTITY):
            abort(422, _("Enter how many came back as a whole number from 0."))
        quantities[int(line_id)] = int(text)
    return quantities


@bp.post("/orders/<id:order_id>/returns")
@staff_allowed
def order_return(order_id: int) -> BaseResponse:
    """Record a return of some quantities of the order's lines, refund it, restock if chosen."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, "The form expired: reload the page and try again.")
    quantities = _return_quantities(order_id)
    reason = request.form.get("reason", "").strip()
    if len(reason) > 500:
        abort(422, _("The reason: at most 500 characters."))
    try:
        get_order(order_id)
        done = record_return(
            order_id,
            quantities,
            restock=request.form.get("restock") == "1",
            refund_shipping=request.form.get("refund_shipping") == "1",
            reason=reason,
            by=current_user,
        )
    except OrderNotFound:
        abort(404)
    except (ReturnRefused, RefundFailed) as refused:
        flash(str(refused), "error")
        return redirect(url_for("admin.order_detail", order_id=order_id), 303)
    flash(
        _(
            "Return recorded and %(amount)s refunded.",
            amount=format_money(done.amount_cents, get_settings().currency, get_settings().locale),
        ),
        "success",
    )
    return redirect(url_for("admin.order_detail", order_id=order_id), 303)
