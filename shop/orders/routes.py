"""GET /orders (My Orders), GET /orders/<id> (only your own), and a guest's signed link;
an order's invoice and credit notes, as a page and a PDF, reached the same two ways."""

from flask import Response, abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from shop.extensions import get_settings
from shop.inputs import paginate
from shop.invoices.pdf import render_pdf
from shop.invoices.service import DocumentNotFound, document_of, documents_of
from shop.language import pickup_address
from shop.models import Invoice, Order, RefundStatus
from shop.orders import bp
from shop.orders.links import GuestLinkExpired, order_from_guest_token
from shop.orders.refunds import order_refunds
from shop.orders.returns import returns_of
from shop.orders.service import OrderNotFound, how_paid_and_shipped, order_of, orders_of


@bp.get("")
@login_required
def index() -> str:
    return render_template("orders/index.html", page=paginate(orders_of(current_user), 20))


@bp.get("/<id:order_id>")
@login_required
def detail(order_id: int) -> str:
    try:
        order = order_of(current_user, order_id)
    except OrderNotFound:
        abort(404)  # not 403: another shopper's order number must not be confirmed to exist
    return render_order(order)


@bp.get("/guest/<token>")
def guest_detail(token: str) -> tuple[str, int] | str:
    """The page a guest reaches from the link in the confirmation email."""
    try:
        order = order_from_guest_token(token)
    except GuestLinkExpired:
        message = _(
            "This order link has expired. Create an account with the email address you ordered with "
            "to see the order in My Orders."
        )
        return render_template("errors/error.html", code=410, message=message), 410
    if order is None:
        abort(404)
    return render_order(order, token)


def render_order(order: Order, token: str | None = None) -> str:
    """The order's page; `token`: a guest's signed link, which the documents' links carry."""
    how = how_paid_and_shipped(order)
    documents = []
    for doc in documents_of(order.id):
        if token is None:
            ids = {"order_id": order.id, "document_id": doc.id}
            links = url_for("orders.document", **ids), url_for("orders.document_download", **ids)
        else:
            ids = {"token": token, "document_id": doc.id}
            links = url_for("orders.guest_document", **ids), url_for("orders.guest_document_download", **ids)
        documents.append((doc, *links))
    return render_template(
        "orders/detail.html",
        order=order,
        how=how,
        documents=documents,
        returns=returns_of(order.id),
        refunds=[r for r in order_refunds(order.id) if r.status == RefundStatus.REFUNDED],
        payment_instructions=how.instructions(),
        pickup_address=pickup_address(get_settings()),
    )


def _document(order: Order, document_id: int) -> Invoice:
    try:
        return document_of(order.id, document_id)
    except DocumentNotFound:
        abort(404)


def document_page(order: Order, document_id: int, pdf_url: str, back_url: str) -> str:
    """An invoice or credit note of `order` as a printable page."""
    document = _document(order, document_id)
    return render_template(
        "invoices/document.html", document=document, d=document.data, pdf_url=pdf_url, back_url=back_url
    )


def document_pdf(order: Order, document_id: int) -> Response:
    """An invoice or credit note of `order` as a PDF download, named after its number."""
    document = _document(order, document_id)
    return Response(
        render_pdf(document),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.number}.pdf"'},
    )


@bp.get("/<id:order_id>/documents/<id:document_id>")
@login_required
def document(order_id: int, document_id: int) -> str:
    order = _own_order(order_id)
    pdf_url = url_for("orders.document_download", order_id=order_id, document_id=document_id)
    return document_page(order, document_id, pdf_url, url_for("orders.detail", order_id=order_id))


@bp.get("/<id:order_id>/documents/<id:document_id>/pdf")
@login_required
def document_download(order_id: int, document_id: int) -> Response:
    return document_pdf(_own_order(order_id), document_id)


@bp.get("/guest/<token>/documents/<id:document_id>")
def guest_document(token: str, document_id: int) -> str:
    order = _guest_order(token)
    pdf_url = url_for("orders.guest_document_download", token=token, document_id=document_id)
    return document_page(order, document_id, pdf_url, url_for("orders.guest_detail", token=token))


@bp.get("/guest/<token>/documents/<id:document_id>/pdf")
def guest_document_download(token: str, document_id: int) -> Response:
    return document_pdf(_guest_order(token), document_id)


def _own_order(order_id: int) -> Order:
    try:
        return order_of(current_user, order_id)
    except OrderNotFound:
        abort(404)


def _guest_order(token: str) -> Order:
    try:
        order = order_from_guest_token(token)
    except GuestLinkExpired:
        abort(410)
    if order is None:
        abort(404)
    return order
