"""A product's variants on its admin page: POST /admin/products/<id>/variants (add),
/variants/<variant id> (edit: label, SKU, price, stock, on sale or not) and
/variants/<variant id>/move (up or down). Routes on the admin blueprint (is_admin only);
the rules are shop/catalog/variants.py's."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.admin import bp
from shop.admin.forms import ActionForm
from shop.admin.products import product_page
from shop.admin.variant_forms import VariantForm, new_variant_form, variant_form
from shop.catalog.service import ProductNotFound, get_product
from shop.catalog.variants import (
    VariantChanged,
    VariantNotFound,
    VariantRefused,
    add_variant,
    move_variant,
    update_variant,
    variant_of,
)
from shop.models import Product


@bp.post("/products/<id:product_id>/variants")
def variant_new(product_id: int) -> Response | tuple[str, int]:
    product = _product(product_id)
    form = new_variant_form()
    if not form.validate_on_submit():
        return product_page(product, 422, new_variant=form)
    try:
        variant = add_variant(product_id, form.values(new=True), by=current_user)
    except VariantNotFound:
        abort(404)
    except VariantRefused as error:
        return _refused(product_id, form, error, new_variant=form)
    flash(_("Added the option %(option)s.", option=variant.option), "success")
    return redirect(url_for("admin.product_edit", product_id=product_id, _anchor="variants"), 303)


@bp.post("/products/<id:product_id>/variants/<id:variant_id>")
def variant_edit(product_id: int, variant_id: int) -> Response | tuple[str, int]:
    product = _product(product_id)
    variant = variant_of(product, variant_id)
    if variant is None:
        abort(404)
    form = variant_form(variant)
    if not form.validate_on_submit():
        return product_page(product, 422, edited=form, edited_id=variant_id)
    try:
        update_variant(product_id, variant_id, form.values(), form.seen_version(), by=current_user)
    except VariantNotFound:
        abort(404)
    except VariantRefused as error:
        return _refused(product_id, form, error, edited=form, edited_id=variant_id)
    except VariantChanged:  # the page again, as it is now, saying so
        flash(_("Not saved: this option changed meanwhile (a sale or another admin). Here it is now."), "error")
        return product_page(get_product(product_id), 409)
    flash(_("Saved the option %(option)s.", option=form.option.data), "success")
    return redirect(url_for("admin.product_edit", product_id=product_id, _anchor="variants"), 303)


@bp.post("/products/<id:product_id>/variants/<id:variant_id>/move")
def variant_move(product_id: int, variant_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if step is None:
        abort(400, "Move up or down.")
    try:
        move_variant(product_id, variant_id, step)
    except VariantNotFound:
        abort(404)
    return redirect(url_for("admin.product_edit", product_id=product_id, _anchor="variants"), 303)


def _product(product_id: int) -> Product:
    try:
        return get_product(product_id)
    except ProductNotFound:
        abort(404)


def _refused(product_id: int, form: VariantForm, error: VariantRefused, **forms: object) -> tuple[str, int]:
    form[error.field].errors = [str(error)]
    return product_page(get_product(product_id), 422, **forms)
