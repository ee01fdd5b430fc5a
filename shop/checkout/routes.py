"""GET|POST /checkout: the order summary, shipping, payment, voucher, and placing the order.

Signed-in shoppers order as themselves; guests (SHOP_GUEST_CHECKOUT) give an email address
and reach their order through the signed link in its confirmation email. What the page
shows is page.py's; placing the order is the service's; the voucher box is voucher_routes.py.

Next: shop/checkout/service.py
"""

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.addresses import checkout_address
from shop.cart.service import Cart
from shop.checkout import bp
from shop.checkout.errors import CheckoutError, FormAlreadyUsed, MethodNotOffered, PaymentNotStarted
from shop.checkout.forms import CheckoutForm, GuestCheckoutForm
from shop.checkout.page import (
    VOUCHER_KEY,
    another_country,
    choose_country,
    guest_checkout_allowed,
    new_form,
    render_checkout,
)
from shop.checkout.service import Customer, new_checkout_token, place_order
from shop.checkout.shown import PriceChanged
from shop.countries import country_name
from shop.extensions import get_settings, limiter, login_manager
from shop.orders.links import guest_order_token
from shop.payment import payment_method
from shop.shipping_zones import NotShippable
from shop.vouchers import VoucherError


@bp.get("")
def show() -> Response | tuple[str, int]:
    if not guest_checkout_allowed():
        return login_manager.unauthorized()
    if not Cart(session).items():
        flash(_("Your cart is empty: add something before checking out."), "info")
        return redirect(url_for("cart.show"))
    form = new_form()
    # The address book's default, else the last order's: most people ship to the same place.
    saved = checkout_address(current_user) if current_user.is_authenticated else None
    if saved is not None:
        form = new_form(**vars(saved))
    choose_country(form, request.args.get("country", ""))
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
    if not guest_checkout_allowed():
        return login_manager.unauthorized()
    form = CheckoutForm() if current_user.is_authenticated else GuestCheckoutForm()
    if not form.validate_on_submit():
        if form.checkout_token.errors or form.shown.errors:
            form.checkout_token.data = new_checkout_token()
            return render_checkout(
                form, 400, _("This form was not recognised; please check it and place the order again.")
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
        return render_checkout(form, 409, another_country(form, error) or str(error))
    except MethodNotOffered as error:  # e.g. cash on delivery with a pickup
        form.payment_method.errors = [str(error)]
        return render_checkout(form, 422)
    except NotShippable as error:  # the zones changed since the form was checked
        name = country_name(error.country, get_settings().locale)
        form.country.errors = [_("We cannot deliver to %(country)s. Please choose another country.", country=name)]
        return render_checkout(form, 422)
    except VoucherError as error:  # used up or expired since it was applied: nothing was written
        session.pop(VOUCHER_KEY, None)
        return render_checkout(form, 409, _("%(why)s The voucher was removed; please check the new total.", why=error))
    except FormAlreadyUsed as error:
        form.checkout_token.data = new_checkout_token()
        return render_checkout(form, 409, str(error))
    except PaymentNotStarted as error:  # the order was cancelled and restocked; the cart stays
        form.checkout_token.data = new_checkout_token()
        return render_checkout(form, 503, str(error))
    except CheckoutError as error:  # an empty cart, or a line short of stock: nothing was written
        return render_checkout(form, 409, str(error))
    order = placed.order
    if placed.duplicate:
        flash(_("Order %(number)s was already placed; it was not ordered twice.", number=order.number), "info")
    else:
        cart.clear()
        session.pop(VOUCHER_KEY, None)
        flash(
            _("Thank you! Your order %(number)s is placed. A confirmation email is on its way.", number=order.number),
            "success",
        )
    if placed.payment_url:  # the provider's page (card): the order is paid there
        return redirect(placed.payment_url, 303)
    method = payment_method(order.payment_method)
    after = method.page_after_order(order) if method is not None else None
    if after is not None:
        return redirect(after, 303)
    if order.user_id is None:
        return redirect(url_for("orders.guest_detail", token=guest_order_token(order)), 303)
    return redirect(url_for("orders.detail", order_id=order.id), 303)
