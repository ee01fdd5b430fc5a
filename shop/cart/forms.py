import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from shop.cart.service import MAX_QUANTITY

QUANTITY_MESSAGE = f"Enter a whole number from 1 to {MAX_QUANTITY}."


class QuantityField(IntegerField):
    """A whole number typed with the digits 0-9 (int() would also take '٣' or '1_0')."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and not re.fullmatch(r"\s*[0-9]{1,9}\s*", str(valuelist[0])):
            self.data = None
            raise ValueError("Enter a whole number, like 2.")
        super().process_formdata(valuelist)


class AddToCartForm(FlaskForm):
    quantity = QuantityField(
        "Quantity",
        default=1,
        validators=[InputRequired(QUANTITY_MESSAGE), NumberRange(1, MAX_QUANTITY, QUANTITY_MESSAGE)],
    )


class UpdateCartForm(FlaskForm):
    quantity = QuantityField(
        "Quantity",
        validators=[
            InputRequired(f"Enter a whole number from 0 to {MAX_QUANTITY}."),
            NumberRange(0, MAX_QUANTITY, f"Enter a whole number from 0 to {MAX_QUANTITY} (0 removes it)."),
        ],
    )


class RemoveFromCartForm(FlaskForm):
    """Only the CSRF token: removing a line is a POST like every other change."""
