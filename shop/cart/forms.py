from flask_wtf import FlaskForm
from wtforms.validators import InputRequired, NumberRange

from shop.cart.service import MAX_QUANTITY
from shop.forms import QuantityField

QUANTITY_MESSAGE = f"Enter a whole number from 1 to {MAX_QUANTITY}."


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
