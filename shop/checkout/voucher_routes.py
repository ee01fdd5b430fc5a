"""POST /checkout/voucher and /checkout/voucher/remove: the checkout page's voucher box. The
code applied is kept in the session until the order is placed (shop/vouchers.py checks it)."""

from flask import flash, redirect, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from shop.cart.service import Cart, lines_total_cents
from shop.checkout import bp
from shop.checkout.forms import VoucherForm
from shop.checkout.page import VOUCHER_KEY, guest_checkout_allowed, new_form, render_checkout
from shop.extensions import login_manager
from shop.vouchers import VoucherError, describe_voucher, usable_voucher


@bp.post("/voucher")
def apply_voucher() -> Response | tuple[str, int]:
    """Check a voucher code against the cart and keep it for the order (Post/Redirect/Get)."""
    if not guest_checkout_allowed():
        return login_manager.unauthorized()
    voucher_form = VoucherForm()
    if voucher_form.validate_on_submit():
        try:
            voucher = usable_voucher(voucher_form.code.data, lines_total_cents(Cart(session).lines()))
        except VoucherError as error:
            voucher_form.code.errors = [str(error)]
        else:
            session[VOUCHER_KEY] = voucher.code
            flash(
                _("Voucher %(code)s applied: %(effect)s.", code=voucher.code, effect=describe_voucher(voucher)),
                "success",
            )
            return redirect(url_for("checkout.show"), 303)
    return render_checkout(new_form(), 422, voucher_form=voucher_form)


@bp.post("/voucher/remove")
def remove_voucher() -> Response:
    if session.pop(VOUCHER_KEY, None):
        flash(_("The voucher was removed."), "info")
    return redirect(url_for("checkout.show"), 303)
