"""GET /cart, POST /cart/add/<id>, /cart/update/<id>, /cart/remove/<id>."""

from flask import abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from shop.cart import bp
from shop.cart.forms import RemoveFromCartForm, UpdateCartForm
from shop.cart.service import Cart, CartError, Item, TooManyOfOne, describe_removed, lines_by_rate, lines_total_cents
from shop.catalog.pages import render_product
from shop.catalog.seo import product_url
from shop.catalog.variants import variant_of
from shop.extensions import db, get_settings
from shop.forms import AddVariantToCartForm, add_to_cart_form
from shop.models import Product
from shop.pricing import totals_by_rate


def render_cart(status: int = 200, errors: dict[Item, str] | None = None) -> tuple[str, int]:
    cart = Cart(session)
    lines = cart.lines()
    if cart.removed:
        flash(describe_removed(cart.removed), "info")
    settings = get_settings()
    total = lines_total_cents(lines)
    return (
        render_template(
            "cart/cart.html",
            lines=lines,
            total_cents=total,
            # The goods alone: shipping and vouchers are chosen at checkout.
            goods=totals_by_rate(lines_by_rate(lines), 0, 0, settings.prices_include_tax),
            errors=errors or {},
            update_form=UpdateCartForm(formdata=None),
            remove_form=RemoveFromCartForm(formdata=None),
        ),
        status,
    )


@bp.get("")
def show() -> tuple[str, int]:
    return render_cart()


@bp.post("/add/<id:product_id>")
def add(product_id: int) -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    product = db.get_or_404(Product, product_id)
    if not product.active:
        return render_template("errors/error.html", code=404, message=_("This product is not sold any more.")), 404
    form = add_to_cart_form(product)
    if not form.validate_on_submit():
        return render_product(product, form, 422)
    variant = variant_of(product, form.variant.data) if isinstance(form, AddVariantToCartForm) else None
    try:
        quantity = Cart(session).add(product, form.quantity.data, variant)
    except CartError as error:
        form.quantity.errors = [str(error)]
        return render_product(product, form, _status(error))
    name = f"{product.name} — {variant.option}" if variant is not None else product.name
    flash(
        _(
            "Added %(quantity)d × %(name)s to your cart (now %(total)d).",
            quantity=form.quantity.data,
            name=name,
            total=quantity,
        ),
        "success",
    )
    return redirect(product_url(product), 303)


@bp.post("/update/<id:product_id>")
def update(product_id: int) -> Response | tuple[str, int]:
    product = db.get_or_404(Product, product_id)
    form = UpdateCartForm()
    item = Item(product_id, form.variant.data if form.variant.data and not form.variant.errors else None)
    variant = variant_of(product, item.variant_id)
    if item not in Cart(session).items() or (item.variant_id is not None and variant is None):
        abort(404, _("This product is not in your cart."))
    if not form.validate_on_submit():
        return render_cart(422, {item: form.quantity.errors[0] if form.quantity.errors else _("Invalid form.")})
    try:
        quantity = Cart(session).set(product, form.quantity.data, variant)
    except CartError as error:
        return render_cart(_status(error), {item: str(error)})
    name = f"{product.name} — {variant.option}" if variant else product.name
    message = (
        _("%(name)s: quantity now %(quantity)d.", name=name, quantity=quantity)
        if quantity
        else _("Removed %(name)s.", name=name)
    )
    flash(message, "success")
    return redirect(url_for("cart.show"), 303)


def _status(error: CartError) -> int:
    """422 for a quantity no cart takes; 409 for one the product or the cart cannot take now."""
    return 422 if isinstance(error, TooManyOfOne) else 409


@bp.post("/remove/<id:product_id>")
def remove(product_id: int) -> Response | tuple[str, int]:
    form = RemoveFromCartForm()
    if not form.validate_on_submit():
        return render_cart(400)
    Cart(session).remove(Item(product_id, form.variant.data or None))
    flash(_("Removed from your cart."), "success")
    return redirect(url_for("cart.show"), 303)
