from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from shop.catalog.rules import CATEGORY_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, MAX_STOCK, NAME_MAX_LENGTH, sku_problem
from shop.catalog.service import ProductValues
from shop.extensions import get_settings
from shop.forms import QuantityField
from shop.models import OrderStatus, Product
from shop.money import MoneyError, format_amount, parse_money, parse_scaled


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ProductForm(FlaskForm):
    """A product's fields, with the version of the product they were filled from and the
    values as shown (hidden), so a save over a newer version is refused (409) and `rebase`
    can say what changed."""

    current_sku: str | None = None  # the product's stored SKU: keeping it is always allowed (rules.py)

    sku = StringField(_l("SKU"), filters=[_stripped])
    name = StringField(
        _l("Name"),
        filters=[_stripped],
        validators=[
            DataRequired(_l("Enter a name.")),
            Length(max=NAME_MAX_LENGTH, message=_l("At most %(max)d characters.")),
        ],
    )
    description = TextAreaField(
        _l("Description"),
        filters=[_stripped],
        validators=[Optional(), Length(max=DESCRIPTION_MAX_LENGTH, message=_l("At most %(max)d characters."))],
    )
    price = StringField(_l("Price"), validators=[DataRequired(_l("Enter a price, like 12.50."))])
    stock = QuantityField(
        _l("Stock"),
        validators=[
            InputRequired(_l("Enter the stock (0 or more).")),
            NumberRange(0, MAX_STOCK, _l("Enter a whole number from 0 to %(most)d.", most=MAX_STOCK)),
        ],
    )
    low_stock_threshold = QuantityField(
        _l("Low-stock alert at"),
        validators=[
            Optional(),
            NumberRange(0, MAX_STOCK, _l("Enter a whole number from 0 to %(most)d.", most=MAX_STOCK)),
        ],
    )
    category = StringField(
        _l("Category"),
        filters=[_stripped],
        validators=[Optional(), Length(max=CATEGORY_MAX_LENGTH, message=_l("At most %(max)d characters."))],
    )
    image = FileField(_l("Add a photo (PNG, JPEG, GIF or WebP, up to 10 MB)"))
    version = HiddenField()  # the product's version_id when the form was filled
    shown = HiddenField()  # JSON: the values the form showed then (shown_values)

    def validate_sku(self, field: StringField) -> None:
        problem = sku_problem(field.data or "", self.current_sku)
        if problem:
            raise ValidationError(problem)

    def validate_price(self, field: StringField) -> None:
        try:
            settings = get_settings()
            self.price_cents = parse_money(field.data or "", settings.currency, settings.locale)
        except MoneyError as error:
            raise ValidationError(str(error)) from None

    def values(self) -> ProductValues:
        """What the (validated) form says the product is."""
        return ProductValues(
            sku=self.sku.data,
            name=self.name.data,
            description=self.description.data or "",
            price_cents=self.price_cents,
            stock=self.stock.data,
            low_stock_threshold=self.low_stock_threshold.data,
            category=self.category.data or "",
        )

    def set_seen(self, product: Product) -> None:
        self.version.data = str(product.version_id)
        self.shown.data = json.dumps(shown_values(product))

    def seen_version(self) -> int | None:
        """The version the form was filled from; None if it is missing or not a number."""
        value = self.version.data or ""
        return int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None

    def rebase(self, current: Product) -> list[str]:
        """After ProductChanged: the sentences saying what changed since the form was shown.
        The fields the admin edited keep the admin's text, the others now show the current
        values, and the form carries the current version, so saving it again is safe."""
        then = _parse_shown(self.shown.data)
        now = shown_values(current)
        data = product_form_data(current)
        if then is None:  # an old or damaged form: say what differs from it, keep all it says
            changes = [_differs_sentence(key, now[key]) for key in data if not self._posted_is(key, now)]
        else:
            changes = [
                _change_sentence(key, then.get(key), now[key])
                for key in _SHOWN_LABELS
                if not _same(then.get(key), now[key])
            ]
            for key, value in data.items():
                if self._posted_is(key, then):  # not edited on this page: show it as it is now
                    self[key].data, self[key].raw_data = value, None
        self.set_seen(current)
        return changes or [_("This product was changed while you were editing.")]

    def _posted_is(self, key: str, values: dict[str, str]) -> bool:
        field = self[key]
        raw = field.raw_data[0] if field.raw_data else ""
        return _same(raw.strip() if isinstance(raw, str) else "", values.get(key))


def product_form_data(product: Product) -> dict[str, Any]:
    """The form's fields for `product` (as they are filled on the edit page)."""
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": format_amount(product.price_cents, get_settings().currency, get_settings().locale),
        "stock": product.stock,
        "category": product.category.name if product.category else "",
        "low_stock_threshold": product.low_stock_threshold,
    }


_SHOWN_LABELS = {
    "sku": _l("SKU"),
    "name": _l("Name"),
    "description": _l("Description"),
    "price": _l("Price"),
    "stock": _l("Stock"),
    "low_stock_threshold": _l("Low-stock alert"),
    "category": _l("Category"),
    "active": _l("On sale"),
    "image": _l("Image"),
}
_NOT_QUOTED = ("description", "image")  # too long to quote, or a file name


def shown_values(product: Product) -> dict[str, str]:
    """What the edit page shows of `product`, as text: its fields, on sale or not, its image."""
    values = {k: "" if v is None else str(v) for k, v in product_form_data(product).items()}
    values["active"] = "yes" if product.active else "no"
    values["image"] = " ".join(image.key for image in product.images) if product.id else ""
    return values


def _parse_shown(text: str | None) -> dict[str, str] | None:
    try:
        shown = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(shown, dict) or not all(isinstance(v, str) for v in shown.values()):
        return None
    return shown


def _same(a: str | None, b: str | None) -> bool:
    """The same text, whatever its line breaks (browsers send a text area's as CRLF)."""
    return a is not None and b is not None and a.replace("\r\n", "\n") == b.replace("\r\n", "\n")


def _change_sentence(key: str, then: str | None, now: str) -> str:
    label = _SHOWN_LABELS[key]
    if key in _NOT_QUOTED or then is None:
        return _("%(field)s changed while you were editing.", field=label)
    empty = _("(empty)")
    return _(
        "%(field)s changed from %(before)s to %(now)s while you were editing.",
        field=label,
        before=then or empty,
        now=now or empty,
    )


def _differs_sentence(key: str, now: str) -> str:
    label = _SHOWN_LABELS[key]
    if key == "description":
        return _("%(field)s is different now.", field=label)
    return _("%(field)s is now %(value)s.", field=label, value=now or _("(empty)"))


LAST_DATE = date(9998, 12, 31)  # a day after it must exist: a range ends at the start of the next day


def before_the_last_date(form: FlaskForm, field: Field) -> None:
    if field.data is not None and field.data > LAST_DATE:
        raise ValidationError(_("Enter a date up to %(day)s.", day=f"{LAST_DATE:%Y-%m-%d}"))


class CsvImportForm(FlaskForm):
    file = FileField(_l("CSV file (sku,name,description,price,stock,category[,version])"))


def status_choices(statuses: tuple[str, ...]) -> list[SelectChoice]:
    """The statuses as choices of a select field, with their labels (lazy: made at import,
    shown in the shop's language)."""
    return [SelectChoice(s, LazyString(OrderStatus.label_of, s)) for s in statuses]


class OrderStatusForm(FlaskForm):
    # The status the page showed: the move is refused if the order has another one now.
    from_status = HiddenField()
    to_status = SelectField(_l("New status"), choices=status_choices(tuple(OrderStatus)))
    note = StringField(
        _l("Note (e.g. the tracking number; sent to the customer when shipping)"),
        validators=[Optional(), Length(max=500, message=_l("At most %(max)d characters."))],
    )


class OrderFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    status = SelectField(_l("Status"), choices=[SelectChoice("", _l("Any")), *status_choices(tuple(OrderStatus))])
    customer = StringField(
        _l("Customer email"), validators=[Optional(), Length(max=254, message=_l("At most %(max)d characters."))]
    )
    date_from = DateField(_l("From"), validators=[Optional(), before_the_last_date])
    date_to = DateField(_l("To"), validators=[Optional(), before_the_last_date])


class VoucherForm(FlaskForm):
    min_basket_cents = 0  # when the optional field is left empty its validator does not run
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(_l("Enter a code.")),
            Length(max=40, message=_l("At most %(max)d characters.")),
            Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Letters, digits, dashes and underscores.")),
        ],
        filters=[lambda value: value.strip().upper() if isinstance(value, str) else value],
    )
    kind = SelectField(
        _l("Kind"), choices=[SelectChoice("percent", _l("Percentage off")), SelectChoice("fixed", _l("Amount off"))]
    )
    amount = StringField(_l("Amount"), validators=[DataRequired(_l("Enter the amount, like 10 or 5.00."))])
    min_basket = StringField(_l("Minimum basket"), validators=[Optional()])
    valid_from = DateField(_l("Valid from"), validators=[Optional(), before_the_last_date])
    valid_until = DateField(_l("Valid until (last day)"), validators=[Optional(), before_the_last_date])
    usage_limit = QuantityField(
        _l("Number of uses"), validators=[Optional(), NumberRange(1, 1_000_000, _l("Enter a whole number from 1."))]
    )

    def validate_amount(self, field: StringField) -> None:
        """Percent: 0.01 to 100, kept in hundredths of a percent; amount: money, in minor units."""
        settings = get_settings()
        try:
            if self.kind.data == "percent":  # at most 100 %, in hundredths; 1000 %: too large
                value = parse_scaled(field.data or "", 2, settings.locale, 1000_00, "12.5")
            else:
                value = parse_money(field.data or "", settings.currency, settings.locale)
        except MoneyError as error:
            if self.kind.data == "percent":
                raise ValidationError(_("Enter a percentage like 10 or 12.5 (at most two decimals).")) from None
            raise ValidationError(str(error)) from None
        if value <= 0:
            raise ValidationError(_("Enter more than 0."))
        if self.kind.data == "percent" and value > 100_00:
            raise ValidationError(_("A percentage goes up to 100."))
        self.amount_value = value  # 12.5 % -> 1250 hundredths of a percent; €5.00 -> 500 cents

    def validate_min_basket(self, field: StringField) -> None:
        try:
            settings = get_settings()
            self.min_basket_cents = parse_money(field.data, settings.currency, settings.locale) if field.data else 0
        except MoneyError as error:
            raise ValidationError(str(error)) from None

    def validate_valid_until(self, field: DateField) -> None:
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_("The last day comes before the first."))


class ActionForm(FlaskForm):
    """Only the CSRF token, for buttons that change one thing (deactivate, resend)."""
