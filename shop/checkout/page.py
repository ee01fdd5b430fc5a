"""The checkout page: the cart's lines, the totals for each shipping option, the voucher
applied, the payment methods' hints, and the form, with what the page shows in it.

The views of routes.py render it, as it first appears and again with a problem and its status.
"""

from flask import flash, render_template, session
from flask_babel import gettext as _
from flask_login import current_user

from shop.cart.service import Cart, CartLine, describe_removed, describe_shortfall, lines_by_rate, lines_total_cents
from shop.checkout.forms import CheckoutForm, GuestCheckoutForm, VoucherForm
from shop.checkout.service import new_checkout_token
from shop.checkout.shown import PriceChanged, Shown
from shop.countries import country_name, home_country
from shop.extensions import get_settings
from shop.language import in_sentence
from shop.models import Voucher
from shop.money import format_money
from shop.payment import PaymentMethod, offered_payment_methods
from shop.pricing import quote
from shop.shipping import ShippingOption, ZoneRate, offered_shipping_options
from shop.shipping_zones import NotShippable, zone_rate
from shop.vouchers import VoucherError, describe_voucher, usable_voucher, voucher_discount

VOUCHER_KEY = "voucher_code"  # the applied code, in the session until the order is placed


def guest_checkout_allowed() -> bool:
    """Whether this visitor may check out: signed in, or guests allowed (SHOP_GUEST_CHECKOUT)."""
    return current_user.is_authenticated or get_settings().guest_checkout


def choose_country(form: CheckoutForm, asked: str) -> None:
    """Set the country the page's totals are for: `asked` (the "Deliver to" choice,
    ?country=DE), else the saved address's, else the shop's own (by its locale), whichever
    comes first that a shipping zone delivers to."""
    for country in (asked, form.country.data or home_country(get_settings().locale)):
        if country in form.shippable:
            form.country.data = country
            return


def new_form(**data: str) -> CheckoutForm:
    """A fresh checkout form (the guest's, with an email field, for a visitor) with a new
    idempotency key and `data` filled in."""
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
    """The page with `form` (its `shown` field set to what the page shows), and `status`;
    `problem` above the form (else the lines that cannot be bought, if any)."""
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
    # Delivery's cost is its zone's: the country's chosen, else the default rate until it is
    # (an order is only placed at the cost the page showed: shown.py).
    zone = _zone_of(form.country.data or "")
    by_rate = lines_by_rate(lines)
    totals_by_shipping = {o.code: quote(subtotal, o, discount, settings, zone, goods_by_rate=by_rate) for o in shipping}
    # The form carries what this page shows, whatever the form it came from carried.
    form.shown.data = Shown.on_page(lines, totals_by_shipping).encode()
    form.priced_for.data = form.country.data or ""
    return (
        render_template(
            "checkout/checkout.html",
            form=form,
            lines=lines,
            totals=totals_by_shipping[chosen.code],
            totals_by_shipping=totals_by_shipping,
            shipping_label=chosen.label,
            shipping_options=shipping,
            shipping_rules={o.code: o.describe_cost(settings, zone) for o in shipping},
            payment_methods=payment,
            payment_hints={m.code: _payment_hint(m, shipping) for m in payment},
            voucher=voucher,
            voucher_text=describe_voucher(voucher) if voucher else "",
            voucher_problem=voucher_problem,
            voucher_form=voucher_form or VoucherForm(formdata=None),
            problem=problem or _unavailable(lines),
        ),
        status,
    )


def another_country(form: CheckoutForm, error: PriceChanged) -> str | None:
    """The sentence for a delivery cost that differs because the shopper chose another
    country than the page's totals were for (another shipping zone); None otherwise."""
    (shown, now), country, priced_for = error.shipping, form.country.data or "", form.priced_for.data or ""
    if shown == now or country == priced_for or _zone_of(country) == _zone_of(priced_for):
        return None  # the same zone's rate changed: PriceChanged says so
    settings = get_settings()
    return _(
        "Delivery to %(country)s costs %(cost)s, not what the page showed for another country. "
        "The totals are now for %(country)s: please check them and place the order again.",
        country=country_name(country, settings.locale),
        cost=format_money(now, settings.currency, settings.locale),
    )


def _zone_of(country: str) -> ZoneRate | None:
    try:
        return zone_rate(country, get_settings())
    except NotShippable:
        return None


def _unavailable(lines: list[CartLine]) -> str | None:
    """Which lines cannot be bought as they are, before the shopper tries."""
    what = [describe_shortfall(line.name, line.active, line.stock, line.quantity) for line in lines if line.problem]
    if not what:
        return None
    return _(
        "Some products cannot be ordered: %(what)s. Please change your cart before placing the order.",
        what="; ".join(what),
    )


def _payment_hint(method: PaymentMethod, shipping: list[ShippingOption]) -> str:
    """The method's hint, and which shipping it needs when it does not fit them all."""
    misfits = [o for o in shipping if not method.fits(o)]
    if not misfits or len(misfits) == len(shipping):
        return method.hint
    fits = _(" or ").join(in_sentence(o.label) for o in shipping if o not in misfits)
    return _("%(hint)s Only with %(fits)s.", hint=method.hint, fits=fits)
