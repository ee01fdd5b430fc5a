"""Form fields, forms and rules shared by several areas: a quantity typed in digits (at most
MAX_QUANTITY of one product), the product page's "Add to cart" form (the catalogue shows it,
the cart takes it), an email address, and the length a new password must have."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, RadioField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, ValidationError

MAX_QUANTITY = 99  # of one product in a cart, and so in an order
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128


class QuantityField(IntegerField):
    """A whole number typed with the digits 0-9 (int() would also take '٣' or '1_0')."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and not re.fullmatch(r"\s*[0-9]{1,9}\s*", str(valuelist[0])):
            self.data = None
            raise ValueError(_("Enter a whole number, like 2."))
        super().process_formdata(valuelist)


def email_field() -> EmailField:
    """An email address the shop can send to: required, at most 254 characters (RFC 5321's
    limit on a path), stripped and lower-cased. Letters beyond ASCII before the @ (jörg@...)
    need a mail server that offers SMTPUTF8 (RFC 6531), so they are accepted only with
    MAIL_SMTPUTF8 on; a domain beyond ASCII is always fine: it is sent as IDNA (xn--...)."""

    def sendable(form: object, field: EmailField) -> None:
        local_part = (field.data or "").rpartition("@")[0]
        if not local_part.isascii() and not current_app.config["MAIL_SMTPUTF8"]:
            raise ValidationError(
                _(
                    "This shop cannot send email to an address with letters like ö or é before the @; "
                    "please give another address."
                )
            )

    return EmailField(
        _l("Email"),
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            Email(_l("Enter an email address like name@example.com."), check_deliverability=False),
            sendable,
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )


QUANTITY_MESSAGE = _l("Enter a whole number from 1 to %(most)d.", most=MAX_QUANTITY)


class AddToCartForm(FlaskForm):
    """The product page's form (the catalogue shows it, the cart takes it)."""

    quantity = QuantityField(
        _l("Quantity"),
        default=1,
        validators=[InputRequired(QUANTITY_MESSAGE), NumberRange(1, MAX_QUANTITY, QUANTITY_MESSAGE)],
    )


class AddVariantToCartForm(AddToCartForm):
    """The product page's form for a product with variants: which one (`variant`, its id;
    the choices are set per product by add_to_cart_form) and how many."""

    variant = RadioField(_l("Option"), coerce=int, validators=[InputRequired(_l("Choose an option."))])


def add_to_cart_form(product: Any, **kwargs: Any) -> AddToCartForm:
    """The "Add to cart" form for `product` (a shop.models.Product): with a choice of its
    variants (every one it has: one no longer sold is refused by the cart, saying so) when
    it has them. `kwargs` go to the form (formdata=None: a form not filled from the request)."""
    if not product.has_variants:
        return AddToCartForm(**kwargs)
    form = AddVariantToCartForm(**kwargs)
    form.variant.choices = [(v.id, v.option) for v in product.variants]
    return form
