"""The shop owner's pages under /admin (is_admin only: see require_admin in __init__.py).

Every change is a POST with a CSRF token that ends with a flash message and a redirect.
"""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import bp
from shop.admin.forms import (
    ActionForm,
    CsvImportForm,
    OrderFilterForm,
    OrderStatusForm,
    ProductForm,
    VoucherForm,
    product_form_data,
    status_choices,
)
from shop.admin.service import (
    OrderFilter,
    StatusChangeRefused,
    VoucherCodeTaken,
    change_order_status,
    create_voucher,
    emails_needing_attention,
    low_stock_products,
    orders_csv,
    sales_by_day,
    sales_chart,
)
from shop.auth.links import hide_live_links
from shop.catalog.images import ImageRefused, read_upload, store_product_image
from shop.catalog.importer import ImportFailed, import_products, products_csv
from shop.catalog.photos import forget_upload
from shop.catalog.search import search_products
from shop.catalog.service import (
    ProductChanged,
    ProductNotFound,
    ProductValues,
    SkuTaken,
    save_product,
    set_product_active,
)
from shop.checkout.payment import PAYMENT_METHODS
from shop.checkout.service import how_paid_and_shipped
from shop.checkout.vouchers import describe_voucher
from shop.database import like_pattern, transaction
from shop.extensions import db
from shop.inputs import paginate
from shop.mail.dispatcher import get_dispatcher
from shop.mail.outbox import counts_by_status, retry_failed
from shop.models import EmailStatus, Order, OrderStatus, OutboxEmail, Product, Voucher, utcnow

PAGE_SIZE = 25


# ---------------------------------------------------------------- dashboard
@bp.get("")
def dashboard() -> str:
    sales = sales_by_day(30)
    today = utcnow().date()
    week_start = today - timedelta(days=today.weekday())
    this_week = [s for s in sales if s.day >= week_start]
    threshold = current_app.config["SHOP_LOW_STOCK_THRESHOLD"]
    return render_template(
        "admin/dashboard.html",
        today=sales[-1],
        week_orders=sum(s.orders for s in this_week),
        week_revenue_cents=sum(s.revenue_cents for s in this_week),
        chart=sales_chart(sales),
        sales=sales,
        low_stock=low_stock_products(threshold),
        threshold=threshold,
        emails=emails_needing_attention(),
        outbox=counts_by_status(),
    )


# ---------------------------------------------------------------- products
@bp.get("/products")
def products() -> str:
    q = request.args.get("q", "").strip()[:100]
    show = request.args.get("show", "all")
    statement = sa.select(Product).options(selectinload(Product.category)).order_by(Product.name, Product.id)
    statement = search_products(statement, q)
    if show == "active":
        statement = statement.where(Product.active.is_(True))
    elif show == "inactive":
        statement = statement.where(Product.active.is_(False))
    elif show == "low":
        threshold = sa.func.coalesce(Product.low_stock_threshold, current_app.config["SHOP_LOW_STOCK_THRESHOLD"])
        statement = statement.where(Product.stock <= threshold)
    page = paginate(statement, PAGE_SIZE)
    return render_template("admin/products.html", page=page, q=q, show=show, action_form=ActionForm())


@bp.route("/products/new", methods=["GET", "POST"])
def product_new() -> BaseResponse | tuple[str, int]:
    return _edit_product(None)


@bp.route("/products/<id:product_id>", methods=["GET", "POST"])
def product_edit(product_id: int) -> BaseResponse | tuple[str, int]:
    return _edit_product(db.get_or_404(Product, product_id))


def _edit_product(product: Product | None) -> BaseResponse | tuple[str, int]:
    form = ProductForm(data=product_form_data(product) if product else {"stock": 0})  # what is posted wins
    if product is not None:
        form.current_sku = product.sku
        if not form.is_submitted():
            form.set_seen(product)
    if not form.validate_on_submit():
        return _product_page(form, product, 422 if form.errors else 200)
    new_image = None
    if form.image.data:
        try:
            new_image = store_product_image(read_upload(form.image.data.stream))
        except ImageRefused as error:
            form.image.errors = [str(error)]
            return _product_page(form, product, 422)
    values = ProductValues(
        sku=form.sku.data,
        name=form.name.data,
        description=form.description.data or "",
        price_cents=form.price_cents,
        stock=form.stock.data,
        low_stock_threshold=form.low_stock_threshold.data,
        category=form.category.data or "",
    )
    try:
        saved = save_product(product.id if product else None, values, form.seen_version(), new_image)
    except (SkuTaken, ProductChanged, ProductNotFound) as error:
        if new_image:
            forget_upload(new_image)
        if isinstance(error, ProductNotFound):
            abort(404)
        if isinstance(error, SkuTaken):
            form.sku.errors = ["Another product has this SKU."]
            return _product_page(form, product, 409)
        changes = form.rebase(error.current)  # the admin's edits kept, the rest as it is now
        if new_image:
            changes.append("Choose the image again.")
        return _product_page(form, error.current, 409, changes)
    if new_image and new_image.notes:
        flash(" ".join(new_image.notes), "info")
    flash(f"{'Created' if product is None else 'Saved'} {saved.product.name}.", "success")
    return redirect(url_for("admin.product_edit", product_id=saved.product.id), 303)


def _product_page(
    form: ProductForm, product: Product | None, status: int, changes: list[str] | None = None
) -> tuple[str, int]:
    page = render_template(
        "admin/product_form.html", form=form, product=product or Product(), is_new=product is None, changes=changes
    )
    return page, status


@bp.post("/products/<id:product_id>/active")
def product_active(product_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    active = request.form.get("active") == "1"
    try:
        name = set_product_active(product_id, active)
    except ProductNotFound:
        abort(404)
    flash(f"{name} is {'on sale again' if active else 'no longer sold'}.", "success")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("admin.products"), 303)


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.route("/products/import", methods=["GET", "POST"])
def products_import() -> BaseResponse | tuple[str, int]:
    form = CsvImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        if not form.file.data:
            errors = ["Choose a CSV file."]
        else:
            try:
                text = form.file.data.stream.read().decode("utf-8-sig")
                result = import_products(io.StringIO(text, newline=""))
            except UnicodeDecodeError:
                errors = ["The file is not UTF-8 text; save it as CSV (UTF-8)."]
            except ImportFailed as failure:
                errors = failure.errors
            else:
                flash(f"Imported {result.created} new and updated {result.updated} product(s).", "success")
                return redirect(url_for("admin.products"), 303)
    status = 422 if errors else 200
    return render_template("admin/products_import.html", form=form, errors=errors), status


@bp.get("/products/export.csv")
def products_export() -> Response:
    rows = db.session.execute(
        sa.select(Product).options(selectinload(Product.category)).order_by(Product.sku)
    ).scalars()
    return _csv_download(products_csv(list(rows)), "products.csv")


def _csv_download(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- orders
def _order_filter() -> tuple[OrderFilterForm, OrderFilter]:
    form = OrderFilterForm(request.args)
    form.validate()
    return form, OrderFilter(
        status=form.status.data if form.status.data in OrderStatus.ALL else "",
        customer=(form.customer.data or "").strip() if not form.customer.errors else "",
        date_from=form.date_from.data if not form.date_from.errors else None,
        date_to=form.date_to.data if not form.date_to.errors else None,
    )


@bp.get("/orders")
def orders() -> str:
    form, chosen = _order_filter()
    statement = chosen.apply(
        sa.select(Order).options(selectinload(Order.user), selectinload(Order.lines)).order_by(Order.id.desc())
    )
    page = paginate(statement, PAGE_SIZE)
    payment_labels = {code: m.label for code, m in PAYMENT_METHODS.items()}
    return render_template(
        "admin/orders.html", page=page, form=form, args=request.args.to_dict(), payment_labels=payment_labels
    )


@bp.get("/orders/export.csv")
def orders_export() -> Response:
    _, chosen = _order_filter()
    statement = chosen.apply(
        sa.select(Order).options(selectinload(Order.user), selectinload(Order.lines)).order_by(Order.id)
    )
    return _csv_download(orders_csv(list(db.session.execute(statement).scalars())), "orders.csv")


@bp.get("/orders/<id:order_id>")
def order_detail(order_id: int) -> str:
    order = db.get_or_404(Order, order_id)
    form = OrderStatusForm()
    form.to_status.choices = status_choices(order.next_statuses())
    form.from_status.data = order.status
    emails = db.session.execute(
        sa.select(OutboxEmail).where(OutboxEmail.key.like(f"%:{order.id}")).order_by(OutboxEmail.id)
    ).scalars()
    how = how_paid_and_shipped(order)
    return render_template(
        "admin/order_detail.html",
        order=order,
        form=form,
        emails=list(emails),
        payment_label=how.payment_label,
        shipping_label=how.shipping_label,
    )


@bp.post("/orders/<id:order_id>/status")
def order_status(order_id: int) -> BaseResponse:
    form = OrderStatusForm()
    form.validate_on_submit()
    to_status = request.form.get("to_status", "")
    if to_status not in OrderStatus.ALL:
        abort(422, "Choose a status.")
    if form.note.errors:
        abort(422, f"The note: {form.note.errors[0]}")
    seen_status = form.from_status.data or ""
    if seen_status not in OrderStatus.ALL:
        abort(422, "The form did not say which status you saw: reload the order and choose again.")
    try:
        order = change_order_status(order_id, to_status, current_user, form.note.data or "", seen_status)
    except StatusChangeRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for("admin.order_detail", order_id=order_id), 303)
    flash(f"Order {order.number} is now {order.status_label.lower()}.", "success")
    return redirect(url_for("admin.order_detail", order_id=order_id), 303)


# ---------------------------------------------------------------- vouchers
@bp.route("/vouchers", methods=["GET", "POST"])
def vouchers() -> BaseResponse | tuple[str, int]:
    """The vouchers, newest first, and a form for a new one."""
    form = VoucherForm()
    status = 200
    if form.validate_on_submit():
        try:
            voucher = create_voucher(
                code=form.code.data,
                kind=form.kind.data,
                amount=form.amount_value,
                min_basket_cents=form.min_basket_cents,
                valid_from=form.valid_from.data,
                valid_until=form.valid_until.data,
                usage_limit=form.usage_limit.data,
            )
        except VoucherCodeTaken:
            form.code.errors = ["A voucher with this code exists already."]
            status = 409
        else:
            flash(f"Voucher {voucher.code} created.", "success")
            return redirect(url_for("admin.vouchers"), 303)
    elif form.errors:
        status = 422
    rows = db.session.execute(sa.select(Voucher).order_by(Voucher.id.desc())).scalars()
    currency = current_app.config["SHOP_CURRENCY"]
    return render_template(
        "admin/vouchers.html",
        vouchers=[(v, describe_voucher(v, currency)) for v in rows],
        form=form,
        action_form=ActionForm(),
    ), status


@bp.post("/vouchers/<id:voucher_id>/active")
def voucher_active(voucher_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    voucher = db.get_or_404(Voucher, voucher_id)
    active = request.form.get("active") == "1"
    with transaction():
        voucher.active = active
    flash(f"Voucher {voucher.code} is {'active again' if active else 'switched off'}.", "success")
    return redirect(url_for("admin.vouchers"), 303)


# ---------------------------------------------------------------- emails
@bp.get("/emails")
def emails() -> str:
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    q = request.args.get("q", "").strip()[:254]
    statement = sa.select(OutboxEmail).order_by(OutboxEmail.id.desc())
    if status in EmailStatus.ALL:
        statement = statement.where(OutboxEmail.status == status)
    if kind:
        statement = statement.where(OutboxEmail.kind == kind)
    if q:
        statement = statement.where(OutboxEmail.recipient.ilike(like_pattern(q), escape="\\"))
    kinds = db.session.execute(sa.select(OutboxEmail.kind).distinct().order_by(OutboxEmail.kind)).scalars()
    page = paginate(statement, PAGE_SIZE)
    return render_template(
        "admin/emails.html",
        page=page,
        status=status,
        kind=kind,
        q=q,
        kinds=list(kinds),
        statuses=EmailStatus.ALL,
        counts=counts_by_status(),
        action_form=ActionForm(),
    )


@bp.get("/emails/<id:email_id>")
def email_detail(email_id: int) -> str:
    email = db.get_or_404(OutboxEmail, email_id)
    # Reset, claim and confirmation links act for whoever holds them: shown without their token.
    text_body = hide_live_links(email.text_body)
    return render_template("admin/email_detail.html", email=email, text_body=text_body, action_form=ActionForm())


@bp.get("/emails/<id:email_id>/html")
def email_html(email_id: int) -> Response:
    """The email's HTML on its own, for the preview frame: sandboxed, no scripts, nothing
    fetched from elsewhere, so whatever it contains cannot act in the admin's session."""
    email = db.get_or_404(OutboxEmail, email_id)
    response = Response(hide_live_links(email.html_body or "<p>(no HTML part)</p>"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/emails/<id:email_id>/resend")
def email_resend(email_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    email = db.get_or_404(OutboxEmail, email_id)
    if retry_failed([email.id]):
        get_dispatcher().hand_off([email.id])
        flash(f"Email to {email.recipient} queued to be sent again.", "success")
    else:
        flash(f"Only a failed email can be resent; this one is {email.status}.", "error")
    return redirect(url_for("admin.email_detail", email_id=email.id), 303)
