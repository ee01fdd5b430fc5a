"""GET|POST /checkout: the order summary, shipping, payment, voucher, and placing the order.

Signed-in shoppers order as themselves; guests (SHOP_GUEST_CHECKOUT) give an email address
and reach their order through the signed link in its confirmation email.
"""

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.cart.service import (
    Cart,
    CartLine,
    describe_removed,
    describe_shortfall,
    lines_by_rate,
    lines_total_cents,
)
from shop.checkout import bp
from shop.checkout.errors import CheckoutError, FormAlreadyUsed, MethodNotOffered
from shop.checkout.forms import CheckoutForm, GuestCheckoutForm, VoucherForm
from shop.checkout.service import Customer, checkout_address, new_checkout_token, place_order
from shop.checkout.shown import PriceChanged, Shown
from shop.extensions import get_settings, limiter, login_manager
from shop.models import Voucher
from shop.orders.links import guest_order_token
from shop.payment import PaymentMethod, offered_payment_methods, payment_method
from shop.pricing import quote
from shop.shipping import ShippingOption, offered_shipping_options
from shop.vouchers import VoucherError, describe_voucher, usable_voucher, voucher_discount

VOUCHER_KEY = "voucher_code"  # the applied code, in the session until the order is placed


def _new_form(**data: str) -> CheckoutForm:
    form_class = CheckoutForm if current_user.is_authenticated else GuestCheckoutForm
    return form_class(formdata=None, checkout_token=new_checkout_token(), **data)


def _applied_voucher(subtotal_cents: int) -> tuple[Voucher | None, str | None]:
    """The voucher in the session if it still applies, else (None, why not)."""
    code = session.get(VOUCHER_KEY)
    if not code:
        return None, None
    try:
        return usable_voucher(code, subtotal_cents), None
    except VoucherError as error:
        return None, str(error)


def render_checkout(
    form: CheckoutForm, status: int = 200, problem: str | None = None, voucher_form: VoucherForm | None = None
) -> tuple[str, int]:
    settings = get_settings()
    cart = Cart(session)
    lines = cart.lines()
    if cart.removed:
        flash(describe_removed(cart.removed), "info")
    subtotal = lines_total_cents(lines)
    voucher, voucher_problem = _applied_voucher(subtotal)
    discount = voucher_discount(voucher, subtotal) if voucher else 0
    shipping = offered_shipping_options(settings)
    payment = offered_payment_methods(settings)
    chosen = next((o for o in shipping if o.code == form.shipping_method.data), shipping[0])
    by_rate = lines_by_rate(lines)
    totals_by_shipping = {o.code: quote(subtotal, o, discount, settings, by_rate) for o in shipping}
    # The form carries what this page shows, whatever the form it came from carried.
    form.shown.data = Shown.on_page(lines, totals_by_shipping).encode()
    return (
        render_template(
            "checkout/checkout.html",
            form=form,
            lines=lines,
            totals=totals_by_shipping[chosen.code],
            totals_by_shipping=totals_by_shipping,
            shipping_label=chosen.label,
            shipping_options=shipping,
            shipping_rules={o.code: o.describe_cost(settings) for o in shipping},
            payment_methods=payment,
            payment_hints={m.code: _payment_hint(m, shipping) for m in payment},
            voucher=voucher,
            voucher_text=describe_voucher(voucher, settings.currency) if voucher else "",
            voucher_problem=voucher_problem,
            voucher_form=voucher_form or VoucherForm(formdata=None),
            problem=problem or _unavailable(lines),
        ),
        status,
    )


def _unavailable(lines: list[CartLine]) -> str | None:
    """Which lines cannot be bought as they are, before the shopper tries."""
    what = [
        describe_shortfall(line.name, line.product.active, line.product.stock, line.quantity)
        for line in lines
        if line.problem
    ]
    if not what:
        return None
    return f"Some products cannot be ordered: {'; '.join(what)}. Please change your cart before placing the order."


def _payment_hint(method: PaymentMethod, shipping: list[ShippingOption]) -> str:
    """The method's hint, and which shipping it needs when it does not fit them all."""
    misfits = [o for o in shipping if not method.fits(o)]
    if not misfits or len(misfits) == len(shipping):
        return method.hint
    fits = " or ".join(o.label.lower() for o in shipping if o not in misfits)
    return f"{method.hint} Only with {fits}."


def _guest_checkout_allowed() -> bool:
    return current_user.is_authenticated or get_settings().guest_checkout


@bp.get("")
def show() -> Response | tuple[str, int]:
    if not _guest_checkout_allowed():
        return login_manager.unauthorized()
    if not Cart(session).items():
        flash("Your cart is empty: add something before checking out.", "info")
        return redirect(url_for("cart.show"))
    form = _new_form()
    # The address book's default, else the last order's: most people ship to the same place.
    saved = checkout_address(current_user) if current_user.is_authenticated else None
    if saved is not None:
        form = _new_form(**vars(saved))
    return render_checkout(form)


def _guest_order_limit() -> str:
    return get_settings().guest_order_limit


# Guests' attempts to order are counted per client address (SHOP_GUEST_ORDER_LIMIT), each
# before it runs: every guest order holds stock and emails an address nobody proved, and a
# count of successes only would be checked before and deducted after (parallel requests
# would pass it). Signed-in shoppers are not counted.
@bp.post("")
@limiter.limit(_guest_order_limit, scope="guest-order", exempt_when=lambda: current_user.is_authenticated)
def submit() -> Response | tuple[str, int]:
    if not _guest_checkout_allowed():
        return login_manager.unauthorized()
    form = CheckoutForm() if current_user.is_authenticated else GuestCheckoutForm()
    if not form.validate_on_submit():
        if form.checkout_token.errors or form.shown.errors:
            form.checkout_token.data = new_checkout_token()
            return render_checkout(
                form, 400, "This form was not recognised; please check it and place the order again."
            )
        return render_checkout(form, 422)
    customer = Customer.of(current_user) if current_user.is_authenticated else Customer(form.email.data)
    cart = Cart(session)
    try:
        placed = place_order(
            customer,
            cart.items(),
            form.shipping_address(),
            form.choices(session.get(VOUCHER_KEY, "")),
            form.checkout_token.data,
            form.shown_summary(),
        )
    except PriceChanged as error:  # since the page was shown: nothing was written
        return render_checkout(form, 409, str(error))
    except MethodNotOffered as error:  # e.g. cash on delivery with a pickup
        form.payment_method.errors = [str(error)]
        return render_checkout(form, 422)
    except VoucherError as error:  # used up or expired since it was applied: nothing was written
        session.pop(VOUCHER_KEY, None)
        return render_checkout(form, 409, f"{error} The voucher was removed; please check the new total.")
    except FormAlreadyUsed as error:
        form.checkout_token.data = new_checkout_token()
        return render_checkout(form, 409, str(error))
    except CheckoutError as error:  # an empty cart, or a line short of stock: nothing was written
        return render_checkout(form, 409, str(error))
    order = placed.order
    if placed.duplicate:
        flash(f"Order {order.number} was already placed; it was not ordered twice.", "info")
    else:
        cart.clear()
        session.pop(VOUCHER_KEY, None)
        flash(f"Thank you! Your order {order.number} is placed. A confirmation email is on its way.", "success")
    method = payment_method(order.payment_method)
    after = method.page_after_order(order) if method is not None else None
    if after is not None:
        return redirect(after, 303)
    if order.user_id is None:
        return redirect(url_for("orders.guest_detail", token=guest_order_token(order)), 303)
    return redirect(url_for("orders.detail", order_id=order.id), 303)


@bp.post("/voucher")
def apply_voucher() -> Response | tuple[str, int]:
    """Check a voucher code against the cart and keep it for the order (Post/Redirect/Get)."""
    if not _guest_checkout_allowed():
        return login_manager.unauthorized()
    voucher_form = VoucherForm()
    if voucher_form.validate_on_submit():
        try:
            voucher = usable_voucher(voucher_form.code.data, lines_total_cents(Cart(session).lines()))
        except VoucherError as error:
            voucher_form.code.errors = [str(error)]
        else:
            session[VOUCHER_KEY] = voucher.code
            currency = get_settings().currency
            flash(f"Voucher {voucher.code} applied: {describe_voucher(voucher, currency)}.", "success")
            return redirect(url_for("checkout.show"), 303)
    return render_checkout(_new_form(), 422, voucher_form=voucher_form)


@bp.post("/voucher/remove")
def remove_voucher() -> Response:
    if session.pop(VOUCHER_KEY, None):
        flash("The voucher was removed.", "info")
    return redirect(url_for("checkout.show"), 303)
