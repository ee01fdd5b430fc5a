"""The admin's forms for a product's variants (shown on the product's page): one per
variant (its fields prefixed `v<id>-`, so every row's ids are unique on the page) and one
to add a variant (prefixed `new-`)."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from shop.catalog.rules import MAX_STOCK
from shop.catalog.variants import VariantValues
from shop.extensions import get_settings
from shop.forms import QuantityField
from shop.models import ProductVariant
from shop.models.variants import OPTION_MAX_LENGTH
from shop.money import MoneyError, format_amount, parse_money


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class VariantForm(FlaskForm):
    option = StringField(
        _l("Option"),
        filters=[_stripped],
        validators=[DataRequired(_l("Enter the option's label, like 250 g.")), Length(max=OPTION_MAX_LENGTH)],
    )
    sku = StringField(_l("SKU"), filters=[_stripped])  # the rule: shop/catalog/variants.py
    price = StringField(_l("Price"), filters=[_stripped])  # empty: the product's
    stock = QuantityField(
        _l("Stock"),
        validators=[
            InputRequired(_l("Enter the stock (0 or more).")),
            NumberRange(0, MAX_STOCK, _l("Enter a whole number from 0 to %(max)s.", max=MAX_STOCK)),
        ],
    )
    active = BooleanField(_l("On sale"), default=True)
    version = HiddenField()  # the variant's version_id when the form was filled

    price_cents: int | None = None

    def validate_price(self, field: StringField) -> None:
        if not field.data:
            self.price_cents = None
            return
        try:
            settings = get_settings()
            self.price_cents = parse_money(field.data, settings.currency, settings.locale)
        except MoneyError as error:
            raise ValidationError(str(error)) from None

    def values(self, new: bool = False) -> VariantValues:
        """What the (validated) form says the variant is; a `new` one is on sale (its form
        has no checkbox for it)."""
        active = True if new else self.active.data
        return VariantValues(self.sku.data or "", self.option.data, self.price_cents, self.stock.data, active)

    def seen_version(self) -> int | None:
        value = self.version.data or ""
        return int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None


def variant_form(variant: ProductVariant, **kwargs: Any) -> VariantForm:
    """The form of one variant, filled from it (`kwargs`: formdata=None for a page shown,
    nothing for the form posted)."""
    data = {
        "option": variant.option,
        "sku": variant.sku,
        "price": ""
        if variant.price_cents is None
        else format_amount(variant.price_cents, get_settings().currency, get_settings().locale),
        "stock": variant.stock,
        "active": variant.active,
        "version": str(variant.version_id),
    }
    return VariantForm(prefix=f"v{variant.id}", data=data, **kwargs)


def new_variant_form(**kwargs: Any) -> VariantForm:
    return VariantForm(prefix="new", data={"stock": 0, "active": True}, **kwargs)
