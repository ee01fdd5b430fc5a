from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from shop.addresses import ShippingAddress
from shop.auth.forms import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, email_field
from shop.countries import all_country_codes, country_choices
from shop.extensions import get_settings


def _current_password() -> PasswordField:
    return PasswordField(_l("Your current password"), validators=[DataRequired(_l("Enter your current password."))])


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class EmailChangeForm(FlaskForm):
    new_email = email_field()
    current_password = _current_password()


class PasswordChangeForm(FlaskForm):
    current_password = _current_password()
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Choose a new password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use %(min)d to %(max)d characters."),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(_l("Repeat the new password.")),
            EqualTo("new_password", _l("The two passwords differ.")),
        ],
    )


class DeleteAccountForm(FlaskForm):
    current_password = _current_password()


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the emailed links act on a POST (a mail scanner's GET does nothing)."""


def _required(message: str, max_length: int) -> list:
    return [DataRequired(message), Length(max=max_length, message=_l("At most %(max)d characters."))]


class AddressForm(FlaskForm):
    """The fields and rules of checkout's address (shop/checkout/forms.py)."""

    full_name = StringField(_l("Full name"), filters=[_stripped], validators=_required(_l("Enter the full name."), 120))
    address = StringField(
        _l("Street address"), filters=[_stripped], validators=_required(_l("Enter the street address."), 200)
    )
    city = StringField(
        _l("Town or city"), filters=[_stripped], validators=_required(_l("Enter the town or city."), 100)
    )
    postal_code = StringField(
        _l("Postal code"),
        filters=[_stripped],
        validators=[
            *_required(_l("Enter the postal code."), 20),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]*$", message=_l("Use letters, digits, spaces and dashes.")),
        ],
    )
    # Any country (an address book is not a promise to deliver): ISO codes, named in the
    # shop's language; checkout offers the ones a shipping zone delivers to.
    country = SelectField(_l("Country"), validators=[DataRequired(_l("Enter the country."))])
    is_default = BooleanField(_l("Fill in this address at checkout (the default)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices(all_country_codes(), get_settings().locale)

    def values(self) -> ShippingAddress:
        return ShippingAddress(
            full_name=self.full_name.data,
            address=self.address.data,
            city=self.city.data,
            postal_code=self.postal_code.data,
            country=self.country.data,
        )
