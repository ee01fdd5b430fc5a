"""/admin/products: the list, a product's form (new or edit, with its image), the on-sale
switch, and the CSV import and export."""

from __future__ import annotations

import io

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from shop.admin import PAGE_SIZE, bp, csv_download
from shop.admin.forms import ActionForm, CsvImportForm, ProductForm, product_form_data
from shop.admin.tax import product_tax_rate_form
from shop.admin.variant_forms import VariantForm, new_variant_form, variant_form
from shop.audit import trail_of
from shop.catalog.images import ImageRefused
from shop.catalog.importer import ImportFailed, import_products, products_csv
from shop.catalog.service import (
    ProductChanged,
    ProductNotFound,
    SkuRefused,
    SkuTaken,
    get_product,
    products_for_admin,
    save_product,
    set_product_active,
)
from shop.extensions import get_settings
from shop.inputs import paginate
from shop.models import Product


@bp.get("/products")
def products() -> str:
    q = request.args.get("q", "").strip()[:100]
    show = request.args.get("show", "all")
    page = paginate(products_for_admin(q, show, get_settings().low_stock_threshold), PAGE_SIZE)
    return render_template("admin/products.html", page=page, q=q, show=show, action_form=ActionForm())


@bp.route("/products/new", methods=["GET", "POST"])
def product_new() -> BaseResponse | tuple[str, int]:
    return _edit_product(None)


@bp.route("/products/<id:product_id>", methods=["GET", "POST"])
def product_edit(product_id: int) -> BaseResponse | tuple[str, int]:
    try:
        return _edit_product(get_product(product_id))
    except ProductNotFound:
        abort(404)


def _edit_product(product: Product | None) -> BaseResponse | tuple[str, int]:
    form = ProductForm(data=product_form_data(product) if product else {"stock": 0})  # what is posted wins
    if product is not None:
        form.current_sku = product.sku
        if not form.is_submitted():
            form.set_seen(product)
    if not form.validate_on_submit():
        return _product_page(form, product, 422 if form.errors else 200)
    try:
        saved = save_product(
            product.id if product else None, form.values(), form.seen_version(), form.image.data, by=current_user
        )
    except ImageRefused as error:
        form.image.errors = [str(error)]
        return _product_page(form, product, 422)
    except (SkuRefused, SkuTaken) as error:
        form.sku.errors = [str(error) if isinstance(error, SkuRefused) else _("Another product has this SKU.")]
        return _product_page(form, product, 422 if isinstance(error, SkuRefused) else 409)
    except ProductChanged as error:
        changes = form.rebase(error.current)  # the admin's edits kept, the rest as it is now
        if form.image.data:
            changes.append(_("Choose the image again."))
        return _product_page(form, error.current, 409, changes)
    if saved.notes:
        flash(" ".join(saved.notes), "info")
    done = _("Created %(name)s.") if product is None else _("Saved %(name)s.")
    flash(done % {"name": saved.product.name}, "success")
    return redirect(url_for("admin.product_edit", product_id=saved.product.id), 303)


def _product_page(
    form: ProductForm,
    product: Product | None,
    status: int,
    changes: list[str] | None = None,
    new_variant: VariantForm | None = None,
    edited: VariantForm | None = None,
    edited_id: int | None = None,
) -> tuple[str, int]:
    """The product's page: its form, and (for a product that exists) its variants' forms;
    `new_variant` / `edited` (of the variant `edited_id`): a variant form posted and refused."""
    variant_forms = {}
    if product is not None:
        variant_forms = {
            v.id: edited if edited is not None and v.id == edited_id else variant_form(v, formdata=None)
            for v in product.variants
        }
    page = render_template(
        "admin/product_form.html",
        form=form,
        product=product or Product(),
        is_new=product is None,
        changes=changes,
        trail=trail_of("product", product.id) if product is not None else [],
        variant_forms=variant_forms,
        new_variant=new_variant or new_variant_form(formdata=None),
        action_form=ActionForm(formdata=None),
        tax_form=product_tax_rate_form(product.tax_rate_id) if product else None,
    )
    return page, status


def product_page(product: Product, status: int, **variant_forms: object) -> tuple[str, int]:
    """The product's page as it is now, with a variant's form that was refused (shop/admin/variants.py)."""
    form = ProductForm(formdata=None, data=product_form_data(product))
    form.current_sku = product.sku
    form.set_seen(product)
    return _product_page(form, product, status, **variant_forms)  # type: ignore[arg-type]


@bp.post("/products/<id:product_id>/active")
def product_active(product_id: int) -> BaseResponse:
    ActionForm().validate_on_submit()
    active = request.form.get("active") == "1"
    try:
        name = set_product_active(product_id, active, by=current_user)
    except ProductNotFound:
        abort(404)
    flash((_("%(name)s is on sale again.") if active else _("%(name)s is no longer sold.")) % {"name": name}, "success")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("admin.products"), 303)


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.route("/products/import", methods=["GET", "POST"])
def products_import() -> BaseResponse | tuple[str, int]:
    form = CsvImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        if not form.file.data:
            errors = [_("Choose a CSV file.")]
        else:
            try:
                text = form.file.data.stream.read().decode("utf-8-sig")
                result = import_products(io.StringIO(text, newline=""), by=current_user)
            except UnicodeDecodeError:
                errors = [_("The file is not UTF-8 text; save it as CSV (UTF-8).")]
            except ImportFailed as failure:
                errors = failure.errors
            else:
                flash(
                    _(
                        "Imported %(created)d new and updated %(updated)d product(s).",
                        created=result.created,
                        updated=result.updated,
                    ),
                    "success",
                )
                return redirect(url_for("admin.products"), 303)
    status = 422 if errors else 200
    return render_template("admin/products_import.html", form=form, errors=errors), status


@bp.get("/products/export.csv")
def products_export() -> Response:
    return csv_download(products_csv(), "products.csv")
