"""The cart page's forms. The product page's "Add to cart" form is shared with the catalogue:
shop/forms.py."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.forms import MAX_QUANTITY, AddToCartForm, QuantityField

__all__ = ["AddToCartForm", "RemoveFromCartForm", "UpdateCartForm"]


class UpdateCartForm(FlaskForm):
    variant = IntegerField(validators=[Optional()])  # hidden: which variant of the product the line is of
    quantity = QuantityField(
        _l("Quantity"),
        validators=[
            InputRequired(_l("Enter a whole number from 0 to %(most)d.", most=MAX_QUANTITY)),
            NumberRange(
                0, MAX_QUANTITY, _l("Enter a whole number from 0 to %(most)d (0 removes it).", most=MAX_QUANTITY)
            ),
        ],
    )


class RemoveFromCartForm(FlaskForm):
    """The CSRF token (removing a line is a POST like every other change) and, hidden,
    which variant of the product the line is of (none: a product without variants)."""

    variant = IntegerField(validators=[Optional()])
