"""The cart page's forms. The product page's "Add to cart" form is shared with the catalogue:
shop/forms.py."""

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.forms import MAX_QUANTITY, AddToCartForm, QuantityField

__all__ = ["AddToCartForm", "RemoveFromCartForm", "UpdateCartForm"]


class UpdateCartForm(FlaskForm):
    variant = IntegerField(validators=[Optional()])  # hidden: which variant of the product the line is of
    quantity = QuantityField(
        "Quantity",
        validators=[
            InputRequired(f"Enter a whole number from 0 to {MAX_QUANTITY}."),
            NumberRange(0, MAX_QUANTITY, f"Enter a whole number from 0 to {MAX_QUANTITY} (0 removes it)."),
        ],
    )


class RemoveFromCartForm(FlaskForm):
    """The CSRF token (removing a line is a POST like every other change) and, hidden,
    which variant of the product the line is of (none: a product without variants)."""

    variant = IntegerField(validators=[Optional()])
