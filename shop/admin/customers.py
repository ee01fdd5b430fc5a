"""/admin/customers (owner only): what the shop holds about an email address, downloaded
as JSON (shop/customer_data.py), and erasing that customer (shop/privacy.py). Both are
POSTs, so the address stays out of URLs and the server's access logs."""

from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import bp
from shop.admin.people_forms import CustomerForm, EraseCustomerForm
from shop.customer_data import export_customer
from shop.extensions import get_settings
from shop.models import utcnow
from shop.privacy import StaffAccount, erase_customer


def _page(
    status: int = 200, export_form: CustomerForm | None = None, erase_form: EraseCustomerForm | None = None
) -> tuple[str, int]:
    page = render_template(
        "admin/customers.html",
        export_form=export_form or CustomerForm(formdata=None),
        erase_form=erase_form or EraseCustomerForm(formdata=None),
    )
    return page, status


@bp.get("/customers")
def customers() -> tuple[str, int]:
    return _page()


@bp.post("/customers/export")
def customer_export() -> Response | tuple[str, int]:
    form = CustomerForm()
    if not form.validate_on_submit():
        return _page(422, export_form=form)
    data = export_customer(form.email.data, get_settings().shop_name)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    filename = f"customer-data-{utcnow():%Y%m%d-%H%M%S}.json"  # no address in the name: it lands in Downloads
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@bp.post("/customers/erase")
def customer_erase() -> BaseResponse | tuple[str, int]:
    form = EraseCustomerForm()
    if not form.validate_on_submit():
        return _page(422, erase_form=form)
    try:
        erasure = erase_customer(form.email.data, by=current_user)
    except StaffAccount:
        form.email.errors = [_("This is the owner's or a staff member's account: take the staff role away first.")]
        return _page(409, erase_form=form)
    if not erasure.account and not erasure.orders:
        flash(_("The shop holds no account and no order for this address; nothing was erased."), "info")
    else:
        flash(
            _(
                "Erased: %(account)s, %(orders)d order(s) (amounts kept), %(addresses)d saved address(es), "
                "%(emails)d email(s).",
                account=_("the account") if erasure.account else _("no account"),
                orders=erasure.orders,
                addresses=erasure.addresses,
                emails=erasure.emails_deleted,
            ),
            "success",
        )
    return redirect(url_for("admin.customers"), 303)
