"""/admin/vouchers: the vouchers, a form for a new one, and switching one on or off."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import bp
from shop.admin.forms import ActionForm, VoucherForm
from shop.vouchers import (
    VoucherCodeTaken,
    VoucherNotFound,
    all_vouchers,
    create_voucher,
    describe_voucher,
    set_voucher_active,
)


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
                by=current_user,
            )
        except VoucherCodeTaken:
            form.code.errors = [_("A voucher with this code exists already.")]
            status = 409
        else:
            flash(_("Voucher %(code)s created.", code=voucher.code), "success")
            return redirect(url_for("admin.vouchers"), 303)
    elif form.errors:
        status = 422
    return render_template(
        "admin/vouchers.html",
        vouchers=[(v, describe_voucher(v)) for v in all_vouchers()],
        form=form,
        action_form=ActionForm(),
    ), status


@bp.post("/vouchers/<id:voucher_id>/active")
def voucher_active(voucher_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    active = request.form.get("active") == "1"
    try:
        voucher = set_voucher_active(voucher_id, active, by=current_user)
    except VoucherNotFound:
        abort(404)
    flash(
        (_("Voucher %(code)s is active again.") if active else _("Voucher %(code)s is switched off."))
        % {"code": voucher.code},
        "success",
    )
    return redirect(url_for("admin.vouchers"), 303)
