"""GET|POST /checkout: the order summary, the address form, and placing the order."""

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from shop.cart.service import Cart, lines_total_cents
from shop.checkout import bp
from shop.checkout.forms import CheckoutForm
from shop.checkout.service import CheckoutError, last_shipping_address, new_checkout_token, place_order


def render_checkout(form: CheckoutForm, status: int = 200, problem: str | None = None) -> tuple[str, int]:
    lines = Cart(session).lines()
    return (
        render_template(
            "checkout/checkout.html", form=form, lines=lines, total_cents=lines_total_cents(lines), problem=problem
        ),
        status,
    )


@bp.get("")
@login_required
def show() -> Response | tuple[str, int]:
    if not Cart(session).items():
        flash("Your cart is empty: add something before checking out.", "info")
        return redirect(url_for("cart.show"))
    form = CheckoutForm(formdata=None, checkout_token=new_checkout_token())
    last = last_shipping_address(current_user)
    if last is not None:  # most people ship to the same place again
        form.process(formdata=None, checkout_token=form.checkout_token.data, **vars(last))
    return render_checkout(form)


@bp.post("")
@login_required
def submit() -> Response | tuple[str, int]:
    form = CheckoutForm()
    if not form.validate_on_submit():
        if form.checkout_token.errors:
            form.checkout_token.data = new_checkout_token()
            return render_checkout(
                form, 400, "This form was not recognised; please check it and place the order again."
            )
        return render_checkout(form, 422)
    cart = Cart(session)
    try:
        placed = place_order(current_user, cart.items(), form.shipping_address(), form.checkout_token.data)
    except CheckoutError as error:  # an empty cart, or a line short of stock: nothing was written
        return render_checkout(form, 409, str(error))
    order = placed.order
    if placed.duplicate:
        flash(f"Order {order.number} was already placed; it was not ordered twice.", "info")
    else:
        cart.clear()
        flash(f"Thank you! Your order {order.number} is placed. A confirmation email is on its way.", "success")
    return redirect(url_for("orders.detail", order_id=order.id), 303)
