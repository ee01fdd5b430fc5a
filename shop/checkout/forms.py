from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from shop.checkout.service import ShippingAddress


def _required(label: str, max_length: int) -> list:
    return [DataRequired(f"Enter your {label}."), Length(max=max_length, message=f"At most {max_length} characters.")]


class CheckoutForm(FlaskForm):
    full_name = StringField("Full name", validators=_required("full name", 120))
    address = StringField("Street address", validators=_required("street address", 200))
    city = StringField("Town or city", validators=_required("town or city", 100))
    postal_code = StringField(
        "Postal code",
        validators=[
            *_required("postal code", 20),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]*$", message="Use letters, digits, spaces and dashes."),
        ],
    )
    country = StringField("Country", validators=_required("country", 80))
    # Made when the form is shown; the same form submitted twice makes one order.
    checkout_token = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])

    def shipping_address(self) -> ShippingAddress:
        return ShippingAddress(
            full_name=self.full_name.data.strip(),
            address=self.address.data.strip(),
            city=self.city.data.strip(),
            postal_code=self.postal_code.data.strip(),
            country=self.country.data.strip(),
        )
