"""/admin/shipping-zones: the zones delivery goes to (shop/shipping_zones.py), a form for a
new one, editing and deleting one."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import bp
from shop.admin.forms import ActionForm
from shop.admin.zone_form import ZoneForm, zone_form_data
from shop.shipping_zones import ZoneError, ZoneNotFound, all_zones, delete_zone, get_zone, save_zone


@bp.route("/shipping-zones", methods=["GET", "POST"])
def shipping_zones() -> BaseResponse | tuple[str, int]:
    """The zones, by name, and a form for a new one."""
    form = ZoneForm()
    status = 200
    if form.validate_on_submit():
        try:
            zone = save_zone(form.values(), by=current_user)
        except ZoneError as error:
            form.name.errors = [str(error)]
            status = 409
        else:
            flash(_("Shipping zone %(name)s created.", name=zone.name), "success")
            return redirect(url_for("admin.shipping_zones"), 303)
    elif form.errors:
        status = 422
    return render_template(
        "admin/shipping_zones.html", zones=all_zones(), zone=None, form=form, action_form=ActionForm()
    ), status


@bp.route("/shipping-zones/<id:zone_id>", methods=["GET", "POST"])
def shipping_zone_edit(zone_id: int) -> BaseResponse | tuple[str, int]:
    """One zone's form, filled in; saving changes it."""
    try:
        zone = get_zone(zone_id)
    except ZoneNotFound:
        abort(404)
    form = ZoneForm() if request.method == "POST" else ZoneForm(formdata=None, data=zone_form_data(zone))
    status = 200
    if form.validate_on_submit():
        try:
            save_zone(form.values(), zone_id, by=current_user)
        except ZoneError as error:
            form.name.errors = [str(error)]
            status = 409
        except ZoneNotFound:
            abort(404)
        else:
            flash(_("Shipping zone %(name)s saved.", name=form.name.data), "success")
            return redirect(url_for("admin.shipping_zones"), 303)
    elif form.errors:
        status = 422
    return render_template("admin/shipping_zone_form.html", zone=zone, form=form), status


@bp.post("/shipping-zones/<id:zone_id>/delete")
def shipping_zone_delete(zone_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    try:
        name = delete_zone(zone_id, by=current_user)
    except ZoneNotFound:
        abort(404)
    flash(_("Shipping zone %(name)s deleted.", name=name), "success")
    return redirect(url_for("admin.shipping_zones"), 303)
