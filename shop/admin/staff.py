"""/admin/staff (owner only): the owners and staff members, making an account a staff
member, and making a staff member a customer again (shop/staff.py)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import bp
from shop.admin.people_forms import StaffForm
from shop.models import Role
from shop.staff import AccountNotFound, RoleRefused, set_role, staff_members


def _page(form: StaffForm, status: int) -> tuple[str, int]:
    page = render_template("admin/staff.html", form=form, people=staff_members(), remove_form=StaffForm(formdata=None))
    return page, status


@bp.route("/staff", methods=["GET", "POST"])
def staff() -> BaseResponse | tuple[str, int]:
    form = StaffForm()
    if not form.validate_on_submit():
        return _page(form, 422 if form.errors else 200)
    try:
        user = set_role(form.email.data, Role.STAFF, by=current_user)
    except AccountNotFound:
        form.email.errors = [_("No account has this address: the person registers first, then you add them.")]
        return _page(form, 404)
    except RoleRefused as refused:
        form.email.errors = [str(refused)]
        return _page(form, 409)
    flash(_("%(email)s is a staff member: they see and handle the orders.", email=user.email), "success")
    return redirect(url_for("admin.staff"), 303)


@bp.post("/staff/remove")
def staff_remove() -> BaseResponse | tuple[str, int]:
    form = StaffForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        user = set_role(form.email.data, Role.CUSTOMER, by=current_user)
    except AccountNotFound:
        form.email.errors = [_("No account has this address.")]
        return _page(form, 404)
    except RoleRefused as refused:
        form.email.errors = [str(refused)]
        return _page(form, 409)
    flash(_("%(email)s is no longer a staff member.", email=user.email), "success")
    return redirect(url_for("admin.staff"), 303)
