"""/admin/tax-rates: the owner's tax rates (list, new, change, delete), a product's rate,
and /admin/tax-report: net, tax and gross per month and rate, as a page and a CSV
(shop/tax)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from shop.admin import bp, csv_download
from shop.admin.forms import ActionForm
from shop.extensions import get_settings
from shop.models import utcnow
from shop.money import MoneyError, parse_scaled
from shop.pricing import format_rate
from shop.tax.rates import (
    TaxRateNotFound,
    TaxRateRefused,
    all_rates,
    delete_rate,
    get_rate,
    save_rate,
    set_product_rate,
)
from shop.tax.report import tax_report, tax_report_csv


class TaxRateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=80)])
    rate = StringField(_l("Rate (%)"), validators=[DataRequired(_l("Enter a rate like 19 or 7.7."))])
    rate_bp = 0

    def validate_rate(self, field: StringField) -> None:
        """0 to 100, at most two decimals, kept in hundredths of a percent (7.7 -> 770)."""
        try:
            self.rate_bp = parse_scaled(field.data or "", 2, get_settings().locale, 1000_00, "7.7")
        except MoneyError:
            raise ValidationError(_("Enter a rate like 19 or 7.7 (at most two decimals).")) from None
        if self.rate_bp > 100_00:
            raise ValidationError(_("A rate goes up to 100 %."))


class ProductTaxRateForm(FlaskForm):
    tax_rate = SelectField(_l("Tax rate"), choices=[])


def product_tax_rate_form(current: int | None) -> ProductTaxRateForm:
    """The form choosing a product's rate, its choices filled in ("" : the shop's default)."""
    form = ProductTaxRateForm(formdata=None, tax_rate=str(current or ""))
    fill_rate_choices(form)
    return form


def fill_rate_choices(form: ProductTaxRateForm) -> None:
    default = _("Shop default (%(rate)s)", rate=format_rate(get_settings().tax_rate_bp))
    form.tax_rate.choices = [("", default)] + [(str(r.id), f"{r.name} ({format_rate(r.rate_bp)})") for r in all_rates()]


@bp.route("/tax-rates", methods=["GET", "POST"])
def tax_rates() -> BaseResponse | tuple[str, int]:
    """The rates, and a form for a new one."""
    form, status = TaxRateForm(), 200
    if form.validate_on_submit():
        try:
            rate = save_rate(None, form.name.data or "", form.rate_bp, by=current_user)
        except TaxRateRefused as refused:
            form.name.errors = [str(refused)]
            status = 409
        else:
            flash(_("Tax rate %(name)s created.", name=rate.name), "success")
            return redirect(url_for("admin.tax_rates"), 303)
    elif form.errors:
        status = 422
    return render_template(
        "admin/tax_rates.html",
        rates=all_rates(),
        form=form,
        action_form=ActionForm(),
        default_bp=get_settings().tax_rate_bp,
    ), status


@bp.post("/tax-rates/<id:rate_id>")
def tax_rate_edit(rate_id: int) -> BaseResponse:
    form = TaxRateForm()
    if not form.validate_on_submit():
        abort(422, "; ".join(str(e[0]) for e in form.errors.values()))
    try:
        get_rate(rate_id)
        rate = save_rate(rate_id, form.name.data or "", form.rate_bp, by=current_user)
    except TaxRateNotFound:
        abort(404)
    except TaxRateRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for("admin.tax_rates"), 303)
    flash(_("Tax rate %(name)s saved; orders placed before keep their rate.", name=rate.name), "success")
    return redirect(url_for("admin.tax_rates"), 303)


@bp.post("/tax-rates/<id:rate_id>/delete")
def tax_rate_delete(rate_id: int) -> BaseResponse:
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired: reload the page and try again.")
    try:
        moved = delete_rate(rate_id, by=current_user)
    except TaxRateNotFound:
        abort(404)
    flash(_("Tax rate deleted; %(n)s product(s) now have the shop's default rate.", n=moved), "success")
    return redirect(url_for("admin.tax_rates"), 303)


@bp.post("/products/<id:product_id>/tax-rate")
def product_tax_rate(product_id: int) -> BaseResponse:
    form = ProductTaxRateForm()
    fill_rate_choices(form)
    if not form.validate_on_submit():
        abort(422, _("Choose one of the tax rates shown."))
    try:
        set_product_rate(product_id, int(form.tax_rate.data) if form.tax_rate.data else None, by=current_user)
    except (TaxRateNotFound, LookupError):
        abort(404)
    flash(_("Tax rate saved."), "success")
    return redirect(url_for("admin.product_edit", product_id=product_id), 303)


def _year() -> int:
    text = request.args.get("year", "")
    if not text:
        return utcnow().year
    if not (text.isascii() and text.isdigit() and 1 <= int(text[:5]) <= 9998 and len(text) <= 4):
        abort(422, _("Give the year as four digits, like 2026."))
    return int(text)


@bp.get("/tax-report")
def tax_report_page() -> str:
    year = _year()
    return render_template("admin/tax_report.html", rows=tax_report(year), year=year)


@bp.get("/tax-report.csv")
def tax_report_export() -> Response:
    year = _year()
    return csv_download(tax_report_csv(tax_report(year)), f"tax-{year}.csv")
